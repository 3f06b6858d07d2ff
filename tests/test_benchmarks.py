"""The benchmark scripts run and end with the figure they promise (the figure itself is not asserted)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_input_pipeline_benchmark_prints_its_ratio_last():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "input_pipeline.py"), "--reps", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"tuned / naive = \d+\.\d\dx", lines[-1]), lines[-1]
    assert any(line.startswith("naive: median") for line in lines)


def test_engine_overhead_benchmark_prints_its_ratio_last():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "engine_overhead.py"), "--reps", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"fit / hand = \d+\.\d{3}x", lines[-1]), lines[-1]
