"""CEvNS templates per flux component, and their spread over the time and PSD axes.

True-recoil rates (:mod:`cevns_fit.rates`) through the response matrix
(:mod:`cevns_fit.response`) give an energy template E_c per flux component
(:func:`signal_templates_by_component`, nominal and ±1σ); with a time axis it is spread by
the component's arrival-time probabilities T_c (the source's pulse model shifted by t0, or the
model's tabulated PDFs), with a PSD axis by the nuclear-recoil P(psd | energy bin), without
either by the fraction inside the beam window (:func:`axis_spreads`,
:func:`beam_window_fractions`). Also the exposure bookkeeping of every builder
(:func:`_kg_days`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cevns_fit.constants import DAYS_PER_YEAR
from cevns_fit.detector import DetectorModel
from cevns_fit.errors import InputError
from cevns_fit.response import (
    recoil_counts_per_kg_day,
    response_variations,
    true_recoil_edges_keVnr,
)


@dataclass(frozen=True)
class SignalTemplate:
    """CEvNS counts of one flux component per analysis bin at ``exposure_kg_yr``.

    ``variations`` maps "quenching", "threshold", "resolution" (those with a 1σ) to the
    (down, up) templates at −1σ/+1σ of that parameter; ``timing`` is the component's
    "prompt"/"delayed"/None, for energy × arrival-time analyses."""

    component: str
    timing: str | None
    bin_edges: np.ndarray
    nominal: np.ndarray
    variations: dict[str, tuple[np.ndarray, np.ndarray]]
    exposure_kg_yr: float

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "timing": self.timing,
            "bin_edges": self.bin_edges,
            "nominal": self.nominal,
            "variations": {k: {"down": lo, "up": hi} for k, (lo, hi) in self.variations.items()},
            "exposure_kg_yr": self.exposure_kg_yr,
        }


def _kg_days(model: DetectorModel, exposure_kg_yr: float | None) -> tuple[float, float]:
    exposure = model.exposure_kg_yr if exposure_kg_yr is None else float(exposure_kg_yr)
    if not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"exposure_kg_yr = {exposure_kg_yr!r}: must be a positive finite number")
    return exposure, exposure * DAYS_PER_YEAR


def signal_templates_by_component(
    model: DetectorModel,
    *,
    exposure_kg_yr: float | None = None,
    bin_edges: np.ndarray | None = None,
) -> dict[str, SignalTemplate]:
    """Nominal and ±1σ CEvNS templates per flux component (e.g. prompt ν_μ, delayed ν_e,
    delayed ν̄_μ), in the model's observable bins or ``bin_edges``, at ``exposure_kg_yr``
    (default: the model's). Counts are events per bin after quenching, smearing and efficiency."""
    exposure, kg_days = _kg_days(model, exposure_kg_yr)
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    true_edges = true_recoil_edges_keVnr(model)
    recoils = recoil_counts_per_kg_day(model, true_edges)
    nominal_m, variation_m = response_variations(model, true_edges, edges)
    timing = {c.name: c.timing for c in model.source.components}
    out = {}
    for name, r in recoils.items():
        out[name] = SignalTemplate(
            component=name,
            timing=timing[name],
            bin_edges=edges,
            nominal=kg_days * (r @ nominal_m),
            variations={
                k: (kg_days * (r @ lo), kg_days * (r @ hi)) for k, (lo, hi) in variation_m.items()
            },
            exposure_kg_yr=exposure,
        )
    return out


def beam_window_fractions(model: DetectorModel) -> dict[str, float]:
    """Fraction of each flux component's CEvNS events inside the source's beam window.

    A pulsed source with a signal window (e.g. SNS: 6 µs after each pulse) reduces the
    steady-state background by its duty factor; the same window keeps only the neutrinos that
    arrive in it (SNS: all prompt ν_μ, ~93 % of the delayed ν_e, ν̄_μ). Steady sources and
    components without timing keep everything. (With a time axis the axis is the window:
    see :func:`axis_spreads`.)"""
    timing = model.source.timing
    return {
        c.name: 1.0 if timing is None or c.timing is None else _window_fraction(timing, c.timing)
        for c in model.source.components
    }


def _window_fraction(timing, timing_class: str) -> float:
    """``timing.window_fraction``, once per (frozen, hashable) pulse timing and class: it
    integrates the pulse shape over the window (~0.5 ms), and a scan asks at every point."""
    try:
        return _cached_window_fraction(timing, timing_class)
    except TypeError:  # a timing built with unhashable fields (e.g. a list): no cache
        return timing.window_fraction(timing_class)


@lru_cache(maxsize=64)
def _cached_window_fraction(timing, timing_class: str) -> float:
    return timing.window_fraction(timing_class)


def axis_spreads(
    model: DetectorModel, edges: np.ndarray, *, time_shift_us: float = 0.0
) -> dict[str, np.ndarray]:
    """Per flux component, the array that spreads its energy template over the other axes:
    shape (n_energy, [n_time], [n_psd]) — the arrival-time probabilities in each time bin and
    the nuclear-recoil P(psd | energy bin). Without a time axis the beam-window fraction
    (constant in energy) takes the time probabilities' place: the window still selects the
    neutrinos, with or without a PSD axis."""
    kept = beam_window_fractions(model)
    n_e = len(edges) - 1
    psd = None
    if model.psd_axis is not None:
        psd = model.psd_axis.matrix(model.psd_axis.nuclear, edges)
    out = {}
    for c in model.source.components:
        spread = np.ones(n_e)
        if model.time_axis is not None:
            axis = model.time_axis.shifted(time_shift_us)
            t = axis.probabilities(c.timing, model.source.timing)
            spread = spread[:, None] * t[None, :]
        else:
            spread = spread * kept[c.name]
        if psd is not None:
            spread = spread[..., None] * (psd[:, None, :] if spread.ndim == 2 else psd)
        out[c.name] = spread
    return out
