"""Where does detector A beat detector B? The ratio of their 5σ exposures over a 2-D grid.

:func:`exposure_ratio_map` scans model A over a grid of two parameters (e.g. threshold ×
quenching: the perovskite's unknowns) with :func:`cevns_fit.scan.run_scans` (resumable,
local or Dask) and compares each point's exposure for a median ``sigma`` discovery with
model B, as built (``reference="nominal"``) or scanned over the same grid
(``reference="same"``). Ratios A/B below 1 mean A needs less:

* ``kg``: exposures in kg·yr (the same live time means less mass);
* ``dollar``: costs of an array reaching ``sigma`` in one year, cost per kg × exposure
  (the model files' cost assumptions);
* ``nucleus``: exposures in nucleus·yr (a per-nucleus cross-section comparison).

The boundary where A and B are equal (ratio 1) is traced on the grid (a contour of
ln ratio), so the answer to "how low must the threshold be for a given Q" reads off it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.scan import Axis, run_scans

__all__ = ["PER", "RatioMap", "exposure_ratio_map", "boundary"]

PER = ("kg", "dollar", "nucleus")


@dataclass(frozen=True)
class RatioMap:
    """A/B ratios of what a ``sigma`` discovery takes, on the grid ``x`` × ``y``."""

    model_a: str
    model_b: str
    x: Axis
    y: Axis
    sigma: float
    exposure_a_kg_yr: np.ndarray  # (n_y, n_x), NaN where unreachable
    exposure_b_kg_yr: np.ndarray  # (n_y, n_x) or broadcast scalar
    ratio: dict[str, np.ndarray]  # per -> (n_y, n_x)
    boundary: dict[str, list[list[float]]]  # per -> [[x, y], ...] where ratio = 1
    nominal_a: dict[str, float]
    reference: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        def clean(a):
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "model_a": self.model_a,
            "model_b": self.model_b,
            "reference": self.reference,
            "sigma": self.sigma,
            self.x.name: list(self.x.values),
            self.y.name: list(self.y.values),
            "axes": [self.x.name, self.y.name],
            "exposure_a_kg_yr": clean(self.exposure_a_kg_yr),
            "exposure_b_kg_yr": clean(self.exposure_b_kg_yr),
            "ratio": {k: clean(v) for k, v in self.ratio.items()},
            "boundary": self.boundary,
            "nominal_a": self.nominal_a,
            "notes": self.notes,
        }


def boundary(x: np.ndarray, y: np.ndarray, ratio: np.ndarray) -> list[list[float]]:
    """Points [x, y] where ``ratio`` crosses 1 along each row (linear in ln ratio): the
    A-beats-B boundary as a polyline (one crossing per row, the first from low x)."""
    out = []
    for j, row in enumerate(ratio):
        ln = np.log(np.where(np.isfinite(row) & (row > 0), row, np.nan))
        for i in range(len(x) - 1):
            a, b = ln[i], ln[i + 1]
            if np.isfinite(a) and np.isfinite(b) and (a < 0) != (b < 0):
                out.append([float(x[i] + (x[i + 1] - x[i]) * a / (a - b)), float(y[j])])
                break
    return out


def _exposures(result, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    key = f"exposure_kg_yr_{sigma:g}sigma"
    values = [p.get(key) for p in result.points]
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return arr.reshape(shape)


def exposure_ratio_map(
    model_a: str | Path,
    model_b: str | Path,
    x: Axis,
    y: Axis,
    *,
    sigma: float = 5.0,
    reference: str = "nominal",
    out_dir: str | Path | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> RatioMap:
    """Scan A over ``y`` × ``x`` (B as built, or over the same grid with ``reference="same"``)
    and return the A/B ratios per kg, per dollar and per nucleus (module docstring). With
    ``out_dir`` the scans stream to ``a.jsonl`` / ``b.jsonl`` there and resume from them."""
    from cevns_fit.detector import load_detector_model

    if reference not in ("nominal", "same"):
        raise InputError(f"--reference {reference!r}: allowed are nominal, same")
    if x.name == y.name:
        raise InputError(f"--vary {x.name} twice: a map needs two different parameters")
    if not (math.isfinite(sigma) and sigma > 0):
        raise InputError(f"--sigma {sigma!r}: must be a positive number")
    a, b = load_detector_model(model_a), load_detector_model(model_b)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    common = {
        "executor": executor,
        "scheduler": scheduler,
        "workers": workers,
        "sigmas": (float(sigma),),
        "progress": progress,
    }
    shape = (len(y.values), len(x.values))
    scans = [(model_a, [y, x], out / "a.jsonl" if out else None)]
    if reference == "same":  # both scans on one pool of workers
        scans.append((model_b, [y, x], out / "b.jsonl" if out else None))
    results = run_scans(scans, **common)
    exp_a = _exposures(results[0], sigma, shape)
    if reference == "same":
        exp_b = _exposures(results[1], sigma, shape)
    else:
        from cevns_fit.inference import exposure_needed
        from cevns_fit.templates import build_templates

        needed = exposure_needed(build_templates(b), sigma=sigma).exposure_kg_yr
        exp_b = np.full(shape, np.nan if needed is None else needed)
    cost = {m.name: m.cost_usd / m.mass_kg for m in (a, b)}
    nuclei = {m.name: m.target.total_nuclei_per_kg for m in (a, b)}
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = {
            "kg": exp_a / exp_b,
            "dollar": (cost[a.name] * exp_a) / (cost[b.name] * exp_b),
            "nucleus": (nuclei[a.name] * exp_a) / (nuclei[b.name] * exp_b),
        }
    xs, ys = np.asarray(x.values, float), np.asarray(y.values, float)
    notes = [
        f"ratio < 1: {a.name} needs less than {b.name} for a median {sigma:g}σ "
        + ("(B as built)" if reference == "nominal" else "(B at the same grid point)"),
        "costs are assumptions of the model files (material per kg + electronics per channel)",
    ]
    if cost[b.name] <= 0 or cost[a.name] <= 0:
        notes.append("a model has no cost: the per-dollar ratio is not meaningful")
    if "threshold" in (x.name, y.name) and "quenching" in (x.name, y.name):
        notes.append(
            "threshold is the electronic (observable) cut expressed in keVnr at A's nominal "
            "quenching; a different Q moves the nuclear-recoil threshold that cut means"
        )
    unreachable = int(np.sum(~np.isfinite(exp_a)))
    if unreachable:
        notes.append(f"{unreachable} grid point(s) where {a.name} cannot reach {sigma:g}σ")
    nominal = {"threshold": a.threshold_keVnr}
    if getattr(a.quenching, "value", None) is not None:
        nominal["quenching"] = float(a.quenching.value)
        nominal["quenching_sigma"] = float(getattr(a.quenching, "sigma", 0.0))
    return RatioMap(
        model_a=a.name,
        model_b=b.name,
        x=x,
        y=y,
        sigma=float(sigma),
        exposure_a_kg_yr=exp_a,
        exposure_b_kg_yr=exp_b,
        ratio=ratio,
        boundary={k: boundary(xs, ys, v) for k, v in ratio.items()},
        nominal_a=nominal,
        reference=reference,
        notes=notes,
    )
