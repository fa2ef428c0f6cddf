"""Dataset adapters and label-noise generators (importing this registers them)."""
