"""`train-lora --processes N`: the same command, data-parallel under `accelerate launch`.

On GPUs each process takes one card; on the CPU the processes share the cores over gloo.
Two traps measured with accelerate 1.15: `--cpu --num_processes 2` silently runs one
process (so the CPU also goes through `--multi_gpu`, and the trainer asks for
`Accelerator(cpu=True)`), and the rendezvous listens on every interface unless told
otherwise: every listener here is bound to 127.0.0.1 (the rendezvous address, and
gloo's own sockets through the loopback interface).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

MAIN = Path(__file__).resolve().parents[3] / "main.py"


def under_launcher() -> bool:
    """True in a process that `accelerate launch` (torchrun) started."""
    return "LOCAL_RANK" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_interface() -> str | None:
    if sys.platform.startswith("linux"):
        return "lo"
    if sys.platform == "darwin":
        return "lo0"
    return None  # Windows: gloo picks the interface of 127.0.0.1 from the rendezvous address


def command(argv: list[str], processes: int, port: int, config: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), "--multi_gpu",
            "--num_processes", str(processes), "--num_machines", "1", "--machine_rank", "0",
            "--main_process_ip", "127.0.0.1", "--main_process_port", str(port), "--mixed_precision", "no",
            "--dynamo_backend", "no", str(MAIN), *argv]


def environment(processes: int, device: str) -> dict:
    env = dict(os.environ)
    nic = loopback_interface()
    if nic:
        env.setdefault("GLOO_SOCKET_IFNAME", nic)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # CPU processes must not grab a GPU
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // processes)))
    if sys.platform == "win32":
        env.setdefault("USE_LIBUV", "0")  # torch's TCPStore has no libuv backend on Windows
    env["PYTHONUNBUFFERED"] = "1"
    return env


def launch(argv: list[str], processes: int, device: str) -> int:
    """Run `main.py ARGV` in `processes` processes; returns the launcher's exit code."""
    with tempfile.TemporaryDirectory(prefix="roomstager-accelerate-") as tmp:
        # our own (empty) accelerate config, so a user's default config cannot add DeepSpeed or FSDP
        config = Path(tmp) / "accelerate.yaml"
        config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\n", encoding="utf-8")
        return subprocess.call(command(argv, processes, free_port(), config), env=environment(processes, device))


def without_processes(argv: list[str]) -> list[str]:
    """The command line minus `--processes N` (the launched processes run the plain command)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--processes":
            skip = True
            continue
        if a.startswith("--processes="):
            continue
        out.append(a)
    return out
