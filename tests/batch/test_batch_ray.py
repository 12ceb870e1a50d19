"""The same batch on Ray: a Ray started in the driver (ray.init(num_cpus=2)) and a head started
on 127.0.0.1 with `ray start`. Both must give the local batch's outputs bit for bit, replace an
actor that dies, and keep every listener on the loopback interface."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.batch.conftest import COMMON, ROOT, manifest, one_thread_env, pixels

pytest.importorskip("ray", reason="the cluster extra is part of the dev install: pip install -e '.[dev]'")
psutil = pytest.importorskip("psutil")

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
TAGS: dict[str, str] = {}  # tag -> the cluster's Ray folder (where `ray start` ran)


def ray_env(tag: str, tmp: str) -> dict:
    """One thread per worker, Ray's files under `tmp`, its token in the environment (nothing in ~/.ray),
    and a tag that marks every process of this test's cluster."""
    return one_thread_env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_TMPDIR=tmp, RAY_AUTH_MODE="token",
                          RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0", RS_TEST_TAG=tag)


def tagged(tag: str) -> list:
    """This test's cluster: processes with its tag in their environment, or working in its Ray folder
    (Ray's agents rename themselves over their environment, so the tag alone misses them)."""
    out = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("RS_TEST_TAG") == tag or proc.cwd() == TAGS.get(tag):
                out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def stop_tagged(tag: str, wait_s: float = 30.0) -> None:
    """End the test cluster's processes by id (never `ray stop`: it ends every Ray on the machine).
    Ray's agents can still be starting while the others go, so stop only after two quiet looks."""
    deadline, quiet = time.monotonic() + wait_s, 0
    while quiet < 2 and time.monotonic() < deadline:
        procs = tagged(tag)
        quiet = 0 if procs else quiet + 1
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=2)
        time.sleep(1.0)
    assert not tagged(tag), "processes of the test cluster are still running"


class ListenerWatch(threading.Thread):
    """Every TCP port the tagged processes listen on, polled while the run lasts (what `ss -ltnp` shows)."""

    def __init__(self, tag: str):
        super().__init__(daemon=True)
        self.tag, self.seen, self.stop = tag, set(), threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = {p.pid for p in tagged(self.tag)}
            for c in psutil.net_connections(kind="tcp"):
                if c.status == psutil.CONN_LISTEN and c.pid in pids:
                    self.seen.add((c.laddr.ip, c.laddr.port))
            self.stop.wait(0.5)


def check_outputs(out: Path, reference: Path) -> dict:
    m = manifest(out)
    assert len(m["items"]) == 12 and all(e["status"] == "done" for e in m["items"].values())
    for entry in m["items"].values():
        name = entry["outputs"][0]["file"]
        assert np.array_equal(pixels(out / name), pixels(reference / name)), f"{name}: Ray and local differ"
    return m


@pytest.mark.slow
def test_ray_init_batch_matches_local_and_survives_an_actor_death(shoot, local_batch, single_runs, tmp_path):
    tag = secrets.token_hex(6)
    tmp = tempfile.mkdtemp(prefix="rs-ray-")  # short: Ray's socket paths must fit in 107 characters
    marker = tmp_path / "died.txt"
    env = ray_env(tag, tmp) | {"ROOMSTAGER_BATCH_TEST_DIE": f"room05-stage:{marker}"}
    out = tmp_path / "out"
    watch = ListenerWatch(tag)
    watch.start()
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "batch" / "ray_driver.py"), "batch", str(shoot),
                           "-o", str(out), *COMMON, "--ray", "auto", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    watch.stop.set()
    watch.join()
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 12 and all(x["status"] == "done" for x in lines)
    m = check_outputs(out, local_batch)
    for entry in m["items"].values():  # and so equal to single `stage` runs too
        name = entry["outputs"][0]["file"]
        assert np.array_equal(pixels(out / name), pixels(single_runs / name))
    dead = marker.read_text()
    assert m["items"]["room05-stage"]["worker"] != dead, "a new actor made the item the dead one held"
    assert len({e["worker"] for e in m["items"].values()}) >= 2, "two actors shared the work"
    assert watch.seen and {ip for ip, _ in watch.seen} <= LOOPBACK, watch.seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_batch_on_a_head_started_on_loopback(shoot, local_batch, tmp_path):
    tag = secrets.token_hex(6)
    tmp = tempfile.mkdtemp(prefix="rs-ray-")
    TAGS[tag] = tmp
    env = ray_env(tag, tmp)
    port = free_port()
    ray_cli = str(Path(sys.executable).parent / "ray")
    watch = ListenerWatch(tag)
    try:
        subprocess.run([ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                        "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={tmp}", "--disable-usage-stats"],
                       cwd=tmp, env=env, check=True, capture_output=True, timeout=120)
        watch.start()
        out = tmp_path / "out"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "batch", str(shoot), "-o", str(out), *COMMON,
                               "--ray", f"127.0.0.1:{port}", "--workers", "2"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "12 of 12 done" in proc.stderr and time.perf_counter() - t0 < 900
        m = check_outputs(out, local_batch)
        assert len({e["worker"] for e in m["items"].values()}) == 2
    finally:
        watch.stop.set()
        if watch.is_alive():
            watch.join()
        stop_tagged(tag)
    assert watch.seen and {ip for ip, _ in watch.seen} <= LOOPBACK, watch.seen
    assert any(p == port for _, p in watch.seen), "the head's port was seen listening"
