"""Upper limits: :func:`upper_limit`, CLs limits on μ with expected bands and observed.

Asymptotic CLs for q̃_μ (arXiv:1007.1727 Eqs. 16, 65–66; Read, J. Phys. G 28 (2002) 2693;
pyhf 0.7.6's AsymptoticCalculator), q̃_μ profiled with warm starts (:class:`_QmuProfile`);
without any background, the exact Poisson CLs on the total count.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import FastFitResult, FastModel
from cevns_fit.inference.engine import _main_vector, _observed, compile_model
from cevns_fit.inference.results import LimitResult
from cevns_fit.likelihood import validate_templates
from cevns_fit.templates import AnalysisTemplates

# Largest signal strength searched for an upper limit; beyond it the signal is "too small".
MU_LIMIT_MAX = 1e8

_BANDS = (-2, -1, 0, 1, 2)


def _sqrt_q_target(alpha: float, band: float) -> float:
    """√q_μ,A where the expected CLs at ``band`` σ equals α: Φ(k − √q_A)/Φ(k) = α.

    Asymptotic CLs for q̃_μ with the background-only median shifted by k σ (arXiv:1007.1727
    Eqs. 65–66; pyhf's ``AsymptoticCalculator.expected_pvalues``).
    """
    return band - norm.ppf(alpha * norm.cdf(band))


class _QmuProfile:
    """q̃_μ on one dataset as a function of μ, with warm starts and a cache."""

    def __init__(self, fm: FastModel, main: np.ndarray, aux: np.ndarray, free) -> None:
        self.fm, self.main, self.aux, self.free = fm, main, aux, free
        self.init = free.pars.copy()
        self.cache: dict[float, float] = {}

    def q(self, mu: float, bounds: np.ndarray) -> float:
        if mu in self.cache:
            return self.cache[mu]
        mu_hat = self.free.pars[self.fm.poi_index]
        if mu_hat > mu:
            self.cache[mu] = 0.0
            return 0.0
        init = self.init.copy()
        init[self.fm.poi_index] = mu
        fit = self.fm.fit(
            self.main, self.aux, fix={self.fm.poi_index: mu}, init=init, bounds=bounds
        )
        if not fit.success:
            raise FitFailedError(f"fit at μ = {mu:.4g} did not converge: {fit.message}")
        self.init = fit.pars
        self.cache[mu] = max(2.0 * (fit.nll - self.free.nll), 0.0)
        return self.cache[mu]


def _cls_observed(q: float, q_a: float) -> float:
    """Asymptotic CLs for q̃_μ (pyhf 0.7.6 AsymptoticCalculator, arXiv:1007.1727 Eq. 66)."""
    sq, sqa = math.sqrt(q), math.sqrt(q_a)
    t = sq - sqa if sq <= sqa else (q - q_a) / (2.0 * sqa)
    return float(norm.cdf(-(t + sqa)) / norm.cdf(-t))


def upper_limit(
    templates: AnalysisTemplates,
    cl: float = 0.9,
    *,
    systematics: bool = True,
) -> LimitResult:
    """CLs upper limits on μ at ``cl`` with the q̃_μ asymptotic formulae.

    Expected: background-only Asimov data at nominal nuisances (pre-data), median and
    ±1σ/±2σ bands. Observed (when data are attached): q̃_μ on the data, with q̃_μ,A from the
    Asimov data generated at μ = 0 with nuisances fitted to the data, as pyhf does.
    """
    if not (isinstance(cl, int | float) and 0.5 <= cl < 1):
        raise InputError(f"confidence level must be in [0.5, 1), got {cl!r}")
    validate_templates(templates)
    alpha = 1.0 - cl
    observed = _observed(templates)
    s = templates.signal_total
    if s <= 0:
        return LimitResult(
            cl,
            None,
            {str(k): None for k in _BANDS},
            None,
            systematics=systematics,
            notes=("no CEvNS signal events: μ is unconstrained",),
        )
    if templates.background_total <= 0:
        return _background_free_limit(templates, cl, observed, systematics)
    fm = compile_model(templates, systematics=systematics)
    bounds = fm.bounds.copy()

    def asimov_profile(pars: np.ndarray) -> _QmuProfile:
        main, aux = fm.asimov(pars)
        nll, _ = fm.nll_and_grad(pars, main, aux)
        free = FastFitResult(pars, nll, True, 0, "Asimov: the generating point is the MLE")
        return _QmuProfile(fm, main, aux, free)

    def solve(func, target: float) -> float | None:
        """Smallest bracketed root of func(μ) = target, func increasing; widens μ bounds.
        None when no μ up to MU_LIMIT_MAX reaches it (a signal too small to constrain)."""
        hi = 1.0
        while True:
            bounds[fm.poi_index] = (0.0, max(10.0, 2.0 * hi))
            if func(hi) >= target:
                break
            hi *= 2.0
            if hi > MU_LIMIT_MAX:
                return None
        lo = 0.0
        return brentq(lambda m: func(m) - target, lo, hi, xtol=1e-6 * hi, rtol=1e-8)

    prof_b = asimov_profile(fm.nominal_pars(mu=0.0))
    band_limits = {}
    for k in _BANDS:
        target = _sqrt_q_target(alpha, k)
        band_limits[str(k)] = solve(lambda m: math.sqrt(prof_b.q(m, bounds)), target)
    mu_exp = band_limits["0"]
    notes = ["expected limits from background-only Asimov data at nominal nuisances"]
    if any(v is None for v in band_limits.values()):
        notes.append(
            f"signal too small ({s:.3g} events): no limit below mu = {MU_LIMIT_MAX:g} "
            "for some bands (null)"
        )

    mu_obs = None
    if observed is not None:
        main_obs = _main_vector(fm, observed)
        free = fm.fit(main_obs, fm.aux_nominal, bounds=bounds)
        fit0 = fm.fit(main_obs, fm.aux_nominal, fix={fm.poi_index: 0.0})
        if not (free.success and fit0.success):
            raise FitFailedError("fits to the observed data did not converge")
        prof_obs = _QmuProfile(fm, main_obs, fm.aux_nominal, free)
        prof_a = asimov_profile(fit0.pars)

        def one_minus_cls(m: float) -> float:
            if m <= 0:
                return 0.0
            q, q_a = prof_obs.q(m, bounds), prof_a.q(m, bounds)
            if q_a <= 0:
                return 0.0
            return 1.0 - _cls_observed(q, q_a)

        mu_obs = solve(one_minus_cls, 1.0 - alpha)
        if mu_obs is None:
            notes.append(f"no observed limit below mu = {MU_LIMIT_MAX:g}")
    return LimitResult(
        cl,
        mu_exp,
        band_limits,
        None if mu_exp is None else mu_exp * s,
        mu_upper_observed=mu_obs,
        signal_events_upper_observed=None if mu_obs is None else mu_obs * s,
        systematics=systematics,
        notes=tuple(notes),
    )


def _background_free_limit(templates, cl, observed, systematics) -> LimitResult:
    """Exact CLs for a model without background, on the total count n (Poisson):
    CLs = P(N ≤ n | μ s) / P(N ≤ n | 0) = P(N ≤ n | μ s), so μ_up s solves
    P(N ≤ n | μ_up s) = 1 − cl; for n = 0, μ_up s = −ln(1 − cl) (2.303 events at 90 % CL).
    The asymptotic formulae do not hold at zero counts (they give 1.35 events for n = 0).
    Background-only pseudo-data are always n = 0, so every expected band is the median."""
    s = templates.signal_total
    alpha = 1.0 - cl

    def events_up(n: float) -> float:
        if n == 0:
            return -math.log(alpha)
        return brentq(lambda x: poisson.cdf(n, x) - alpha, n, n + 20.0 * math.sqrt(n) + 20.0)

    s_exp = events_up(0)
    notes = [
        "no background: exact Poisson CLs on the total count (asymptotic formulae do not "
        "hold at zero counts); every expected band equals the median (background-only data "
        "are always empty)",
    ]
    if systematics:
        notes.append("signal uncertainties are not included in the background-free limit")
    s_obs = None
    if observed is not None:
        n_obs = float(sum(np.sum(v) for v in observed.values()))
        s_obs = events_up(n_obs)
    return LimitResult(
        cl,
        s_exp / s,
        {str(k): s_exp / s for k in _BANDS},
        s_exp,
        mu_upper_observed=None if s_obs is None else s_obs / s,
        signal_events_upper_observed=s_obs,
        method="exact Poisson CLs (no background)",
        systematics=systematics,
        notes=tuple(notes),
    )
