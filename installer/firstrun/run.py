"""First run: detect the GPU, install the matching torch build, prove it works, report in plain words.

Runs inside the installed (embedded) Python with the standard library only, before torch exists.
The installer calls it at the end of setup; the Start-menu entry "RoomStager - Set up GPU" runs it
again, e.g. after a driver update. Exit codes: 0 ready (GPU, or processor when there is no NVIDIA
card), 3 ready but on the processor although an NVIDIA card is present, 1 not ready
(2 stays argparse's: a bad command line).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import builds, fetch, gpu, pins, verify, wheels

HERE = Path(__file__).resolve().parent
DEFAULT_INDEX = "https://download.pytorch.org/whl"
USING_PROCESSOR = 3  # exit code: works, but leaves the NVIDIA card unused (the installer explains why)


def say(text: str = "") -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="firstrun", description="Install the torch build that fits this PC."
    )
    parser.add_argument(
        "--wheels", type=Path, help="install from this folder of wheel files (no internet needed)"
    )
    parser.add_argument(
        "--build", choices=sorted(builds.ALL_BUILDS), help="install this build instead of choosing"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to install into (default: this one)"
    )
    parser.add_argument("--pins", type=Path, help="pins.json or pyproject.toml with the torch versions")
    parser.add_argument("--index-url", default=DEFAULT_INDEX, help="base of the per-build wheel indexes")
    parser.add_argument(
        "--state-dir", type=Path, default=HERE / "state", help="where result.json / message.txt go"
    )
    parser.add_argument("--force", action="store_true", help="reinstall even if a working torch is present")
    parser.add_argument(
        "--detect-only", action="store_true", help="print what was found and chosen, install nothing"
    )
    parser.add_argument("--pause", action="store_true", help="wait for Enter before closing (Start-menu use)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, detector: Callable[[], gpu.Detection] = gpu.detect) -> int:
    for stream in (sys.stdout, sys.stderr):  # a GPU name or path must never crash a cp1252 console
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    args = parse_args(argv)
    try:
        code = run(args, detector)
    except KeyboardInterrupt:
        say("Stopped.")
        code = 1
    if args.pause:
        input("\nPress Enter to close this window.")
    return code


def run(args: argparse.Namespace, detector: Callable[[], gpu.Detection]) -> int:
    versions = pins.load_pins(args.pins)
    detection = detector()
    report_detection(detection)
    choice = builds.choose(detection.gpus, forced=args.build)
    say(f"Chosen: torch {versions['torch']}+{choice.build.id} ({choice.build.cuda_text}): {choice.reason}.")
    for note in choice.notes:
        say(f"Note: {note}")
    if choice.problem:
        say(choice.problem)
    if args.detect_only:
        return 0

    candidates = [choice.build, *choice.fallbacks]
    if args.wheels is not None and not args.build:
        candidates += [b for b in builds.usable_for(choice.gpu) if b not in candidates]
    if builds.CPU not in candidates:
        candidates.append(builds.CPU)  # the app must start even when every GPU build fails

    if not args.force:
        verdict = verify.judge(verify.probe(args.python), choice.build, versions)
        if verdict.ok:
            say(f"torch {verdict.facts['version']} is already installed and works.")
            return finish(args, choice, choice.build, verdict, [])

    failures: list[str] = []
    tags = wheels.interpreter_tags()
    for build in candidates:
        files = obtain(args, build, versions, tags, failures)
        if files is None:
            continue
        if not pip_install(args.python, files):
            failures.append(f"{build.id}: pip could not install the wheels")
            continue
        verdict = verify.judge(verify.probe(args.python), build, versions)
        if verdict.ok:
            return finish(args, choice, build, verdict, failures)
        failures.append(f"{build.id}: {verdict.problem}")
        say(f"torch {build.id} does not work here: {verdict.problem}")
    # Nothing new could be set up (no internet, say): a torch that already works is kept.
    facts = verify.probe(args.python)
    for build in builds.ALL_BUILDS.values():
        if (verdict := verify.judge(facts, build, versions)).ok:
            say(f"Keeping the torch {facts['version']} that is already installed.")
            return finish(args, choice, build, verdict, failures)
    return finish(args, choice, None, None, failures)


def report_detection(detection: gpu.Detection) -> None:
    if not detection.gpus:
        say(
            "No NVIDIA graphics card found."
            + (f" ({'; '.join(detection.diagnostics)})" if detection.diagnostics else "")
        )
    for card in detection.gpus:
        cc = f"compute capability {card.cc[0]}.{card.cc[1]}" if card.cc else "compute capability unknown"
        say(
            f"Found {card.name}: driver {builds.format_version(card.driver)}, {cc}, "
            f"{card.memory_mb} MB (via {detection.source})."
        )


def obtain(
    args, build: builds.TorchBuild, versions: dict, tags: set, failures: list[str]
) -> list[Path] | None:
    """The two wheel files for `build`: from the local folder, or downloaded into the cache."""
    if args.wheels is not None:
        found = wheels.find_in_folder(args.wheels, versions, build.id, tags)
        if found is None:
            failures.append(f"{build.id}: torch/torchvision {build.id} wheels are not in {args.wheels}")
            say(f"No {build.id} wheels in {args.wheels}.")
            return None
        say(f"Using {', '.join(p.name for p in found.values())} from {args.wheels}.")
        return list(found.values())
    try:
        remote = wheels.find_on_index(args.index_url, versions, build.id, tags)
        cache = args.state_dir / "downloads"
        return [
            fetch.download(
                r.url, cache / r.wheel.filename, r.sha256, say=say, label=f"Downloading {r.wheel.filename}"
            )
            for r in remote.values()
        ]
    except (OSError, LookupError, fetch.DownloadError) as error:
        failures.append(f"{build.id}: download failed: {error}")
        say(
            f"Could not download torch {build.id}: {error}. Check the internet connection, or install from a "
            "folder of wheel files (see 'Install on Windows' in the README)."
        )
        return None


def pip_install(python: str, files: list[Path]) -> bool:
    say("Installing torch (this takes a few minutes)...")
    command = [python, "-m", "pip", "install", "--no-index", "--no-deps", "--force-reinstall"]
    command += ["--disable-pip-version-check", "--no-warn-script-location", *map(str, files)]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip():
                say("  " + line.rstrip())
    return process.returncode == 0


def finish(args, choice: builds.Choice, installed, verdict, failures: list[str]) -> int:
    """Write result.json and message.txt (the installer shows it) and pick the exit code."""
    if installed is None:
        code, message = 1, "RoomStager could not set up torch. " + " ".join(failures[-2:])
    elif installed.cuda is not None:
        code = 0
        message = f"RoomStager will use your {verdict.facts.get('device', 'NVIDIA graphics card')} (torch {verdict.facts['version']})."
        message = " ".join([message, *choice.notes])
    elif choice.gpu is None:
        code, message = (
            0,
            "No NVIDIA graphics card was found: RoomStager will work on the processor, which is much slower.",
        )
    else:
        code = USING_PROCESSOR
        message = choice.problem or (
            "RoomStager could not use your NVIDIA graphics card and will work on the processor. "
            + " ".join(failures[-1:])
        )
    args.state_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "ok": installed is not None,
        "build": installed.id if installed else None,
        "gpu": choice.gpu.name if choice.gpu else None,
        "torch": verdict.facts if verdict else None,
        "failures": failures,
        "message": message,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (args.state_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (args.state_dir / "message.txt").write_text(message + "\n", encoding="utf-8")
    # The installer's message box reads UTF-16LE (NSIS FileReadUTF16LE), so non-ASCII names survive.
    (args.state_dir / "message-utf16le.txt").write_bytes(message.encode("utf-16-le"))
    if installed is not None:  # 2-3 GB no longer needed; after a failure they let a retry resume
        shutil.rmtree(args.state_dir / "downloads", ignore_errors=True)
    say(message)
    return code
