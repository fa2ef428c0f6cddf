"""One module per ``discrimbench`` sub-command (see :mod:`benchmark.cli`)."""
