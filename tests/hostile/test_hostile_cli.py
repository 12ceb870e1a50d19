"""The hostile-input table of the commands (cli_cases.py), run through the real entry point in a
subprocess: each row exits with its code and says its message, no input changes, and no payload
in a model file runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.cli_cases import CASES, MARK, world

HERE = Path(__file__).resolve().parent


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, tiny_models):
    os.environ["ROOMSTAGER_HOSTILE_TINY"] = str(tiny_models)
    runs, before = [], []
    for i, case in enumerate(CASES):
        folder = world(tmp_path_factory.mktemp(f"case{i:02d}"))
        argv = [str(a) for a in case.args(folder)]
        before.append({n: _digest(folder / n) for n in case.untouched})
        runs.append({"cwd": str(folder), "argv": argv})
    spec, results = tmp_path_factory.mktemp("table") / "cases.json", None
    spec.write_text(json.dumps(runs), encoding="utf-8")
    out = spec.with_name("results.json")
    proc = subprocess.run([sys.executable, str(HERE / "run_cli_cases.py"), str(spec), str(out)],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    yield {case.name: (run, res, snap) for case, run, res, snap in zip(CASES, runs, results, before, strict=True)}
    for run in runs:  # the read-only folder must be deletable
        ro = Path(run["cwd"]) / "ro"
        if ro.exists():
            ro.chmod(0o755)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_command_line(outcomes, case):
    run, result, before = outcomes[case.name]
    folder = Path(run["cwd"])
    assert result["rc"] == case.rc, f"{' '.join(run['argv'])}\n{result}"
    text = result["stderr"] + result["stdout"]
    assert case.says in text, f"{case.says!r} not in:\n{text}"
    assert "Traceback" not in result["stderr"]
    assert {n: _digest(folder / n) for n in case.untouched} == before, "an input changed"
    assert not (folder / MARK).exists(), "a payload inside a model file ran"
