"""Compare detector configurations: per kg, per nucleus, per channel and per dollar.

For each detector model: the CEvNS signal after detector response per kg·yr and per nucleus,
the median expected discovery significance at a common reference exposure, the exposures for
3σ and 5σ, channels, and costs. Every cost input is an assumption of the model file and is
labelled so in the output.

The seed's central question (Jesús-Valls & Sánchez 2023, Sec. 6): below which recoil threshold
does a CsPbI3 array beat a Ge array? :func:`threshold_crossover` scans the first model's
threshold (keVnr at its nominal quenching; the observable threshold, a cut on the electronics,
then stays fixed while the quenching factor moves across its ±1σ band) and answers two
different questions, named apart in every output:

* **beats the reference as built**: the threshold below which the challenger's 5σ exposure
  (per kg) or its cost to reach 5σ in one year (per dollar) is below the reference model's at
  the reference's *own nominal* threshold (``per_kg_threshold_keVnr``, ...);
* **curves cross**: the thresholds where the two models' curves cross when both are scanned
  over the same thresholds (``curves_cross_per_kg_keVnr``, ...), i.e. which technology wins
  at an equal recoil threshold (:func:`curve_crossings`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cevns_fit.detector import DetectorModel
from cevns_fit.inference import expected_significance, exposure_needed
from cevns_fit.scan import Axis, run_scans
from cevns_fit.templates import build_templates

__all__ = [
    "DetectorSummary",
    "summarize",
    "ThresholdCurve",
    "threshold_curves",
    "threshold_curves_of",
    "Crossover",
    "curve_crossings",
    "threshold_crossover",
    "z_vs_exposure",
]

REFERENCE_EXPOSURE_KG_YR = 1.0


@dataclass(frozen=True)
class DetectorSummary:
    """One detector model's figures of merit (DESIGN.md §3 ``compare`` keys and more)."""

    name: str
    model: str
    target: str
    observable: str
    threshold: float
    threshold_keVnr: float
    mass_kg: float
    channels: int
    exposure_kg_yr: float
    signal_events_per_kg_yr: float
    background_events_per_kg_yr: float
    signal_events_per_nucleus_yr: float
    Z_at_reference_exposure: float
    reference_exposure_kg_yr: float
    exposure_kg_yr_3sigma: float | None
    exposure_kg_yr_5sigma: float | None
    reason_3sigma: str | None
    reason_5sigma: str | None
    cost_usd: float
    cost_usd_per_kg: float
    cost_usd_for_5sigma_in_1yr: float | None
    cost_assumptions: dict

    def to_dict(self) -> dict:
        return asdict(self)


def _cost_per_kg(model: DetectorModel) -> float:
    """Material plus electronics per kg of array (channels scale with mass at fixed sensor size)."""
    return model.cost_usd / model.mass_kg


def summarize(
    model: DetectorModel, reference_exposure_kg_yr: float = REFERENCE_EXPOSURE_KG_YR
) -> DetectorSummary:
    """Figures of merit of one detector model at a common reference exposure (kg·yr)."""
    templates = build_templates(model, exposure_kg_yr=reference_exposure_kg_yr)
    per_kg_yr = templates.signal_total / reference_exposure_kg_yr
    if templates.signal_total > 0:
        z_ref = expected_significance(templates).Z_expected
        three, five = (exposure_needed(templates, sigma=s) for s in (3.0, 5.0))
        needed = {3: (three.exposure_kg_yr, three.reason), 5: (five.exposure_kg_yr, five.reason)}
    else:
        z_ref = 0.0
        needed = {s: (None, "no CEvNS signal above threshold") for s in (3, 5)}
    cost_kg = _cost_per_kg(model)
    five_exposure = needed[5][0]
    return DetectorSummary(
        name=model.name,
        model=str(model.path),
        target=model.target.name,
        observable=model.observable,
        threshold=model.threshold,
        threshold_keVnr=model.threshold_keVnr,
        mass_kg=model.mass_kg,
        channels=model.channels,
        exposure_kg_yr=model.exposure_kg_yr,
        signal_events_per_kg_yr=per_kg_yr,
        background_events_per_kg_yr=templates.background_total / reference_exposure_kg_yr,
        signal_events_per_nucleus_yr=per_kg_yr / model.target.total_nuclei_per_kg,
        Z_at_reference_exposure=z_ref,
        reference_exposure_kg_yr=reference_exposure_kg_yr,
        exposure_kg_yr_3sigma=needed[3][0],
        exposure_kg_yr_5sigma=five_exposure,
        reason_3sigma=needed[3][1],
        reason_5sigma=needed[5][1],
        cost_usd=model.cost_usd,
        cost_usd_per_kg=cost_kg,
        # a 1-year run reaching 5σ needs a mass of exposure/(1 yr); its cost follows per kg
        cost_usd_for_5sigma_in_1yr=None if five_exposure is None else five_exposure * cost_kg,
        cost_assumptions=model.cost.to_dict(),
    )


@dataclass(frozen=True)
class ThresholdCurve:
    """5σ exposure (kg·yr) of one model vs threshold (keVnr at nominal quenching)."""

    name: str
    label: str
    quenching: float | None  # the quenching shift in units of its 1σ (None: as in the model)
    threshold_keVnr: np.ndarray
    exposure_kg_yr_5sigma: np.ndarray  # NaN where unreachable
    cost_usd_per_kg: float

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "quenching": self.quenching,
            "threshold_keVnr": self.threshold_keVnr,
            "exposure_kg_yr_5sigma": self.exposure_kg_yr_5sigma,
            "cost_usd_per_kg": self.cost_usd_per_kg,
        }


def _quenching_band(model: DetectorModel) -> list[tuple[str, float | None]]:
    """Scan values of ``quenching_sigma`` for the nominal and ±1σ curves: the model's own
    quenching moved by ∓1σ (Q ± σ_Q, Lindhard k ± σ_k, tabulated points ± errors)."""
    if not model.quenching.has_uncertainty:
        return [("nominal", None)]
    return [("nominal", None), ("Q -1 sigma", -1.0), ("Q +1 sigma", 1.0)]


def threshold_curves(
    model: DetectorModel,
    thresholds_keVnr: np.ndarray,
    *,
    quenching_band: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> list[ThresholdCurve]:
    """The 5σ exposure vs threshold, nominal and (models with a quenching uncertainty) with
    the quenching moved by ±1σ; all curves come from one scan (one pool of workers)."""
    return threshold_curves_of(
        [model],
        thresholds_keVnr,
        quenching_band=quenching_band,
        workers=workers,
        progress=progress,
    )


def threshold_curves_of(
    models: list[DetectorModel],
    thresholds_keVnr: np.ndarray,
    *,
    quenching_band: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> list[ThresholdCurve]:
    """:func:`threshold_curves` of several models, model after model, from one batch of
    scans on one pool of workers (:func:`cevns_fit.scan.run_scans`)."""
    thresholds = tuple(float(t) for t in thresholds_keVnr)
    scans, layouts = [], []
    for model in models:
        variants = _quenching_band(model) if quenching_band else [("nominal", None)]
        axes = [Axis("threshold", thresholds)]
        if len(variants) > 1:
            # nominal = a shift of 0σ (varied(0) is the loaded quenching)
            shifts = tuple(0.0 if q is None else q for _, q in variants)
            axes.insert(0, Axis("quenching_sigma", shifts))
        scans.append((model.path, axes, None))
        layouts.append((model, variants))
    results = run_scans(scans, sigmas=(5.0,), workers=workers, progress=progress)
    curves = []
    for (model, variants), scan in zip(layouts, results, strict=True):
        exposures = np.array(
            [
                np.nan if p.get("exposure_kg_yr_5sigma") is None else p["exposure_kg_yr_5sigma"]
                for p in scan.points
            ]
        ).reshape(len(variants), len(thresholds))
        curves += [
            ThresholdCurve(
                model.name,
                label,
                q_value,
                np.asarray(thresholds, float),
                row,
                _cost_per_kg(model),
            )
            for (label, q_value), row in zip(variants, exposures, strict=True)
        ]
    return curves


@dataclass(frozen=True)
class Crossover:
    """Threshold (keVnr) below which ``challenger`` needs less exposure (or money) for 5σ."""

    challenger: str
    reference: str
    quenching_label: str
    reference_exposure_kg_yr_5sigma: float | None
    per_kg_threshold_keVnr: float | None
    per_dollar_threshold_keVnr: float | None
    note: str | None
    # where the challenger's and the reference's nominal curves cross at equal thresholds
    curves_cross_per_kg_keVnr: tuple[float, ...] = ()
    curves_cross_per_dollar_keVnr: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def _crossing(thresholds: np.ndarray, values: np.ndarray, target: float) -> float | None:
    """Largest threshold where ``values`` (rising with threshold) falls to ``target``: the
    threshold below which the challenger wins; log-linear interpolation between grid points."""
    finite = np.isfinite(values)
    wins = finite & (values <= target)
    if not wins.any():
        return None
    last = int(np.max(np.nonzero(wins)))
    if last == len(values) - 1:
        return float(thresholds[last])  # still winning at the top of the grid
    nxt = last + 1
    if not finite[nxt]:
        return float(thresholds[last])
    lo, hi = np.log(values[last]), np.log(values[nxt])
    frac = (np.log(target) - lo) / (hi - lo) if hi != lo else 0.0
    return float(thresholds[last] + frac * (thresholds[nxt] - thresholds[last]))


def curve_crossings(thresholds: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, ...]:
    """Thresholds where two curves on the same grid cross (log-linear interpolation of
    log a − log b between grid points where its sign changes); NaN points are skipped."""
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.log(np.asarray(a, float)) - np.log(np.asarray(b, float))
    out = []
    for i in range(len(diff) - 1):
        d0, d1 = diff[i], diff[i + 1]
        if not (np.isfinite(d0) and np.isfinite(d1)):
            continue
        if d0 == 0.0:
            out.append(float(thresholds[i]))
        elif d0 * d1 < 0.0:
            frac = d0 / (d0 - d1)
            out.append(float(thresholds[i] + frac * (thresholds[i + 1] - thresholds[i])))
    return tuple(out)


def threshold_crossover(
    curves: list[ThresholdCurve],
    reference: DetectorSummary,
    reference_curves: list[ThresholdCurve] = (),
) -> list[Crossover]:
    """Where each challenger curve overtakes the reference detector at its nominal threshold
    (the reference as built) and, given the reference's nominal curve on the same grid, where
    the two curves cross at equal thresholds."""
    ref_nominal = next((c for c in reference_curves if c.label == "nominal"), None)
    out = []
    ref_exposure = reference.exposure_kg_yr_5sigma
    for curve in curves:
        if ref_exposure is None:
            out.append(
                Crossover(
                    curve.name,
                    reference.name,
                    curve.label,
                    None,
                    None,
                    None,
                    f"{reference.name} never reaches 5 sigma: {reference.reason_5sigma}",
                )
            )
            continue
        per_kg = _crossing(curve.threshold_keVnr, curve.exposure_kg_yr_5sigma, ref_exposure)
        dollars = curve.exposure_kg_yr_5sigma * curve.cost_usd_per_kg
        per_dollar = _crossing(
            curve.threshold_keVnr, dollars, ref_exposure * reference.cost_usd_per_kg
        )
        crossings: dict = {}
        if ref_nominal is not None and np.array_equal(
            ref_nominal.threshold_keVnr, curve.threshold_keVnr
        ):
            ref = ref_nominal.exposure_kg_yr_5sigma
            crossings = {
                "curves_cross_per_kg_keVnr": curve_crossings(
                    curve.threshold_keVnr, curve.exposure_kg_yr_5sigma, ref
                ),
                "curves_cross_per_dollar_keVnr": curve_crossings(
                    curve.threshold_keVnr, dollars, ref * ref_nominal.cost_usd_per_kg
                ),
            }
        note = None
        if per_kg is None:
            note = "challenger needs more exposure than the reference at every scanned threshold"
        elif per_kg == curve.threshold_keVnr[-1]:
            note = "challenger wins up to the largest scanned threshold"
        out.append(
            Crossover(
                curve.name,
                reference.name,
                curve.label,
                ref_exposure,
                per_kg,
                per_dollar,
                note,
                **crossings,
            )
        )
    return out


def z_vs_exposure(model: DetectorModel, exposures_kg_yr: np.ndarray) -> np.ndarray:
    """Median expected Z at each exposure (kg·yr); templates built once and rescaled."""
    templates = build_templates(model)
    return np.array(
        [
            expected_significance(templates.scaled_to(float(e))).Z_expected
            if templates.signal_total > 0
            else 0.0
            for e in exposures_kg_yr
        ]
    )
