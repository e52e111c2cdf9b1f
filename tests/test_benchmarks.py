"""The benchmark suite still runs: every scenario at its smallest, every figure named.

Figures are a benchmark's business, never assertions here: this only keeps the code from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import METRICS, child_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_scenario_runs_and_names_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert all(set(item) == {"scenario", "n", "metric", "value", "unit"} for item in figures)
    assert set(METRICS) <= {item["metric"] for item in figures}
    assert "| scenario" in done.stdout  # the table
    assert not list(tmp_path.glob("companion-bench-*"))  # scratch databases removed
