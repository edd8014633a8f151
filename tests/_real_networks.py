"""Shared by the slow real-network tests: benchmarks/real_networks.py's harness (``rn``), the marks that skip them
with the reason when the optional wheels are absent (CI without the ``real``/``compare`` extras), and the tolerance."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import real_networks as rn

MISSING = rn.available()
MARKS = [pytest.mark.slow,
         pytest.mark.skipif(MISSING is not None, reason=f"needs {MISSING} (pip install -e '.[real,compare]' requests)")]
TOL = 1e-4

__all__ = ["MARKS", "MISSING", "TOL", "rn"]
