"""Fixtures of the SIEM sink tests; helper modules here are prefixed ``siem_`` (no clashes)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
