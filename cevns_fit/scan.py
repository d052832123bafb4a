"""Sensitivity scans: grids of detector configurations, each point a full inference.

A scan varies named model parameters over grids (``--vary threshold=2:20:10``), evaluates the
median expected discovery significance and the exposures needed for 3σ and 5σ at every point,
and streams each finished point as one JSON line to ``out``. Re-running with the same ``out``
resumes: points already in the file are read back, not recomputed, so an interrupted scan loses
nothing. Points run on local processes (default, no server) or on a ``dask.distributed``
cluster (a ``LocalCluster`` when no scheduler address is given).

Names that can vary (DESIGN.md §3) and what they set on the detector model:

=============  =================================================================
``threshold``  recoil threshold in keVnr (converted to the observable at nominal quenching)
``quenching``  the quenching factor (constant models) or its scale (energy-dependent models)
``mass``       detector mass in kg (live time kept, so exposure follows)
``exposure``   exposure in kg·yr (templates rescaled, no rebuild)
``background`` scale factor on every background rate
``quenching_sigma``  shift of the model's own quenching by that many of its 1σ (may be < 0)
=============  =================================================================

Robustness (issue 14): the results file is locked while a scan writes it (a second scan on the
same file is refused); a file that is not a scan's results is never appended to; on resume a
torn last line (a scan killed mid-write) is cut off and records that are not valid for this
grid and model (edited, incomplete) are recomputed, with a note. The fingerprint covers the
bytes of every file the model reads (model, source, data tables). The grid is generated
lazily and at most a few points per worker are in flight, so a 10⁶-point grid starts at
once with flat memory in the executor; workers ignore Ctrl-C (the parent stops them) and
exit on their own when the parent dies. Repeated grid values are computed once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from pathlib import Path

import numpy as np

from cevns_fit.detector import recoil_endpoint_note
from cevns_fit.errors import InputError

__all__ = [
    "VARY_NAMES",
    "Axis",
    "parse_vary",
    "grid_points",
    "iter_grid",
    "grid_size",
    "point_key",
    "scan_overrides",
    "evaluate_point",
    "read_finished",
    "validate_record",
    "model_files",
    "run_scan",
    "ScanResult",
]

# scan name -> keyword of DetectorModel.with_overrides
VARY_NAMES = {
    "threshold": "threshold_keVnr",
    "quenching": "quenching",
    "mass": "mass_kg",
    "exposure": "exposure_kg_yr",
    "background": "background_scale",
    "quenching_sigma": "quenching_sigma",
}


@dataclass(frozen=True)
class Axis:
    """One scanned parameter and its grid values."""

    name: str
    values: tuple[float, ...]
    dropped: int = 0  # repeated values removed by parse_vary


def parse_vary(text: str) -> Axis:
    """Parse ``NAME=START:STOP:N`` (linear grid) or ``NAME=v1,v2,...`` into an :class:`Axis`."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or name not in VARY_NAMES:
        allowed = ", ".join(VARY_NAMES)
        raise InputError(f"--vary {text!r}: expected NAME=START:STOP:N with NAME one of {allowed}")
    try:
        if ":" in spec:
            start, stop, n = spec.split(":")
            values = np.linspace(float(start), float(stop), int(n))
        else:
            values = np.array([float(v) for v in spec.split(",")])
    except ValueError:
        raise InputError(
            f"--vary {text!r}: expected START:STOP:N or a comma-separated list"
        ) from None
    if len(values) == 0 or not np.all(np.isfinite(values)):
        raise InputError(f"--vary {text!r}: needs at least one finite value")
    if name != "quenching_sigma" and np.any(values <= 0):
        raise InputError(f"--vary {text!r}: {name} values must be > 0")
    # a value given twice (also after the 12-digit rounding of point_key) is computed once
    unique = {float(f"{v:.12g}"): float(v) for v in values[::-1]}
    kept = tuple(v for v in dict.fromkeys(float(f"{v:.12g}") for v in values))
    return Axis(name, tuple(unique[k] for k in kept), dropped=len(values) - len(kept))


def iter_grid(axes: Iterable[Axis]) -> Iterator[dict[str, float]]:
    """The cartesian product of the axes, lazily, in row-major order of the axes as given."""
    axes = list(axes)
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise InputError(f"--vary: a parameter is given twice ({', '.join(names)})")
    return (dict(zip(names, combo, strict=True)) for combo in product(*(a.values for a in axes)))


def grid_size(axes: Iterable[Axis]) -> int:
    return math.prod(len(a.values) for a in axes)


def grid_points(axes: Iterable[Axis]) -> list[dict[str, float]]:
    """The cartesian product of the axes as a list (see :func:`iter_grid`)."""
    return list(iter_grid(axes))


def point_key(point: dict[str, float]) -> str:
    """A canonical text key of a point's varied values (12 significant digits), for resuming."""
    return json.dumps({k: float(f"{v:.12g}") for k, v in sorted(point.items())}, sort_keys=True)


def scan_overrides(model, point: dict[str, float]) -> dict[str, float]:
    """``DetectorModel.with_overrides`` keywords for a scan point: ``quenching`` is the factor
    itself for a constant-quenching model and a scale on Q(E_nr) for energy-dependent ones."""
    overrides = {}
    for name, value in point.items():
        key = VARY_NAMES[name]
        if name == "quenching" and not is_constant_quenching(model):
            key = "quenching_scale"
        overrides[key] = value
    return overrides


def is_constant_quenching(model) -> bool:
    return model.quenching.to_dict().get("model") == "constant"


@lru_cache(maxsize=8)
def _load_model(model_path: str):
    from cevns_fit.detector import load_detector_model

    return load_detector_model(model_path)


@lru_cache(maxsize=16)
def _point_model(model_path: str, shape_point: tuple[tuple[str, float], ...]):
    """The detector model with a point's settings (all but ``exposure``) applied."""
    model = _load_model(model_path)
    overrides = scan_overrides(model, dict(shape_point))
    return model.with_overrides(**overrides) if overrides else model


@lru_cache(maxsize=16)
def _base_analysis(model_path: str, shape_point: tuple[tuple[str, float], ...]):
    """Templates at the model's own exposure and the exposures needed, for every setting that
    changes the templates (all but ``exposure``). Cached per process: points along an
    exposure axis rescale these templates instead of rebuilding them (counts are linear in
    exposure), and the exposures needed do not depend on the point's exposure at all."""
    from cevns_fit.templates import build_templates

    return build_templates(_point_model(model_path, shape_point))


@lru_cache(maxsize=64)
def _exposure_needed(model_path: str, shape_point: tuple, sigma: float) -> tuple:
    from cevns_fit.inference import exposure_needed

    solved = exposure_needed(_base_analysis(model_path, shape_point), sigma=sigma)
    return solved.exposure_kg_yr, solved.reason


def evaluate_point(
    model_path: str, point: dict[str, float], sigmas: tuple[float, ...] = (3.0, 5.0)
) -> dict:
    """Median expected Z and the exposures for each of ``sigmas`` at one scan point.

    Returns the varied values under their scan names and the results under the keys of
    ``significance`` (``Z_expected``, ``p0_expected``, ``method``, at the exposure
    ``at_exposure_kg_yr``) and ``exposure`` (``exposure_kg_yr`` and ``sigma`` for the last of
    ``sigmas``, ``reason`` when unreachable), plus ``exposure_kg_yr_{n}sigma`` per sigma.
    A point equals the single commands: ``significance MODEL --exposure E`` and
    ``exposure MODEL --sigma S`` on the model with the point's other settings."""
    from cevns_fit.inference import expected_significance

    shape_point = tuple(sorted((k, v) for k, v in point.items() if k != "exposure"))
    templates = _base_analysis(model_path, shape_point)
    if "exposure" in point:
        templates = templates.scaled_to(point["exposure"])
    result: dict = dict(point)
    result["at_exposure_kg_yr"] = templates.exposure_kg_yr
    result["signal_events"] = templates.signal_total
    result["background_events"] = templates.background_total
    endpoint = recoil_endpoint_note(_point_model(model_path, shape_point))
    if endpoint:
        result["note"] = endpoint
    if templates.signal_total <= 0.0:
        result.update({"Z_expected": 0.0, "p0_expected": 0.5, "method": "none"})
        result["note"] = endpoint or "no signal above threshold at this point"
        needed = {s: (None, "no CEvNS signal above threshold") for s in sigmas}
        return _with_exposures(result, needed, sigmas)
    significance = expected_significance(templates).to_dict()
    result.update({k: significance[k] for k in ("Z_expected", "p0_expected", "method")})
    needed = {s: _exposure_needed(model_path, shape_point, float(s)) for s in sigmas}
    return _with_exposures(result, needed, sigmas)


def _with_exposures(result: dict, needed: dict, sigmas: tuple[float, ...]) -> dict:
    """Exposure-needed results under the ``exposure`` command's keys (for the last sigma) and
    per sigma as ``exposure_kg_yr_{n}sigma``."""
    for s in sigmas:
        exposure, reason = needed[s]
        result[f"exposure_kg_yr_{s:g}sigma"] = exposure
        if exposure is None:
            result[f"reason_{s:g}sigma"] = reason
    exposure, reason = needed[sigmas[-1]]
    result["sigma"] = sigmas[-1]
    result["exposure_kg_yr"] = exposure
    if exposure is None:
        result["reason"] = reason
    return result


def _safe_evaluate(model_path: str, point: dict[str, float], sigmas: tuple[float, ...]) -> dict:
    """Evaluate a point; a failure becomes an ``error`` entry instead of ending the scan."""
    try:
        return evaluate_point(model_path, point, sigmas)
    except Exception as exc:  # noqa: BLE001 - recorded per point and reported, never hidden
        return {**point, "error": f"{type(exc).__name__}: {exc}"}


def model_files(model) -> list[Path]:
    """Every file a detector model reads: the model, its source, and each file named by a
    string value of either TOML that exists relative to it (data tables, spectra, quenching
    tables, …; folders of data releases file by file), sorted and without repeats."""
    seen: dict[Path, None] = {}

    def visit(path: Path) -> None:
        path = path.resolve()
        if path in seen:
            return
        seen[path] = None
        if path.suffix.lower() != ".toml":
            return
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return  # the loader has read it already; nothing further to follow
        for text in _strings(data):
            candidate = path.parent / text
            with contextlib.suppress(OSError, ValueError):
                if candidate.is_file():
                    visit(candidate)
                elif candidate.is_dir() and text not in (".", ".."):
                    for inner in sorted(candidate.rglob("*")):
                        if inner.is_file():
                            seen.setdefault(inner.resolve(), None)

    for path in (model.path, model.source_path):
        if path is not None:
            visit(Path(path))
    return sorted(seen)


def _strings(obj) -> Iterator[str]:
    if isinstance(obj, str):
        if obj and "\n" not in obj and len(obj) < 4096:
            yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def scan_fingerprint(model, sigmas: tuple[float, ...]) -> str:
    """A hash of what a scan's results depend on besides the varied values: the bytes of every
    file the model reads (:func:`model_files`), the significances asked for and the package
    version."""
    from cevns_fit import __version__

    digest = hashlib.sha256()
    for path in model_files(model):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    digest.update(json.dumps([list(map(float, sigmas)), __version__]).encode())
    return digest.hexdigest()[:16]


_RESULT_NUMBERS = ("at_exposure_kg_yr", "signal_events", "background_events", "sigma")


def validate_record(record, names: Iterable[str], sigmas: tuple[float, ...]) -> str | None:
    """Why a results-file record cannot be reused for a scan over ``names`` with ``sigmas``
    (None if it can): every varied value, the key made from them, the significance and each
    exposure needed must be present and of the right kind."""
    if not isinstance(record, dict):
        return "not a JSON object"
    names = list(names)
    point = {}
    for name in names:
        value = record.get(name)
        if not _is_number(value):
            return f"no value for {name!r}"
        point[name] = value
    if set(VARY_NAMES) & set(record) - set(names):
        return "varies other parameters"
    if record.get("key") != point_key(point):
        return "its key does not match its values"
    if "error" in record:
        return "a failed point"
    z, p0 = record.get("Z_expected", "missing"), record.get("p0_expected", "missing")
    if not (z is None or (_is_number(z) and z >= 0)):
        return "no valid Z_expected"
    if not (_is_number(p0) and 0 <= p0 <= 1):
        return "no valid p0_expected"
    if not isinstance(record.get("method"), str):
        return "no method"
    for key in _RESULT_NUMBERS:
        if not _is_number(record.get(key)):
            return f"no valid {key}"
    for s in sigmas:
        key = f"exposure_kg_yr_{s:g}sigma"
        value = record.get(key, "missing")
        if not (value is None or (_is_number(value) and value > 0)):
            return f"no valid {key}"
    return None


def _key_names(record: dict) -> set[str] | None:
    """The varied names a record's key speaks of (None if the key is not a point key)."""
    try:
        key = json.loads(record.get("key"))
    except (TypeError, json.JSONDecodeError):
        return None
    return set(key) if isinstance(key, dict) else None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class _Finished:
    records: dict[str, dict]
    dropped: int = 0
    torn: bool = False


def _read_results(fh, out: Path, fingerprint, names, sigmas, *, repair: bool = True) -> _Finished:
    """Records of an open results file (see :func:`read_finished`); with ``repair`` (the file
    locked by this scan) a torn last line is cut off the file, else only skipped."""
    fh.seek(0)
    raw = fh.read()
    result = _Finished({})
    if not raw:
        return result
    if not raw.endswith(b"\n"):  # killed mid-write: drop the partial record
        cut = raw.rfind(b"\n") + 1
        raw = raw[:cut]
        if repair:
            fh.truncate(cut)
        result.torn = True
    scan_like = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if isinstance(record, dict) and "fingerprint" in record:
            scan_like += 1
            if fingerprint is not None and record["fingerprint"] != fingerprint:
                raise InputError(
                    f"--out {out}: holds results of another model, source, data file or "
                    "--sigma (or of an edited model file); use a new file or delete this one"
                )
        if isinstance(record, dict) and _key_names(record) != set(names):
            continue  # a point of another grid in the same file: not ours to judge
        if validate_record(record, names, sigmas) is None:
            result.records[record["key"]] = record
        else:
            result.dropped += 1
    if scan_like == 0 and raw.strip():
        raise InputError(
            f"--out {out}: exists and is not a scan results file (no line is a scan record); "
            "give a new file name"
        )
    return result


def read_finished(
    out: Path,
    fingerprint: str | None = None,
    names: Iterable[str] | None = None,
    sigmas: tuple[float, ...] = (3.0, 5.0),
) -> dict[str, dict]:
    """Valid points already in a JSON-lines results file, by key (see :func:`validate_record`;
    ``names`` default to the varied names of the first record). A torn last line is skipped
    (:func:`run_scan` cuts it off the file it has locked).

    With a ``fingerprint``, a file holding results for another model, source, data file or
    ``sigmas`` is an :class:`InputError` (its points would silently answer a different
    question); so is a file that is not a scan's results."""
    out = Path(out)
    if not out.exists():
        return {}
    if names is None:
        with out.open("rb") as fh:
            first = fh.readline()
        try:
            names = [n for n in json.loads(first) if n in VARY_NAMES]
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
            names = []
    with out.open("rb") as fh:
        return _read_results(fh, out, fingerprint, names, sigmas, repair=False).records


@dataclass
class ScanResult:
    """All points of a scan in grid order, with how many were computed vs resumed."""

    model: str
    axes: list[Axis]
    points: list[dict]
    computed: int
    resumed: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "vary": {a.name: list(a.values) for a in self.axes},
            "points": [
                {k: v for k, v in p.items() if k not in ("key", "fingerprint")} for p in self.points
            ],
            "computed": self.computed,
            "resumed": self.resumed,
            "notes": self.notes,
        }


# Points in flight per worker: enough to keep every worker busy, few enough that neither the
# executor's queues nor the parent's memory grow with the grid.
_IN_FLIGHT_PER_WORKER = 2


def _worker_init(parent_pid: int) -> None:
    """In each worker process: leave Ctrl-C to the parent (which stops the pool), and exit
    when the parent is gone (killed with -9, the pool's pipes would otherwise keep the
    workers alive for minutes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="cevns-fit-parent-watch").start()


def _bounded(submit, points: Iterator[dict], limit: int, wait_any) -> Iterator:
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


def _chain(head: list, tail: Iterator) -> Iterator:
    yield from head
    yield from tail


def _iter_local(
    model_path: str, todo: Iterator[dict], sigmas: tuple[float, ...], workers: int | None
) -> Iterator[dict]:
    workers = workers or os.cpu_count() or 1
    first = list(islice(todo, 2))
    todo = _chain(first, todo)
    if workers == 1 or len(first) < 2:  # no process pool for a single point
        for point in todo:
            yield _safe_evaluate(model_path, point, sigmas)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn: a clean interpreter per worker, safe whatever threads the parent runs
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    finished = False
    try:
        futures = _bounded(
            lambda p: pool.submit(_safe_evaluate, model_path, p, sigmas),
            todo,
            _IN_FLIGHT_PER_WORKER * workers,
            lambda fs: wait(fs, return_when=FIRST_COMPLETED),
        )
        for future in futures:
            yield future.result()
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


def _dask_client(scheduler: str | None, workers: int | None):
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
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count(),
        threads_per_worker=1,
        host="127.0.0.1",  # never listen beyond this machine
        dashboard_address=None,
    )
    return Client(cluster), cluster


# How long a --scheduler address may take to answer before the scan is refused.
DASK_CONNECT_TIMEOUT_S = 5.0


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


def _iter_dask(
    model_path: str,
    todo: Iterator[dict],
    sigmas: tuple[float, ...],
    workers: int | None,
    scheduler: str | None,
) -> Iterator[dict]:
    from dask.distributed import as_completed

    client, cluster = _dask_client(scheduler, workers)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), workers or 1)
        limit = _IN_FLIGHT_PER_WORKER * n_workers
        queue = as_completed()
        for point in islice(todo, limit):
            queue.add(client.submit(_safe_evaluate, model_path, point, sigmas, pure=False))
        for future in queue:
            result = future.result()
            future.release()  # keep the scheduler's memory flat in the number of points
            point = next(todo, None)
            if point is not None:
                queue.add(client.submit(_safe_evaluate, model_path, point, sigmas, pure=False))
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _locked_results(out: Path):
    """The results file opened for reading and appending, under an exclusive lock (a second
    scan on the same file is refused, not interleaved)."""
    import fcntl

    try:
        fh = out.open("a+b")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot open ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"--out {out}: another scan is writing this file; wait for it or use another"
            ) from None
        yield fh
    finally:
        fh.close()  # releases the lock


def run_scan(
    model_path: str | Path,
    axes: list[Axis],
    *,
    out: str | Path | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    sigmas: tuple[float, ...] = (3.0, 5.0),
    progress: bool = True,
) -> ScanResult:
    """Run (or resume) a scan; each finished point is appended to ``out`` at once.

    Every record carries a fingerprint of every file the model reads and of ``sigmas``;
    resuming from a file written for anything else is refused rather than mixed in. The
    file is locked while the scan runs (see the module docstring for resuming)."""
    if executor not in ("local", "dask"):
        raise InputError(f"--executor {executor!r}: allowed are local, dask")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError(f"--workers {workers!r}: must be an integer >= 1")
    sigmas = tuple(dict.fromkeys(float(s) for s in sigmas))
    if not sigmas or not all(math.isfinite(s) and s > 0 for s in sigmas):
        raise InputError(f"--sigma {list(sigmas)}: significances must be finite numbers > 0")
    model_path = str(Path(model_path).resolve())
    model = _load_model(model_path)  # validate the model once, before any worker starts
    names = [a.name for a in axes]
    iter_grid(axes)  # refuses a parameter given twice
    notes = [
        f"--vary {a.name}: {a.dropped} repeated value(s) computed once" for a in axes if a.dropped
    ]
    out_path = Path(out) if out else None
    fingerprint = scan_fingerprint(model, sigmas)
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(_locked_results(out_path)) if out_path else None
        finished = _read_results(fh, out_path, fingerprint, names, sigmas) if fh else _Finished({})
        if finished.torn:
            notes.append(f"{out_path}: cut off a torn last line (a scan killed mid-write)")
        if finished.dropped:
            notes.append(
                f"{out_path}: {finished.dropped} invalid, failed or incomplete record(s) recomputed"
            )
        total = grid_size(axes)
        todo = (p for p in iter_grid(axes) if point_key(p) not in finished.records)
        if executor == "dask":
            stream = _iter_dask(model_path, todo, sigmas, workers, scheduler)
        else:
            stream = _iter_local(model_path, todo, sigmas, workers)

        from tqdm import tqdm

        computed = 0
        results: dict[str, dict] = {}
        bar = tqdm(
            total=total,
            initial=min(len(finished.records), total),  # no pass over the grid first
            desc="scan",
            unit="pt",
            file=sys.stderr,
            disable=not progress,
        )
        try:
            for record in stream:
                varied = {name: record[name] for name in names}
                record = _finite_or_none(record)
                record["key"] = point_key(varied)
                record["fingerprint"] = fingerprint
                results[record["key"]] = record
                computed += 1
                if fh is not None:
                    fh.write((json.dumps(record, allow_nan=False) + "\n").encode())
                    fh.flush()
                bar.update(1)
        finally:
            bar.close()
            stream.close()  # stops the workers at once if the loop ended early
    ordered, resumed = [], 0
    for key in map(point_key, iter_grid(axes)):
        if key in results:
            ordered.append(results[key])
        else:
            ordered.append(finished.records[key])
            resumed += 1
    failed = sum("error" in p for p in ordered)
    if failed:
        notes.append(f"{failed} point(s) failed")
    return ScanResult(
        str(model_path), axes, ordered, computed=computed, resumed=resumed, notes=notes
    )


def _finite_or_none(obj):
    """Plain JSON types, with NaN/inf as None, so one odd value never ends a scan."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
