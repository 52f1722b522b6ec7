"""corral.harness (being built)."""
