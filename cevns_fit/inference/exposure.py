"""Exposure solving: :func:`exposure_needed`, the exposure for a median expected Z of σ.

Newton's method on the concave q0(exposure factor), its slope from each μ = 0 fit by the
envelope theorem (:func:`_q0_slope`, :func:`_newton_exposure`); where Newton cannot decide, a
bracket from the Z ∝ √exposure guess and brentq on ln exposure; None with the limiting
systematic when Z saturates below σ.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import FastModel
from cevns_fit.inference.background_free import _background_free_bins, _background_free_exposure
from cevns_fit.inference.engine import _asimov_q0, _z_from_q0, compile_model
from cevns_fit.inference.impacts import _impacts
from cevns_fit.inference.results import ExposureResult
from cevns_fit.likelihood import validate_templates
from cevns_fit.templates import AnalysisTemplates


def exposure_needed(
    templates: AnalysisTemplates,
    sigma: float = 5.0,
    *,
    systematics: bool = True,
    max_factor: float = 1e6,
    rtol: float = 1e-4,
    compiled: FastModel | None = None,
) -> ExposureResult:
    """Exposure (kg·yr) where the median expected Z reaches ``sigma``.

    The model is compiled once (or taken from ``compiled``, see
    :func:`expected_significance`); each trial exposure rescales it (all counts are linear
    in exposure) and warm-starts from the previous μ = 0 fit. Newton-like steps on the
    concave q0(exposure), its slope from each fit by the envelope theorem
    (:func:`_newton_exposure`), need 2–4 fits (one shared with the Z at the model's own
    exposure); where they cannot decide, the root is bracketed from the
    Z ∝ sqrt(exposure) guess and found by brentq on ln exposure. If Z at
    ``max_factor`` × the reference exposure is still below ``sigma``, returns None and names
    the systematic whose fixing gains the most there.
    """
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise InputError(f"sigma must be a positive number, got {sigma!r}")
    if compiled is None:
        validate_templates(templates)
    ref = templates.exposure_kg_yr
    if templates.signal_total <= 0:
        return ExposureResult(
            None,
            sigma,
            "no CEvNS signal events (threshold above every recoil?)",
            ref,
            0.0,
            systematics,
        )
    fm = compiled if compiled is not None else compile_model(templates, systematics=systematics)
    free_bins = _background_free_bins(fm)
    if free_bins.any():
        return _background_free_exposure(fm, free_bins, sigma, ref, systematics, rtol)
    state = {"init": None, "fits": 0}
    cache: dict[float, float] = {}
    slopes: dict[float, float] = {}

    def z_at(factor: float) -> float:
        if factor in cache:
            return cache[factor]
        # the reference exposure cold-started (its fit is shared with the point's Z), the
        # others warm-started from the previous fit
        scaled, init = (fm, None) if factor == 1.0 else (fm.scaled(factor), state["init"])
        q0, pars = _asimov_q0(scaled, init=init)
        state["init"], state["fits"] = pars, state["fits"] + 1
        cache[factor] = _z_from_q0(q0)
        slopes[factor] = _q0_slope(fm, pars, q0, factor)
        return cache[factor]

    z_ref = z_at(1.0)
    newton = _newton_exposure(z_at, slopes, sigma, max_factor, rtol)
    if newton is not None:
        return ExposureResult(newton * ref, sigma, None, ref, z_ref, systematics, state["fits"])
    lo_f = hi_f = None
    # first guess from Z ∝ sqrt(exposure) (exact without systematics at large background)
    factor = (sigma / z_ref) ** 2 if z_ref > 0 else max_factor
    factor = min(max(factor, 1e-12), max_factor)
    for _ in range(60):
        z = z_at(factor)
        if abs(z - sigma) <= 1e-9 * sigma:  # the sqrt-law guess can be exact
            return ExposureResult(factor * ref, sigma, None, ref, z_ref, systematics, state["fits"])
        if z >= sigma:
            hi_f = factor
            if lo_f is not None:
                break
            # going down Z falls at least as fast as sqrt(exposure): this lands below target
            factor *= min(0.5, (sigma / z) ** 2 / 1.5)
            if factor < 1e-15:
                raise FitFailedError(f"Z stays above {sigma:g} at vanishing exposure")
        else:
            lo_f = factor
            if hi_f is not None or factor >= max_factor:
                break
            # systematics make Z grow slower than sqrt(exposure): overshoot the sqrt guess
            factor = min(factor * max(2.0, 1.5 * (sigma / max(z, 1e-300)) ** 2), max_factor)
    if hi_f is None:
        z_max = z_at(max_factor)
        worst = None
        if systematics:
            _, impacts = _impacts(fm.scaled(max_factor), z_max)
            # name a systematic only if fixing it actually gains significance
            if impacts and impacts[0].delta_Z > max(1e-3 * z_max, 1e-6):
                worst = impacts[0]
        reason = (
            f"median Z saturates at {z_max:.3g} < {sigma:g} even at {max_factor:g} × the "
            f"reference exposure ({max_factor * ref:.3g} kg·yr)"
        )
        if worst is None:
            reason += (
                f"; the signal is too small ({templates.signal_total:.3g} events at the "
                f"reference exposure against {templates.background_total:.3g} background)"
            )
        else:
            reason += (
                f"; systematics limit it, most of all '{worst.parameter}' "
                f"(Z = {worst.Z_fixed:.3g} with it fixed)"
            )
        return ExposureResult(
            None,
            sigma,
            reason,
            ref,
            z_ref,
            systematics,
            state["fits"],
            None if worst is None else worst.parameter,
        )
    # ln-exposure root; endpoints go through exp(log()), so re-key the bracket exactly
    cache[math.exp(math.log(lo_f))] = cache[lo_f]
    cache[math.exp(math.log(hi_f))] = cache[hi_f]
    root = brentq(
        lambda x: z_at(math.exp(x)) - sigma,
        math.log(lo_f),
        math.log(hi_f),
        xtol=rtol,
        rtol=1e-12,
    )
    return ExposureResult(math.exp(root) * ref, sigma, None, ref, z_ref, systematics, state["fits"])


def _q0_slope(fm: FastModel, pars: np.ndarray, q0: float, factor: float) -> float:
    """dq0/d(exposure factor) of the Asimov discovery test, from its μ = 0 fit alone.

    On Asimov data scaled by f the deviance's Poisson part is f·P(θ) exactly (data and
    expectation both scale), the constraints C(θ) do not depend on f, so
    q0(f) = 2 min_θ [f P(θ) + C(θ)]: by the envelope theorem dq0/df = 2 P(θ̂) =
    (q0 − 2 C(θ̂))/f. As a minimum of functions affine in f, q0 is concave in f."""
    c = fm.constrained
    nominal = fm.nominal_pars(mu=1.0)
    diff = (pars[c] - nominal[c]) / fm.aux_sigma[c]
    constraint = 0.5 * float(diff @ diff)
    return max(q0 - 2.0 * constraint, 0.0) / factor


def _origin_quadratic_root(f: float, q0: float, slope: float, target: float) -> float | None:
    """Where q(x) = a x + b x², the parabola through the origin with q0's value and slope at
    f, reaches ``target``: a model of the concave q0 that also knows q0(0) = 0, exact
    without systematics (b = 0) and close to it with them. None without a root in x > 0."""
    b = (slope * f - q0) / (f * f)
    a = slope - 2.0 * b * f
    if b == 0.0:
        return target / a if a > 0 else None
    disc = a * a + 4.0 * b * target
    if disc < 0.0:
        return None
    root = (-a + math.sqrt(disc)) / (2.0 * b)  # the smaller positive root for b < 0
    return root if root > 0 else None


def _newton_exposure(z_at, slopes, sigma: float, max_factor: float, rtol: float):
    """The factor where the median Z reaches ``sigma``, one μ = 0 fit per step (slopes from
    :func:`_q0_slope`). Each step goes to the root of the parabola through the origin with
    q0's value and slope (:func:`_origin_quadratic_root`): Newton's method that also uses
    q0(0) = 0, converging quadratically. From above the root (q0 > σ²) the parabola always
    reaches σ² between 0 and f; from below, where it may not (Z saturating), a Newton step on
    the concave q0(f) − σ², whose iterates rise to the root monotonically. None if it cannot
    decide (no slope, the factor leaves (0, max_factor], no convergence): the caller then
    brackets and bisects."""
    target = sigma * sigma
    factor = 1.0
    for _ in range(30):
        z, slope = z_at(factor), slopes[factor]
        if not (slope > 0 and math.isfinite(slope)):
            return None
        q0 = z * z
        step = (target - q0) / slope
        if abs(step) <= 0.1 * rtol * factor and abs(z - sigma) <= rtol * sigma:
            return factor + step  # the last step is quadratically small: take it unchecked
        new = _origin_quadratic_root(factor, q0, slope, target)
        if new is None:  # below the root, a parabola that never reaches σ²
            new = factor + step
        if not (0.0 < new <= max_factor):
            return None
        factor = new
    return None
