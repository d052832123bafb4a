"""Zero background: discovery Z and the exposure needed with background-free bins.

In bins with signal but exactly zero expected background one event excludes μ = 0 (p0 = 0,
Z = inf); the median experiment sees one once the signal there reaches ln 2 events (the
convention below, docs/ARCHITECTURE.md, issue 14). The exact CLs limit without any background
is in :mod:`cevns_fit.inference.limits`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from cevns_fit.errors import FitFailedError
from cevns_fit.fastlik import FastModel
from cevns_fit.inference.engine import _main_vector, _q0, _z_from_q0
from cevns_fit.inference.results import ExposureResult, SignificanceResult

# Convention for bins without background (documented in docs/ARCHITECTURE.md, issue 14):
# the background-only hypothesis predicts exactly 0 events there, so one event in such a bin
# excludes it with certainty: p0 = 0 and Z = +inf (the b → 0 limit of Cowan's
# Z_A = √(2((s+b) ln(1+s/b) − s)), which diverges like √(2 s ln(s/b))). The *median*
# experiment sees ≥ 1 event there iff P(0 | s) = e^(−s) ≤ 1/2, i.e. s ≥ ln 2 signal events;
# below that the median experiment sees none there and its Z comes from the other bins.
LN2 = math.log(2.0)


def _background_free_bins(fm: FastModel) -> np.ndarray:
    """Main bins with signal (μ = 1) but exactly zero expected background (μ = 0, nominal)."""
    b = fm.expected_main(fm.nominal_pars(mu=0.0))
    sb = fm.expected_main(fm.nominal_pars(mu=1.0))
    return (b <= 0.0) & (sb > 0.0)


def _background_free_z(fm: FastModel, free_bins: np.ndarray, main: np.ndarray) -> float:
    """Z of a dataset: +inf with an event in a background-free bin, else asymptotic q0."""
    if np.any(main[free_bins] > 0):
        return math.inf
    if not np.any(fm.expected_main(fm.nominal_pars(mu=0.0)) > 0):
        return 0.0  # no events and no background anywhere: nothing to test
    return _z_from_q0(_q0(fm, main, fm.aux_nominal))


def _median_background_free_z(fm: FastModel, free_bins: np.ndarray) -> tuple[float, float]:
    """(s in background-free bins, median expected Z): Asimov data at μ = 1 elsewhere and
    the median count (0 below ln 2 signal events, else ≥ 1) in the background-free bins."""
    main = fm.expected_main(fm.nominal_pars(mu=1.0))
    s_free = float(main[free_bins].sum())
    if s_free >= LN2:
        return s_free, math.inf
    main = np.where(free_bins, 0.0, main)
    return s_free, _background_free_z(fm, free_bins, main)


def _background_free_significance(fm, free_bins, observed, common) -> SignificanceResult:
    s_free, z_exp = _median_background_free_z(fm, free_bins)
    notes = [
        f"{int(free_bins.sum())} bin(s) with signal ({s_free:.4g} events) have zero expected "
        "background: one event there excludes μ = 0 (p0 = 0, Z = inf); the median experiment "
        f"sees one once s ≥ ln 2 = {LN2:.4f} events there"
    ]
    z_obs = None
    if observed is not None:
        z_obs = _background_free_z(fm, free_bins, _main_vector(fm, observed))
    return SignificanceResult(
        z_exp,
        float(norm.sf(z_exp)) if z_exp > 0 else 1.0,
        "background-free",
        **common,
        Z_observed=z_obs,
        p0_observed=None if z_obs is None else (float(norm.sf(z_obs)) if z_obs > 0 else 1.0),
        notes=tuple(notes),
    )


def _background_free_exposure(fm, free_bins, sigma, ref, systematics, rtol) -> ExposureResult:
    """Exposure for a median Z of ``sigma`` with background-free bins (convention above):
    at the latest where the signal there reaches ln 2 events (Z jumps to inf), earlier if the
    other bins alone reach ``sigma`` with the background-free bins empty."""
    s_free, z_ref = _median_background_free_z(fm, free_bins)
    factor_free = LN2 / s_free

    def z_below(factor: float) -> float:
        scaled = fm.scaled(factor)
        main = np.where(free_bins, 0.0, scaled.expected_main(scaled.nominal_pars(mu=1.0)))
        return _background_free_z(scaled, free_bins, main)

    factor = factor_free
    eps = 1e-9 * factor_free
    if z_below(factor_free - eps) >= sigma:
        lo = factor_free - eps
        while z_below(lo) >= sigma and lo > 1e-15 * factor_free:
            lo *= 0.5
        if z_below(lo) >= sigma:
            raise FitFailedError(f"Z stays above {sigma:g} at vanishing exposure")
        root = brentq(
            lambda x: z_below(math.exp(x)) - sigma,
            math.log(lo),
            math.log(factor_free - eps),
            xtol=rtol,
            rtol=1e-12,
        )
        factor = math.exp(root)
    note = (
        f"background-free bins: the median experiment sees ≥ 1 event there (p0 = 0) once their "
        f"signal reaches ln 2 = {LN2:.4f} events, at {factor_free * ref:.6g} kg·yr"
    )
    return ExposureResult(factor * ref, sigma, None, ref, z_ref, systematics, notes=(note,))
