"""``python -m benchmark`` is the same as the ``discrimbench`` command."""

from __future__ import annotations

import sys

from benchmark.cli import main

sys.exit(main())
