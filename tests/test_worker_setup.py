"""Scans integrate dσ/dE_R once and ship it: every worker runs the scan's setup before its
first point, and templates built from a shipped spectrum equal a fresh computation."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cevns_fit import response
from cevns_fit.detector import load_detector_model
from cevns_fit.executors import iter_dask, iter_local
from cevns_fit.templates import build_templates

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"
_MARK: dict[str, str] = {}


def mark(token: str) -> None:
    """A worker setup: remember ``token`` in this process."""
    _MARK["token"] = token


def report(point: dict) -> dict:
    """A point function: which process ran it and what its setup left there."""
    return {**point, "pid": os.getpid(), "token": _MARK.get("token")}


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_every_worker_runs_the_setup_before_its_points(executor):
    points = iter([{"i": i} for i in range(12)])
    setup = partial(mark, "shipped")
    if executor == "local":
        stream = iter_local(report, points, 2, 2, setup)
    else:
        stream = iter_dask(report, points, 2, None, 2, setup)
    records = list(stream)
    assert sorted(r["i"] for r in records) == list(range(12))
    assert all(r["token"] == "shipped" for r in records)
    assert os.getpid() not in {r["pid"] for r in records}  # ran in worker processes


def test_templates_from_a_shipped_spectrum_equal_a_fresh_computation(monkeypatch):
    model = load_detector_model(DETECTORS / "ge_array.toml")
    response._RECOIL_CACHE.clear()
    fresh = build_templates(model)
    entries = response.recoil_cache_entries(model)
    assert len(entries) == 1
    response._RECOIL_CACHE.clear()
    response.preload_recoil_cache(entries)

    def refuse(*args):
        raise AssertionError("dσ/dE_R integrated again in spite of the shipped spectrum")

    monkeypatch.setattr(response, "_recoil_counts", refuse)
    shipped = build_templates(model)
    for a, b in zip(fresh.channels[0].samples, shipped.channels[0].samples, strict=True):
        np.testing.assert_array_equal(a.counts, b.counts)


def sleepy(point: dict) -> dict:
    """A point function that takes long enough for its parent to be killed meanwhile."""
    import time

    time.sleep(0.3)
    return {**point, "pid": os.getpid()}


_ORPHAN_SCRIPT = """
import sys, time
from cevns_fit.executors import iter_local
sys.path.insert(0, sys.argv[1])
from test_worker_setup import sleepy
stream = iter_local(sleepy, iter([{"i": i} for i in range(400)]), 2, 1)
seen = set()
for record in stream:
    seen.add(record["pid"])
    if len(seen) == 2:
        print(" ".join(map(str, sorted(seen))), flush=True)
        time.sleep(60)
"""


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, waiting to be reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_workers_exit_when_the_scan_process_is_killed():
    """A scan killed with -9 runs no cleanup: its workers (forked by multiprocessing's fork
    server, so not its children) must notice and exit instead of computing for minutes."""
    import signal
    import subprocess
    import sys
    import time

    with subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    ) as parent:
        try:
            workers = [int(p) for p in parent.stdout.readline().split()]
            assert len(workers) == 2 and parent.pid not in workers
            assert all(_alive(pid) for pid in workers)
        finally:
            parent.send_signal(signal.SIGKILL)
            parent.wait()
    deadline = time.monotonic() + 20.0
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
