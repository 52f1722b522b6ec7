"""corral.bench (being built)."""
