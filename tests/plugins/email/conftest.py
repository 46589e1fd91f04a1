"""Helpers for the e-mail sink tests: throwaway TLS files (reused from the SIEM tests' module)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "siem"))
