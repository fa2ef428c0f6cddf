"""Model zoo (registered in MODELS)."""
