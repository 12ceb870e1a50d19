"""The Windows workflow can only run on GitHub; here we check it says what it must and points at real files."""

from __future__ import annotations

import re

import pytest
from installer_testkit import ROOT

yaml = pytest.importorskip("yaml")
WORKFLOW = ROOT / ".github" / "workflows" / "windows-installer.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_windows_job_builds_the_real_installer(workflow: dict) -> None:
    job = workflow["jobs"]["windows"]
    assert job["runs-on"].startswith("windows-")
    run = scripts(job)
    assert "installer/build.py --python-embed" in run and "--stub" not in run
    assert re.search(r"python-3\.11\.\d+-embed-amd64\.zip", workflow["env"]["PYTHON_EMBED_URL"])


def test_windows_job_smoke_tests_what_a_user_does(workflow: dict) -> None:
    run = scripts(workflow["jobs"]["windows"])
    for needed in ('"/S"', "/D=$dir", "import torch", "--version", "stage $photo --models tiny", "_?="):
        assert needed in run, needed
    assert "Room Stäger" in run  # installs into a path with a space and a non-ASCII letter
    assert "deleted downloaded models" in run


def test_linux_job_runs_the_drift_check_and_the_stub_build(workflow: dict) -> None:
    job = workflow["jobs"]["checks"]
    run = scripts(job)
    assert "locks.py --check" in run and "build.py --stub" in run and "nsis" in run
    assert workflow["jobs"]["windows"]["needs"] == "checks"


def test_workflow_runs_when_the_installer_or_app_changes(workflow: dict) -> None:
    on = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as True
    for event in ("push", "pull_request"):
        assert {"installer/**", "app/**", "pyproject.toml"} <= set(on[event]["paths"])


def test_referenced_files_exist() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for path in set(re.findall(r"installer/[\w/.-]+\.py", text)):
        assert (ROOT / path).is_file(), path
