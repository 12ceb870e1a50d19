"""The layer contract of DESIGN.md (ui -> engine -> imaging; no Qt below the window)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = Path(sys.executable).parent / ("lint-imports.exe" if sys.platform == "win32" else "lint-imports")
    proc = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_engine_imports_without_qt():
    code = ("import sys; import app.engine.worker, app.engine.jobs, app.cli, app.imaging.io; "
            "assert not any(m.startswith(('PySide6', 'qasync')) for m in sys.modules), 'Qt imported'; "
            "assert 'torch' not in sys.modules, 'torch imported at start-up'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_ruff_is_clean():
    exe = Path(sys.executable).parent / ("ruff.exe" if sys.platform == "win32" else "ruff")
    proc = subprocess.run([str(exe), "check", "app", "tests", "scripts", "installer", "main.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_engine_top_level_holds_only_the_seam():
    """Requests, checks, results, events, the job table and the worker; every other module lives in a room."""
    seam = {"__init__", "checks", "results", "events", "jobs", "worker"}
    top = {p.stem for p in (ROOT / "app" / "engine").glob("*.py")}
    assert top <= seam, f"engine modules outside a room: {sorted(top - seam)}"
    assert (ROOT / "app" / "engine" / "requests" / "__init__.py").is_file(), "the requests are part of the seam"


def test_no_file_in_app_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "app").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, f"split these into files with one job each: {long}"


def test_imports_inside_functions_are_only_heavy_libraries():
    """The app's own modules are imported at the top (so import-linter sees every arrow); a function-level
    import is for loading a heavy library lazily."""
    import ast

    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "app":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
                elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "app" for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "import these at the top of the module:\n" + "\n".join(offenders)
