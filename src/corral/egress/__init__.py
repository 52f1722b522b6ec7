"""corral.egress (being built)."""
