"""corral.api (being built)."""
