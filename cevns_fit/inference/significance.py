"""Discovery significance: :func:`expected_significance` (median expected, and observed).

Asymptotic (Z = √q0 on Asimov data; Cowan et al., arXiv:1007.1727 Eqs. 12, 24, 52), seeded
toys (the reference at low counts), exact Poisson tail (single-bin counting without
nuisances), "auto", and plain pyhf for cross-checks; models with background-free bins go to
:mod:`cevns_fit.inference.background_free`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, poisson

from cevns_fit.errors import InputError
from cevns_fit.fastlik import FastModel
from cevns_fit.inference.background_free import (
    _background_free_bins,
    _background_free_significance,
)
from cevns_fit.inference.engine import (
    _asimov_q0,
    _main_vector,
    _observed,
    _q0,
    _single_bin_counting,
    _toy_q0s,
    _z_from_q0,
    compile_model,
)
from cevns_fit.inference.results import SignificanceResult
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model, validate_templates
from cevns_fit.templates import AnalysisTemplates

# Below this many expected background events the asymptotic formulas overstate Z
# (s = 3, b = 0.5, n = 3: asymptotic 2.40 vs exact Poisson 2.19): "auto" uses toys.
LOW_COUNT_BACKGROUND = 5.0

METHODS = ("asymptotic", "toys", "exact", "auto")


def expected_significance(
    templates: AnalysisTemplates,
    *,
    method: str = "asymptotic",
    fast: bool = True,
    systematics: bool = True,
    n_toys: int = 2000,
    seed: int = 0,
    compiled: FastModel | None = None,
) -> SignificanceResult:
    """Median expected discovery Z (Asimov at μ = 1, q0 at μ = 0), observed Z with data.

    ``method``: "asymptotic" (Z = sqrt(q0); arXiv:1007.1727 Eq. 52), "toys" (seeded numpy
    Generator; p0 = fraction of background-only toys with q0 ≥ the median q0 of signal toys),
    "exact" (single-bin Poisson tail), or "auto". ``fast=False`` uses plain pyhf.
    ``compiled``: :func:`compile_model` of these templates with these ``systematics``, when
    the caller has it already (a scan point also solving for exposures): not compiled again.
    """
    if method not in METHODS:
        raise InputError(f"method {method!r}: allowed {', '.join(METHODS)}")
    if not isinstance(n_toys, int) or n_toys < 10:
        raise InputError(f"n_toys must be an integer >= 10, got {n_toys!r}")
    if compiled is None:
        validate_templates(templates)
    observed = _observed(templates)
    s, b = templates.signal_total, templates.background_total
    common = dict(
        exposure_kg_yr=templates.exposure_kg_yr,
        signal_events=s,
        background_events=b,
        systematics=systematics,
    )
    notes: list[str] = []
    if s <= 0.0:
        return SignificanceResult(
            0.0,
            0.5,
            "none",
            **common,
            Z_observed=0.0 if observed else None,
            p0_observed=0.5 if observed else None,
            notes=("no CEvNS signal events (threshold above every recoil?): Z = 0",),
        )
    fm = compiled if compiled is not None else compile_model(templates, systematics=systematics)
    free_bins = _background_free_bins(fm)
    if free_bins.any():
        return _background_free_significance(fm, free_bins, observed, common)
    if method == "auto":
        if b >= LOW_COUNT_BACKGROUND:
            method = "asymptotic"
        else:
            method = "exact" if _single_bin_counting(fm) else "toys"
    if method == "asymptotic" and b < LOW_COUNT_BACKGROUND:
        notes.append(
            f"expected background {b:.3g} < {LOW_COUNT_BACKGROUND:g} events: asymptotic Z "
            "overstates the significance; use method='toys'"
        )
    if method == "exact":
        return _exact_significance(fm, observed, common, notes)
    if not fast:
        if method == "toys":
            raise InputError("toys run on the fast likelihood: use fast=True with method='toys'")
        return _plain_significance(templates, systematics, observed, common, notes)

    q0_exp, _ = _asimov_q0(fm)
    z_exp = _z_from_q0(q0_exp)
    z_obs = q0_obs = None
    if observed is not None:
        main_obs = _main_vector(fm, observed)
        q0_obs = _q0(fm, main_obs, fm.aux_nominal)
        z_obs = _z_from_q0(q0_obs)
    if method == "asymptotic":
        return SignificanceResult(
            z_exp,
            float(norm.sf(z_exp)),
            "asymptotic",
            **common,
            Z_observed=z_obs,
            p0_observed=None if z_obs is None else float(norm.sf(z_obs)),
            notes=tuple(notes),
        )

    # toys: the test-statistic distributions from seeded pseudo-experiments
    rng = np.random.default_rng(seed)
    sb_q0 = _toy_q0s(fm, fm.nominal_pars(mu=1.0), n_toys, rng)
    b_pars = fm.nominal_pars(mu=0.0)
    b_q0 = _toy_q0s(fm, b_pars, n_toys, rng)
    q0_median = float(np.median(sb_q0))
    p0_exp, z_exp, note = _toy_pvalue(b_q0, q0_median)
    notes.extend(note)
    p0_obs = None
    if observed is not None:
        # background-only toys around the μ = 0 fit to the data (the conditional MLE)
        fit0 = fm.fit(main_obs, fm.aux_nominal, fix={fm.poi_index: 0.0})
        b_obs_q0 = _toy_q0s(fm, fit0.pars, n_toys, rng)
        p0_obs, z_obs, note = _toy_pvalue(b_obs_q0, q0_obs)
        notes.extend(f"observed: {n}" for n in note)
    return SignificanceResult(
        z_exp,
        p0_exp,
        "toys",
        **common,
        Z_observed=z_obs,
        p0_observed=p0_obs,
        n_toys=n_toys,
        seed=seed,
        notes=tuple(notes),
    )


def _toy_pvalue(b_q0: np.ndarray, q0_value: float) -> tuple[float, float, list[str]]:
    """p-value and Z of ``q0_value`` against background-only toys; notes if unresolved."""
    n = len(b_q0)
    # a tiny tolerance so that a toy landing exactly on a discrete q0 value counts as ≥
    count = int(np.sum(b_q0 >= q0_value * (1 - 1e-9) - 1e-12))
    if q0_value <= 0.0:
        return 1.0, 0.0, []
    if count == 0:
        p0 = 1.0 / n
        return (
            p0,
            float(norm.isf(p0)),
            [
                f"no background-only toy reached q0 = {q0_value:.3g}: p0 < {p0:.2g}, so Z is a "
                f"lower bound; use more toys"
            ],
        )
    p0 = count / n
    return p0, float(norm.isf(p0)), []


def _exact_significance(fm, observed, common, notes) -> SignificanceResult:
    """Single-bin counting with known background: Poisson tail P(n ≥ n_med | b)."""
    if not _single_bin_counting(fm):
        raise InputError(
            "method 'exact' needs a single-bin counting model without nuisance parameters"
        )
    b = float(fm.expected_main(fm.nominal_pars(mu=0.0))[0])
    sb = float(fm.expected_main(fm.nominal_pars(mu=1.0))[0])
    n_median = float(poisson.median(sb))
    p0_exp = float(poisson.sf(n_median - 1, b))
    z_exp = max(float(norm.isf(p0_exp)), 0.0)
    z_obs = p0_obs = None
    if observed is not None:
        n_obs = float(_main_vector(fm, observed)[0])
        p0_obs = float(poisson.sf(n_obs - 1, b))
        z_obs = max(float(norm.isf(p0_obs)), 0.0)
    return SignificanceResult(
        z_exp,
        p0_exp,
        "exact",
        **common,
        Z_observed=z_obs,
        p0_observed=p0_obs,
        notes=tuple(notes) + (f"median signal-plus-background count n = {n_median:g}",),
    )


def _plain_significance(templates, systematics, observed, common, notes) -> SignificanceResult:
    """The same test in plain pyhf (numpy backend, minuit), for cross-checks and benchmarks."""
    workspace = build_workspace(templates, systematics=systematics)
    with pyhf_backend() as pyhf:
        model, data = pyhf_model(workspace)
        init = model.config.suggested_init()
        bounds = model.config.suggested_bounds()
        fixed = model.config.suggested_fixed()
        pars = np.array(init, float)
        pars[model.config.poi_index] = 1.0
        asimov = model.expected_data(pars)
        only_poi = sum(not f for f in fixed) == 1

        def q0_test(poi: float, dataset, *args) -> float:
            if not only_poi:
                return float(pyhf.infer.test_statistics.q0(poi, dataset, model, *args))
            # μ is the only free parameter: the μ = 0 "fit" has nothing to fit, and pyhf's
            # minuit optimizer crashes on it (HESSE with all parameters fixed), so evaluate
            # that likelihood directly
            best, twice_nll = pyhf.infer.mle.fit(dataset, model, *args, return_fitted_val=True)
            if best[model.config.poi_index] <= poi:
                return 0.0
            pars0 = np.array(best, float)
            pars0[model.config.poi_index] = poi
            return max(float(-2.0 * model.logpdf(pars0, dataset)[0] - twice_nll), 0.0)

        z_exp = _z_from_q0(q0_test(0.0, asimov, init, bounds, fixed))
        z_obs = None
        if observed is not None:
            z_obs = _z_from_q0(q0_test(0.0, data, init, bounds, fixed))
    return SignificanceResult(
        z_exp,
        float(norm.sf(z_exp)),
        "asymptotic",
        **common,
        Z_observed=z_obs,
        p0_observed=None if z_obs is None else float(norm.sf(z_obs)),
        notes=tuple(notes) + ("plain pyhf (numpy + minuit)",),
    )
