"""``python -m benchmark`` is the same as the ``discrimbench`` command."""

from __future__ import annotations

import sys

from benchmark.cli import main

if __name__ == "__main__":  # spawned worker processes import this module as __mp_main__
    sys.exit(main())
