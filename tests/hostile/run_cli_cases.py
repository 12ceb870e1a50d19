"""Runs command lines through the real entry point (`app.cli.main`) in one process and reports
each one's exit code and stderr as JSON: the hostile table costs one start-up, not one per row.

    python tests/hostile/run_cli_cases.py CASES.json RESULTS.json
CASES.json: [{"cwd": FOLDER, "argv": [...]}, ...]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.cli import main  # noqa: E402


def run(case: dict) -> dict:
    os.chdir(case["cwd"])
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(case["argv"])
        except SystemExit as exc:  # argparse's --help / --version
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - a crash is a result too
            rc = f"crashed: {exc.__class__.__name__}: {exc}"
    return {"rc": rc, "stderr": err.getvalue(), "stdout": out.getvalue()}


if __name__ == "__main__":
    cases = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(sys.argv[2]).write_text(json.dumps([run(c) for c in cases]), encoding="utf-8")
