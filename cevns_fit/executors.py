"""Where scan points run: local processes or a ``dask.distributed`` cluster.

Both executors take a picklable ``func(point) -> record`` and a lazy iterator of points, keep
at most :data:`IN_FLIGHT_PER_WORKER` points per worker in flight (a 10⁶-point grid starts at
once and the queues stay small), and yield records in the order they finish. Local workers
are fresh processes (forked from a fork server that preloads the scan's modules, or
spawned) that ignore Ctrl-C (the parent stops them) and exit on their own when
the parent dies. A ``--scheduler`` that does not answer is refused within seconds; the local
cluster listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from itertools import chain, islice

from cevns_fit.errors import InputError

__all__ = [
    "DASK_CONNECT_TIMEOUT_S",
    "IN_FLIGHT_PER_WORKER",
    "WORKER_PRELOAD",
    "apply_chunk",
    "bounded",
    "chunk_size",
    "chunked",
    "dask_client",
    "iter_dask",
    "iter_local",
    "process_context",
]

# Points in flight per worker: enough to keep every worker busy, few enough that neither the
# executor's queues nor the parent's memory grow with the grid.
IN_FLIGHT_PER_WORKER = 2
# How long a --scheduler address may take to answer before the scan is refused.
DASK_CONNECT_TIMEOUT_S = 5.0


def _worker_init(setup: Callable[[], None] | None = None) -> None:
    """In each worker process: leave Ctrl-C to the parent (which stops the pool), exit
    when the parent is gone (killed with -9, the pool's pipes would otherwise keep the
    workers alive for minutes), use one BLAS thread, and run ``setup`` (e.g. preload caches
    the parent filled)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # one BLAS thread per worker process (dask's workers do the same through the
    # environment): the workers already fill the cores, extra BLAS threads only contend
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    if setup is not None:
        setup()

    import multiprocessing

    # the process that made the pool (a fork server's workers are its children, not ours),
    # through the sentinel every spawned or fork-server child has
    parent = multiprocessing.parent_process()

    def watch() -> None:
        parent.join()  # returns when the parent is gone
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="cevns-fit-parent-watch").start()


# What a scan worker imports before its first point (the scan, templates and inference
# modules with numpy, scipy and pyhf under them: ~1 s of CPU per process). A fork server
# imports them once and forks every worker from that state.
WORKER_PRELOAD = ("cevns_fit.scan", "cevns_fit.templates", "cevns_fit.inference")


def process_context(extra: tuple[str, ...] = ()):
    """The multiprocessing context of worker processes: a fork server preloading
    :data:`WORKER_PRELOAD` (after the modules ``extra``) where the platform has one (Linux,
    macOS), else spawn. Both start from a clean interpreter, never from a fork of the parent,
    so they are safe whatever threads the parent runs (a dask scheduler, progress bars); the
    fork server pays the imports once instead of once per worker."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*extra, *WORKER_PRELOAD])
    return context


def chunk_size(total: int, workers: int, *, largest: int = 16) -> int:
    """Points per task: a few tasks per worker (so all workers stay busy to the end) but not
    one task per point (each task costs a round trip, more on a dask cluster), at most
    ``largest`` (so progress and resumable results stay fine-grained)."""
    return max(1, min(largest, total // (4 * max(workers, 1))))


def chunked(points: Iterator[dict], size: int) -> Iterator[list[dict]]:
    """Consecutive points in lists of ``size`` (the last may be shorter), lazily."""
    while chunk := list(islice(points, size)):
        yield chunk


def apply_chunk(func: Callable[[dict], dict], chunk: list[dict]) -> list[dict]:
    """``func`` on every point of a chunk, in one task (points of a chunk share the worker's
    caches: templates along an exposure axis, true-recoil spectra)."""
    return [func(point) for point in chunk]


def bounded(submit, points: Iterator[dict], limit: int, wait_any) -> Iterator:
    """Submit ``points`` lazily with at most ``limit`` in flight; yield finished futures."""
    pending = set()
    for point in islice(points, limit):
        pending.add(submit(point))
    while pending:
        done, pending = wait_any(pending)
        for future in done:
            point = next(points, None)
            if point is not None:
                pending.add(submit(point))
            yield future


def iter_local(
    func: Callable[[dict], dict],
    todo: Iterator[dict],
    workers: int | None,
    chunk: int = 1,
    setup: Callable[[], None] | None = None,
) -> Iterator:
    """``func(point)`` for every point of ``todo``, in this process (one worker or one point)
    or on a pool of worker processes (:func:`process_context`) taking ``chunk`` points per
    task, results in the order they finish. ``setup`` (picklable) runs once in each worker
    process before its first point (in this process it is not needed: the parent's caches
    are already there)."""
    workers = workers or os.cpu_count() or 1
    first = list(islice(todo, 2))
    todo = chain(first, todo)
    if workers == 1 or len(first) < 2:  # no process pool for a single point
        for point in todo:
            yield func(point)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=process_context(),
        initializer=_worker_init,
        initargs=(setup,),
    )
    finished = False
    try:
        futures = bounded(
            lambda c: pool.submit(apply_chunk, func, c),
            chunked(todo, chunk),
            IN_FLIGHT_PER_WORKER * workers,
            lambda fs: wait(fs, return_when=FIRST_COMPLETED),
        )
        for future in futures:
            yield from future.result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # interrupted or failed: do not wait for the points in flight
            # no public API before Python 3.14 (terminate_workers) stops running workers
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                with contextlib.suppress(Exception):
                    process.terminate()


def dask_client(scheduler: str | None, workers: int | None):
    """(client, cluster): a Client of ``scheduler`` (refused within seconds if nothing answers
    there) or of a new LocalCluster on 127.0.0.1 (cluster None for an external scheduler)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a declared dependency
        raise InputError(
            "--executor dask needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    if scheduler:
        _probe_scheduler(scheduler)
        try:
            return Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise InputError(
                f"--scheduler {scheduler}: no dask scheduler answered within "
                f"{DASK_CONNECT_TIMEOUT_S:g} s ({reason})"
            ) from None
    import dask

    # dask's workers trim malloc's free memory back to the system above 64 kB: every numpy
    # temporary of a template (~0.1–1 MB) is then mapped and unmapped again, which cost
    # these scans a third of their time in the kernel; keep glibc's own threshold
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    settings = {
        "distributed.nanny.pre-spawn-environ": environ,
        # a local cluster has no dashboard to show them: no stack samples every 10 ms
        "distributed.worker.profile.enabled": False,
    }
    # dask spawns each worker (~1–2 s of imports each, distributed's and ours): start them
    # from the same fork server as the local executor's instead, unless configured otherwise
    if dask.config.get("distributed.worker.multiprocessing-method") == "spawn":
        settings["distributed.worker.multiprocessing-method"] = _dask_start_method()
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count(),
            threads_per_worker=1,
            host="127.0.0.1",  # never listen beyond this machine
            dashboard_address=None,
        )
    return Client(cluster), cluster


def _dask_start_method() -> str:
    """ "forkserver" preloading distributed and :data:`WORKER_PRELOAD` where the platform
    has a fork server, else dask's default "spawn"."""
    if process_context().get_start_method() != "forkserver":
        return "spawn"
    import dask
    from distributed.utils import get_mp_context

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context()  # distributed sets its own preload list once: replace it with ours
    process_context(extra=("distributed",))
    return "forkserver"


def _probe_scheduler(scheduler: str) -> None:
    """Refuse a TCP scheduler address at once when nothing listens there (dask's Client
    would retry until its timeout)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        protocol, location = parse_address(scheduler)
        if protocol not in ("tcp", "tls"):
            return  # inproc://, ucx://, ws://: let dask judge
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--scheduler {scheduler}: not a dask address ({exc})") from None
    try:
        socket.create_connection((host, port), timeout=DASK_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"--scheduler {scheduler}: cannot connect ({reason})") from None


def _setup_plugin(setup: Callable[[], None]):
    """A dask worker plugin running ``setup`` on every worker, present and joining later
    (defined here: importing distributed at module level would slow every local scan)."""
    from distributed import WorkerPlugin

    class SetupPlugin(WorkerPlugin):
        name = "cevns-fit-setup"

        def __init__(self, fn: Callable[[], None]) -> None:
            self.fn = fn

        def setup(self, worker) -> None:
            self.fn()

    return SetupPlugin(setup)


def iter_dask(
    func: Callable[[dict], dict],
    todo: Iterator[dict],
    workers: int | None,
    scheduler: str | None,
    chunk: int = 1,
    setup: Callable[[], None] | None = None,
) -> Iterator:
    """``func(point)`` for every point of ``todo`` on a dask cluster (``scheduler``, else a
    LocalCluster of ``workers`` processes), ``chunk`` points per task, results in the order
    they finish. ``setup`` runs once on every worker (a worker plugin, so also on workers
    that join later) before its first point."""
    from dask.distributed import as_completed

    client, cluster = dask_client(scheduler, workers)
    try:
        if setup is not None:
            client.register_plugin(_setup_plugin(setup))
        n_workers = max(len(client.scheduler_info().get("workers", {})), workers or 1)
        limit = IN_FLIGHT_PER_WORKER * n_workers
        chunks = chunked(todo, chunk)
        queue = as_completed()
        for c in islice(chunks, limit):
            queue.add(client.submit(apply_chunk, func, c, pure=False))
        for future in queue:
            results = future.result()
            future.release()  # keep the scheduler's memory flat in the number of points
            c = next(chunks, None)
            if c is not None:
                queue.add(client.submit(apply_chunk, func, c, pure=False))
            yield from results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
