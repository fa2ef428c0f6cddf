"""The loss methods compared by DiscrimBench, one module each (importing this registers them)."""
