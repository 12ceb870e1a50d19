"""A real screenshot of the window with a staged result, on an X server (Xvfb). With
ROOMSTAGER_UPDATE_SCREENSHOT=1 it refreshes docs/screenshot.png for the README. Skipped only
when Xvfb is missing and CI is unset.

CI needs: apt-get install -y xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
          libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
APT = ("xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 "
       "libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0")


def free_display() -> int:
    for n in range(90, 190):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb():
    exe = shutil.which("Xvfb")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"Xvfb is missing on CI: apt-get install -y {APT}")
        pytest.skip(f"Xvfb is not installed (apt-get install -y {APT})")
    n = free_display()
    proc = subprocess.Popen([exe, f":{n}", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("Xvfb did not start")
            time.sleep(0.1)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_screenshot_of_the_window_with_a_staged_result(xvfb, tmp_path):
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", ROOMSTAGER_DATA=str(tmp_path / "data"),
               ROOMSTAGER_TEST_SETTINGS=str(tmp_path / "settings"))
    out = tmp_path / "screenshot.png"
    # a real room (shared/rooms, Apache-2.0) when it is beside the checkout, else the bundled sample
    real = ROOT.parent / "shared" / "rooms" / "sunroom.jpg"
    photo = [str(real)] if real.is_file() else []
    proc = subprocess.run([sys.executable, str(HERE / "screenshot_child.py"), str(out), *photo], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "SCREENSHOT" in proc.stdout, proc.stderr[-3000:]
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    # the dark theme: the window's chrome is dark, not Qt's default light grey
    assert QImage.pixelColor(image, 5, 995).lightness() < 80
    if os.environ.get("ROOMSTAGER_UPDATE_SCREENSHOT"):  # refresh the README's picture on request only
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(out, SCREENSHOT)
