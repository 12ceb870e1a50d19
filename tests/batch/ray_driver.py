"""Run `main.py batch ... --ray auto` on a Ray started here with ray.init(num_cpus=2), as a
script would on a workstation: the tests' "local Ray". Its exit code is the batch's."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's app, for the driver and its workers
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported: listeners on 127.0.0.1

import ray  # noqa: E402

from app.cli import main  # noqa: E402

if __name__ == "__main__":
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code = main(sys.argv[1:])
    finally:
        ray.shutdown()
    sys.exit(code)
