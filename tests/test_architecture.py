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
    """The app's own modules are imported at the top (so every arrow is plain to see); an import inside a
    function is for loading a heavy library lazily, and one of the app's modules only when that is why,
    with a comment saying so ("heavy: ...") on the line or just above."""
    import ast

    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                if not any(n.split(".")[0] == "app" for n in names):
                    continue
                said = " ".join(lines[max(0, node.lineno - 3):node.end_lineno])
                if "heavy:" not in said:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {names[0]}")
    assert not offenders, "import these at the top of the module (or say why not):\n" + "\n".join(offenders)
