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

The results file (fingerprint, record validation, lock) is :mod:`cevns_fit.scan_results`; where
points run (local processes, dask) is :mod:`cevns_fit.executors`.

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
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import chain, product
from pathlib import Path

import numpy as np

from cevns_fit.detector import recoil_endpoint_note
from cevns_fit.errors import InputError
from cevns_fit.executors import chunk_size, iter_dask, iter_local
from cevns_fit.scan_results import (
    Finished,
    locked_results,
    model_files,
    point_key,
    read_finished,
    read_results,
    scan_fingerprint,
    validate_record,
)

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
    "run_scans",
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


@lru_cache(maxsize=16)
def _compiled(model_path: str, shape_point: tuple):
    """The fast likelihood of :func:`_base_analysis`, compiled once for the point's
    significance and every exposure solve."""
    from cevns_fit.inference import compile_model

    return compile_model(_base_analysis(model_path, shape_point))


@lru_cache(maxsize=64)
def _exposure_needed(model_path: str, shape_point: tuple, sigma: float) -> tuple:
    from cevns_fit.inference import exposure_needed

    solved = exposure_needed(
        _base_analysis(model_path, shape_point),
        sigma=sigma,
        compiled=_compiled(model_path, shape_point),
    )
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
    endpoint = recoil_endpoint_note(_point_model(model_path, shape_point))
    if endpoint:
        result["note"] = endpoint
    if templates.signal_total <= 0.0:
        result.update({"Z_expected": 0.0, "p0_expected": 0.5, "method": "none"})
        result["note"] = endpoint or "no signal above threshold at this point"
        needed = {s: (None, "no CEvNS signal above threshold") for s in sigmas}
        return _with_exposures(result, needed, sigmas)
    compiled = None if "exposure" in point else _compiled(model_path, shape_point)
    significance = expected_significance(templates, compiled=compiled).to_dict()
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


def _evaluate_job(
    model_paths: tuple[str, ...], sigmas: tuple[float, ...], item: tuple[int, dict]
) -> tuple[int, dict]:
    """One point of scan ``item[0]`` of a batch (:func:`run_scans`), tagged with its scan."""
    j, point = item
    return j, _safe_evaluate(model_paths[j], point, sigmas)


@dataclass
class _Job:
    """One scan of a batch while it runs: its grid, results file and records."""

    model_path: str
    axes: list[Axis]
    out: Path | None
    fingerprint: str
    notes: list[str]
    fh: object = None
    finished: Finished = field(default_factory=lambda: Finished({}))
    results: dict[str, dict] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    def todo(self, j: int) -> Iterator[tuple[int, dict]]:
        return ((j, p) for p in iter_grid(self.axes) if point_key(p) not in self.finished.records)


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
    return run_scans(
        [(model_path, axes, out)],
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        sigmas=sigmas,
        progress=progress,
    )[0]


def run_scans(
    scans: list[tuple[str | Path, list[Axis], str | Path | None]],
    *,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    sigmas: tuple[float, ...] = (3.0, 5.0),
    progress: bool = True,
) -> list[ScanResult]:
    """Several scans, each ``(model_path, axes, out)`` as for :func:`run_scan`, on one pool
    of workers: it starts once (a map compares two models, ``compare`` draws a curve per
    model), every model's true-recoil spectrum is shipped to it once, and the next scan's
    points start while the last ones of the previous scan still run."""
    if executor not in ("local", "dask"):
        raise InputError(f"--executor {executor!r}: allowed are local, dask")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError(f"--workers {workers!r}: must be an integer >= 1")
    sigmas = tuple(dict.fromkeys(float(s) for s in sigmas))
    if not sigmas or not all(math.isfinite(s) and s > 0 for s in sigmas):
        raise InputError(f"--sigma {list(sigmas)}: significances must be finite numbers > 0")
    from cevns_fit.response import preload_recoil_cache, recoil_cache_entries

    jobs: list[_Job] = []
    spectra: dict = {}
    for model_path, axes, out in scans:
        model_path = str(Path(model_path).resolve())
        model = _load_model(model_path)  # validate each model once, before any worker starts
        iter_grid(axes)  # refuses a parameter given twice
        notes = [
            f"--vary {a.name}: {a.dropped} repeated value(s) computed once"
            for a in axes
            if a.dropped
        ]
        out_path = Path(out) if out else None
        jobs.append(_Job(model_path, axes, out_path, scan_fingerprint(model, sigmas), notes))
        # dσ/dE_R is the same at every point of a scan (no scanned name changes target,
        # source or form factor): integrate it once here and ship it to the workers
        spectra.update(recoil_cache_entries(model))
    with contextlib.ExitStack() as stack:
        for job in jobs:
            if job.out is None:
                continue
            job.fh = stack.enter_context(locked_results(job.out))
            job.finished = read_results(job.fh, job.out, job.fingerprint, job.names, sigmas)
            if job.finished.torn:
                job.notes.append(f"{job.out}: cut off a torn last line (a scan killed mid-write)")
            if job.finished.dropped:
                job.notes.append(
                    f"{job.out}: {job.finished.dropped} invalid, failed or incomplete "
                    "record(s) recomputed"
                )
        total = sum(grid_size(job.axes) for job in jobs)
        done_before = sum(min(len(job.finished.records), grid_size(job.axes)) for job in jobs)
        todo = chain.from_iterable(job.todo(j) for j, job in enumerate(jobs))
        evaluate = partial(_evaluate_job, tuple(job.model_path for job in jobs), sigmas)
        setup = partial(preload_recoil_cache, spectra)
        n_workers = workers or os.cpu_count() or 1
        chunk = chunk_size(total - done_before, n_workers)
        if executor == "dask":
            stream = iter_dask(evaluate, todo, workers, scheduler, chunk, setup)
        else:
            stream = iter_local(evaluate, todo, workers, chunk, setup)

        from cevns_fit.progress import progress as progress_report

        bar = progress_report(
            total,
            initial=done_before,  # no pass over the grid first
            desc="scan",
            unit="pt",
            enabled=progress,
        )
        try:
            for j, record in stream:
                job = jobs[j]
                varied = {name: record[name] for name in job.names}
                record = _finite_or_none(record)
                record["key"] = point_key(varied)
                record["fingerprint"] = job.fingerprint
                job.results[record["key"]] = record
                if job.fh is not None:
                    job.fh.write((json.dumps(record, allow_nan=False) + "\n").encode())
                    job.fh.flush()
                bar.update(1)
        finally:
            bar.close()
            stream.close()  # stops the workers at once if the loop ended early
    return [_scan_result(job) for job in jobs]


def _scan_result(job: _Job) -> ScanResult:
    """A finished scan's points in grid order, computed and resumed ones together."""
    ordered, resumed = [], 0
    for key in map(point_key, iter_grid(job.axes)):
        if key in job.results:
            ordered.append(job.results[key])
        else:
            ordered.append(job.finished.records[key])
            resumed += 1
    failed = sum("error" in p for p in ordered)
    notes = list(job.notes)
    if failed:
        notes.append(f"{failed} point(s) failed")
    return ScanResult(
        job.model_path,
        job.axes,
        ordered,
        computed=len(job.results),
        resumed=resumed,
        notes=notes,
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
