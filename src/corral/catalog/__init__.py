"""corral.catalog (being built)."""
