"""Sensitivity scans: grids of detector configurations, each point a full inference.

A scan varies named model parameters over grids (``--vary threshold=2:20:10``), evaluates the
median expected discovery significance and the exposures needed for 3σ and 5σ at every point,
and streams each finished point as one JSON line to ``out``. Re-running with the same ``out``
resumes: points already in the file are read back, not recomputed, so an interrupted scan loses
nothing. Points run on local processes (default, no server) or on a ``dask.distributed``
cluster (a ``LocalCluster`` when no scheduler address is given).

Names that can vary (DESIGN.md §3) and what they set on the detector model:

===================  ===========================================================================
``threshold``        recoil threshold in keVnr (converted to the observable at nominal quenching)
``quenching``        the quenching factor (constant models) or its scale (energy-dependent models)
``mass``             detector mass in kg (live time kept, so exposure follows)
``exposure``         exposure in kg·yr (templates rescaled, no rebuild)
``background``       scale factor on every background rate
``quenching_sigma``  shift of the model's own quenching by that many of its 1σ (may be < 0)
===================  ===========================================================================
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError

__all__ = [
    "VARY_NAMES",
    "Axis",
    "parse_vary",
    "grid_points",
    "point_key",
    "scan_overrides",
    "evaluate_point",
    "read_finished",
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
    return Axis(name, tuple(float(v) for v in values))


def grid_points(axes: Iterable[Axis]) -> list[dict[str, float]]:
    """The cartesian product of the axes, in row-major order of the axes as given."""
    axes = list(axes)
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise InputError(f"--vary: a parameter is given twice ({', '.join(names)})")
    return [dict(zip(names, combo, strict=True)) for combo in product(*(a.values for a in axes))]


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
def _base_analysis(model_path: str, shape_point: tuple[tuple[str, float], ...]):
    """Templates at the model's own exposure and the exposures needed, for every setting that
    changes the templates (all but ``exposure``). Cached per process: points along an
    exposure axis rescale these templates instead of rebuilding them (counts are linear in
    exposure), and the exposures needed do not depend on the point's exposure at all."""
    from cevns_fit.templates import build_templates

    model = _load_model(model_path)
    overrides = scan_overrides(model, dict(shape_point))
    return build_templates(model.with_overrides(**overrides) if overrides else model)


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
    ``at_exposure_kg_yr``) and the exposure needed for each of ``sigmas`` as
    ``exposure_kg_yr_{n}sigma`` (``reason_{n}sigma`` when unreachable).
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
    if templates.signal_total <= 0.0:
        result.update({"Z_expected": 0.0, "p0_expected": 0.5, "method": "none"})
        result["note"] = "no signal above threshold at this point"
        needed = {s: (None, "no CEvNS signal above threshold") for s in sigmas}
        return _with_exposures(result, needed, sigmas)
    significance = expected_significance(templates).to_dict()
    result.update({k: significance[k] for k in ("Z_expected", "p0_expected", "method")})
    needed = {s: _exposure_needed(model_path, shape_point, float(s)) for s in sigmas}
    return _with_exposures(result, needed, sigmas)


def _with_exposures(result: dict, needed: dict, sigmas: tuple[float, ...]) -> dict:
    """The exposure needed per sigma as ``exposure_kg_yr_{n}sigma`` (the keys of ``compare``),
    with ``reason_{n}sigma`` when unreachable. There is no bare ``exposure_kg_yr``: next to the
    grid value ``exposure`` it read as the same quantity."""
    for s in sigmas:
        exposure, reason = needed[s]
        result[f"exposure_kg_yr_{s:g}sigma"] = exposure
        if exposure is None:
            result[f"reason_{s:g}sigma"] = reason
    return result


def _safe_evaluate(model_path: str, point: dict[str, float], sigmas: tuple[float, ...]) -> dict:
    """Evaluate a point; a failure becomes an ``error`` entry instead of ending the scan."""
    try:
        return evaluate_point(model_path, point, sigmas)
    except Exception as exc:  # noqa: BLE001 - recorded per point and reported, never hidden
        return {**point, "error": f"{type(exc).__name__}: {exc}"}


def scan_fingerprint(model, sigmas: tuple[float, ...]) -> str:
    """A hash of what a scan's results depend on besides the varied values: the model file,
    its source file, the significances asked for and the package version."""
    from cevns_fit import __version__

    digest = hashlib.sha256()
    for path in (model.path, model.source_path):
        if path is not None:
            digest.update(Path(path).read_bytes())
    digest.update(json.dumps([list(map(float, sigmas)), __version__]).encode())
    return digest.hexdigest()[:16]


def read_finished(out: Path, fingerprint: str | None = None) -> dict[str, dict]:
    """Points already in a JSON-lines results file, by key; a torn last line is ignored.

    With a ``fingerprint``, a file holding results for another model, source or ``sigmas``
    is an :class:`InputError` (its points would silently answer a different question)."""
    finished: dict[str, dict] = {}
    if not out.exists():
        return finished
    with out.open() as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # interrupted mid-write: that point is recomputed
            if not isinstance(record, dict) or "key" not in record:
                continue
            if fingerprint is not None and record.get("fingerprint") != fingerprint:
                raise InputError(
                    f"--out {out}: holds results of another model, source or --sigma "
                    "(or of an edited model file); use a new file or delete this one"
                )
            if "error" not in record:
                finished[record["key"]] = record
    return finished


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


def _iter_local(
    model_path: str, todo: list[dict], sigmas: tuple[float, ...], workers: int | None
) -> Iterator[dict]:
    if workers == 1 or len(todo) <= 1:
        for point in todo:
            yield _safe_evaluate(model_path, point, sigmas)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a clean interpreter per worker, safe whatever threads the parent runs
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count(), mp_context=context) as pool:
        futures = [pool.submit(_safe_evaluate, model_path, p, sigmas) for p in todo]
        for future in as_completed(futures):
            yield future.result()


def _iter_dask(
    model_path: str,
    todo: list[dict],
    sigmas: tuple[float, ...],
    workers: int | None,
    scheduler: str | None,
) -> Iterator[dict]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a declared dependency
        raise InputError(
            "--executor dask needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count(), threads_per_worker=1, dashboard_address=None
        )
        client = Client(cluster)
    try:
        futures = [client.submit(_safe_evaluate, model_path, p, sigmas, pure=False) for p in todo]
        for future in as_completed(futures):
            yield future.result()
            future.release()  # keep the scheduler's memory flat in the number of points
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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

    Every record carries a fingerprint of the model file, its source file and ``sigmas``;
    resuming from a file written for anything else is refused rather than mixed in."""
    model_path = str(Path(model_path).resolve())
    model = _load_model(model_path)  # validate the model once, before any worker starts
    if executor not in ("local", "dask"):
        raise InputError(f"--executor {executor!r}: allowed are local, dask")
    points = grid_points(axes)
    out_path = Path(out) if out else None
    fingerprint = scan_fingerprint(model, sigmas)
    finished = read_finished(out_path, fingerprint) if out_path else {}
    keys = [point_key(p) for p in points]
    todo = [p for p, k in zip(points, keys, strict=True) if k not in finished]
    resumed = len(points) - len(todo)

    if executor == "dask":
        stream = _iter_dask(model_path, todo, sigmas, workers, scheduler)
    else:
        stream = _iter_local(model_path, todo, sigmas, workers)

    from cevns_fit.progress import progress as progress_report

    results: dict[str, dict] = {k: finished[k] for k in keys if k in finished}
    bar = progress_report(len(points), initial=resumed, desc="scan", unit="pt", enabled=progress)
    fh = out_path.open("a") if out_path else None
    try:
        for record in stream:
            varied = {name: record[name] for name in points[0]} if points[0] else {}
            record = _finite_or_none(record)
            record["key"] = point_key(varied)
            record["fingerprint"] = fingerprint
            results[record["key"]] = record
            if fh is not None:
                fh.write(json.dumps(record, allow_nan=False) + "\n")
                fh.flush()
            bar.update(1)
    finally:
        bar.close()
        if fh is not None:
            fh.close()
    ordered = [results[k] for k in keys]
    notes = (
        [f"{sum('error' in p for p in ordered)} point(s) failed"]
        if any("error" in p for p in ordered)
        else []
    )
    return ScanResult(
        str(model_path), axes, ordered, computed=len(todo), resumed=resumed, notes=notes
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
