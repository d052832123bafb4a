"""The fast path's Gauss-Newton fit at the edges of its box and of its domain (issue 16,
mutation testing of cevns_fit/fastlik/fitting.py; the Fisher diagonal where bins expect
little or nothing is tests/test_fastlik_observed.py's Fisher test).

Fits whose best point lies on a bound (μ̂ = 0 for a deficit, μ̂ at the upper bound for a large
excess, warm starts on a bound), counts below one event, an infeasible background-only
hypothesis and a normalisation the data cannot see. References: the closed-form Poisson
maximum-likelihood estimate of counting experiments, and plain pyhf 0.7.6 (``pyhf.infer.mle.fit``
with the same ``par_bounds``, ``Model.logpdf``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cevns_fit.fastlik import FastModel
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample
from tests.test_fastlik import random_templates
from tests.test_fastlik_observed import DATA, templates_with_gaps
from tests.test_fastlik_workspace import spec as one_channel_spec


def counting_model(signal, background=None, extra=()) -> FastModel:
    """One channel, signal ``signal`` (per bin) scaled by μ, optional fixed background."""
    n = len(signal)
    samples = [Sample("cevns", np.asarray(signal, float), norm_factor="mu")]
    if background is not None:
        samples.append(Sample("steady_state", np.asarray(background, float)))
    samples.extend(extra)
    channel = Channel("main", np.arange(n + 1.0), "PE", tuple(samples))
    return FastModel.from_workspace(build_workspace(AnalysisTemplates((channel,), 1.0)))


def poisson_nll(lam, n) -> float:
    """−ln L of independent Poisson bins without data constants: Σ λ − n − n ln(λ/n)."""
    lam, n = np.asarray(lam, float), np.asarray(n, float)
    safe = np.where(n > 0, n, 1.0)
    return float(np.sum(lam - n - np.where(n > 0, n * np.log(lam / safe), 0.0)))


S, B = 10.0, 25.0  # one bin: signal at μ = 1, background; pyhf's μ bounds are [0, 10]


@pytest.mark.parametrize(
    ("n", "mu_hat"),
    [
        (47.0, 2.2),  # excess: μ̂ = (n − b)/s inside the box
        (35.5, 1.05),  # just above μ = 1
        (20.0, 0.0),  # deficit: the unconstrained (n − b)/s < 0, so μ̂ = 0 (lower bound)
        (24.0, 0.0),  # small deficit: ∂(−ln L)/∂μ = s(1 − n/b) = 0.4 at the bound
        (200.0, 10.0),  # excess beyond the box: μ̂ = 10 (upper bound), ∂/∂μ = −6 there
        (134.0, 10.0),  # just beyond: ∂(−ln L)/∂μ = s(1 − n/(b + 10 s)) = −0.72 at the bound
    ],
)
def test_counting_experiment_fit_is_the_poisson_mle_inside_pyhf_bounds(n, mu_hat):
    """One bin, λ = sμ + b: μ̂ = (n − b)/s clipped to [0, 10], −ln L at the minimum is the
    Poisson deviance there, reached by Gauss-Newton (exact Newton for λ linear in μ)."""
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([n]))
    assert fit.success and fit.message == "Newton converged"
    # Newton stops once the predicted decrease of −ln L is below ~1e-9
    assert fit.pars[fm.poi_index] == pytest.approx(mu_hat, rel=1e-5, abs=1e-12)
    assert fit.nll == pytest.approx(poisson_nll(S * mu_hat + B, n), rel=1e-9, abs=1e-9)
    # at a bound μ̂ is the bound itself, not a point near it
    if mu_hat in (0.0, 10.0):
        assert fit.pars[fm.poi_index] == mu_hat


@pytest.mark.parametrize(
    ("init", "n", "mu_hat"),
    [
        (10.0, 120.0, 9.5),  # start on the upper bound, ∂(−ln L)/∂μ = +0.4 points inwards
        (0.0, 25.5, 0.05),  # start on the lower bound, ∂(−ln L)/∂μ = −0.2 points inwards
        (0.0, 47.0, 2.2),
    ],
)
def test_warm_start_on_a_bound_moves_inwards_to_the_mle(init, n, mu_hat):
    """A parameter on a bound whose gradient points into the box is free: the fit leaves the
    bound (a warm start from a previous fit often sits on μ = 0)."""
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([n]), init=np.array([init]))
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(mu_hat, rel=1e-5, abs=0)


def test_background_only_fit_fixed_at_mu_zero_is_the_poisson_deviance_of_b():
    # all parameters fixed (the only one is μ): −ln L of the background alone, no steps taken
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([47.0]), fix={fm.poi_index: 0.0})
    assert fit.success and fit.pars[fm.poi_index] == 0.0
    assert fit.nll == pytest.approx(poisson_nll(B, 47.0), rel=1e-12, abs=0)


def test_counts_below_one_event_fit_the_pooled_estimate():
    """Two background-free bins expecting μ and 10 μ events hold 1 and 5: the MLE is the pooled
    Σn/Σs = 6/11, where the first bin expects 0.55 < 1 event (a legal point of the domain)."""
    fm = counting_model([1.0, 10.0])
    fit = fm.fit(np.array([1.0, 5.0]))
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(6.0 / 11.0, rel=1e-5, abs=0)
    assert fit.nll == pytest.approx(
        poisson_nll([6.0 / 11.0, 60.0 / 11.0], [1.0, 5.0]), rel=0, abs=1e-9
    )


def test_background_only_hypothesis_with_events_in_a_background_free_bin_is_infeasible():
    """μ = 0 expects no event in the background-free bins 6 and 7: two events there have
    probability zero, −ln L = ∞ for every nuisance value, and the fit must not report a
    converged minimum (q0 = ∞, not a finite number)."""
    fm = FastModel.from_workspace(build_workspace(templates_with_gaps()))
    data = DATA.copy()
    data[6] = 2.0
    fit = fm.fit(data, fm.aux_nominal, fix={fm.poi_index: 0.0})
    assert not fit.success
    assert fit.nll == math.inf
    free = fm.fit(data, fm.aux_nominal)  # with signal the same data are an ordinary fit
    assert free.success and math.isfinite(free.nll)


def test_a_normalisation_the_data_cannot_see_stays_put_and_the_fit_still_converges():
    """A free normalisation of a sample with no expected events (e.g. a background entirely
    below threshold) has no curvature; the fit converges by Newton, leaves it at its start and
    gives μ̂ of the model without that sample."""
    absent = Sample("absent", np.zeros(2), norm_factor="absent_norm")
    with_absent = counting_model([5.0, 10.0], [20.0, 5.0], extra=(absent,))
    without = counting_model([5.0, 10.0], [20.0, 5.0])
    data = np.array([30.0, 22.0])
    fit = with_absent.fit(data)
    ref = without.fit(data)
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[with_absent.set_slices["absent_norm"]][0] == 1.0
    assert fit.pars[with_absent.poi_index] == pytest.approx(
        ref.pars[without.poi_index], rel=1e-5, abs=0
    )
    assert fit.nll == pytest.approx(ref.nll, rel=1e-12, abs=1e-12)


def _count_kernel_calls(fm: FastModel) -> list[tuple[float, ...]]:
    """Record the parameter point of every λ evaluation of ``fm``'s kernel."""
    points: list[tuple[float, ...]] = []
    lam, lam_jac = fm._lam, fm._lam_jac

    def counted_lam(pars):
        points.append(tuple(pars))
        return lam(pars)

    def counted_lam_jac(pars, curvature=False):
        points.append(tuple(pars))
        return lam_jac(pars, curvature)

    fm._lam, fm._lam_jac = counted_lam, counted_lam_jac
    return points


@pytest.mark.parametrize("case", ["counting", "random"])
def test_reported_evaluations_are_the_likelihood_evaluations_made(case):
    """n_evaluations counts the points at which λ (hence −ln L) was computed: the start and
    every trial of the line search (a re-linearisation at the accepted point is no new
    evaluation)."""
    if case == "counting":
        fm, data, aux = counting_model([S], [B]), np.array([47.0]), None
    else:
        fm = FastModel.from_workspace(build_workspace(random_templates(3, stat=False)))
        data = np.random.default_rng(3).poisson(fm.expected_main(fm.nominal_pars(mu=1.6)))
        data, aux = data.astype(float), fm.aux_nominal
    points = _count_kernel_calls(fm)
    fit = fm.fit(data, aux)
    assert fit.message == "Newton converged"
    distinct = [p for k, p in enumerate(points) if k == 0 or p != points[k - 1]]
    assert fit.n_evaluations == len(distinct)
    assert fit.n_evaluations >= 2


def _plain_constrained_fit(workspace, fm, data, poi_bounds):
    """Plain pyhf's minimum of −ln L with μ inside ``poi_bounds`` (minuit, started at the
    suggested init with μ moved into its box)."""
    with pyhf_backend() as pyhf:
        model, _ = pyhf_model(workspace)
        poi = model.config.poi_index
        par_bounds = [list(b) for b in model.config.suggested_bounds()]
        par_bounds[poi] = [float(b) for b in poi_bounds]
        init = list(model.config.suggested_init())
        init[poi] = float(np.clip(init[poi], *poi_bounds))
        full = np.concatenate([data, model.config.auxdata])
        best = pyhf.infer.mle.fit(full, model, par_bounds=par_bounds, init_pars=init)
        return float(-model.logpdf(best, full)[0])


@pytest.mark.parametrize(
    ("n_bins", "seed", "side"),
    [(8, 22, "upper"), (8, 22, "lower"), (40, 21, "upper"), (40, 21, "lower")],
)
def test_fit_with_mu_held_at_a_bound_close_to_its_mle_equals_plain_pyhf(n_bins, seed, side):
    """μ's box ends 0.03 short of the unconstrained μ̂ (about σ_μ/8): the constrained minimum
    has μ on that bound with a small gradient (< 1) pushing outwards, and −ln L equals plain
    pyhf's fit with the same bounds. Eight bins: the active set in plain Python; forty with
    staterror (> 32 free parameters): the vectorised active set."""
    workspace = build_workspace(random_templates(seed, n_bins=n_bins))
    fm = FastModel.from_workspace(workspace)
    assert (int((~fm.fixed).sum()) > 32) == (n_bins > 32)
    data = np.random.default_rng(seed).poisson(fm.expected_main(fm.nominal_pars(mu=1.5)))
    data = data.astype(float)
    free = fm.fit(data, fm.aux_nominal)
    free_mu = free.pars[fm.poi_index]
    assert 0.5 < free_mu < 5.0
    bounds = fm.bounds.copy()
    edge = free_mu - 0.03 if side == "upper" else free_mu + 0.03
    bounds[fm.poi_index] = (0.0, edge) if side == "upper" else (edge, 10.0)
    fit = fm.fit(data, fm.aux_nominal, bounds=bounds)
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[fm.poi_index] == edge
    _, grad = fm.nll_and_grad(fit.pars, data, fm.aux_nominal)
    g = grad[fm.poi_index]
    assert (g < 0 if side == "upper" else g > 0) and abs(g) < 1.0
    nll = float(-fm.logpdf(fit.pars, data))
    plain = _plain_constrained_fit(workspace, fm, data, bounds[fm.poi_index])
    assert nll == pytest.approx(plain, rel=0, abs=1e-4)
    assert nll > float(-fm.logpdf(free.pars, data)) + 1e-3  # the bound does constrain the fit


@pytest.mark.parametrize("side", ["upper", "lower"])
def test_warm_start_on_a_bound_near_the_mle_returns_to_the_free_fit_with_many_parameters(side):
    """Forty bins with staterror (> 32 free parameters, the vectorised active set): μ's box
    ends 0.004 beyond μ̂ and the fit starts on that bound with the nuisances at their
    profiled values, so the gradient (≈ 0.7) points into the box. The fit must leave the bound
    and return the unconstrained minimum (the same μ̂ as without the bound, plain pyhf's
    −ln L)."""
    workspace = build_workspace(random_templates(21, n_bins=40))
    fm = FastModel.from_workspace(workspace)
    data = np.random.default_rng(21).poisson(fm.expected_main(fm.nominal_pars(mu=1.5)))
    data = data.astype(float)
    free = fm.fit(data, fm.aux_nominal)
    free_mu = free.pars[fm.poi_index]
    bounds = fm.bounds.copy()
    edge = free_mu + 0.004 if side == "upper" else free_mu - 0.004
    bounds[fm.poi_index] = (0.0, edge) if side == "upper" else (edge, 10.0)
    init = free.pars.copy()
    init[fm.poi_index] = edge
    _, grad = fm.nll_and_grad(init, data, fm.aux_nominal)
    assert 0.1 < abs(grad[fm.poi_index]) < 1.0
    fit = fm.fit(data, fm.aux_nominal, init=init, bounds=bounds)
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(free_mu, rel=0, abs=2e-4)
    plain = _plain_constrained_fit(workspace, fm, data, (0.0, 10.0))  # the bound does not bind
    assert float(-fm.logpdf(fit.pars, data)) == pytest.approx(plain, rel=0, abs=1e-4)


def test_a_failed_cholesky_step_falls_back_on_lbfgsb_and_still_finds_the_minimum(monkeypatch):
    """Should LAPACK's Cholesky solve ever report failure (info ≠ 0: a curvature matrix that
    is not numerically positive definite), Newton must not claim convergence at its current
    point: L-BFGS-B takes over from the start and reaches the same μ̂ = (n − b)/s."""
    from cevns_fit.fastlik import fitting

    def failing_dposv(a, b):
        return a, np.zeros_like(b), 1

    monkeypatch.setattr(fitting, "_dposv", failing_dposv)
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([47.0]))
    assert fit.success and fit.message != "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(2.2, rel=1e-4, abs=0)


def test_a_fit_started_at_the_exact_minimum_returns_it_without_a_step():
    """n = 45 = 2 s + b: at μ = 2 the gradient s(1 − n/λ) is exactly zero, so the predicted
    decrease of the Newton step is zero: Newton has converged at its start (one evaluation,
    the start returned unchanged, −ln L = 0 in the deviance convention), no fallback."""
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([45.0]), init=np.array([2.0]))
    assert fit.success and fit.message == "Newton converged"
    assert fit.n_evaluations == 1
    assert fit.pars[fm.poi_index] == 2.0
    assert fit.nll == 0.0


def _kernel_calls(fm: FastModel) -> list[tuple[str, float]]:
    """Record every kernel call of ``fm`` as ("lam" or "jac", μ)."""
    calls: list[tuple[str, float]] = []
    lam, lam_jac = fm._lam, fm._lam_jac

    def recorded_lam(pars):
        calls.append(("lam", float(pars[0])))
        return lam(pars)

    def recorded_lam_jac(pars, curvature=False):
        calls.append(("jac", float(pars[0])))
        return lam_jac(pars, curvature)

    fm._lam, fm._lam_jac = recorded_lam, recorded_lam_jac
    return calls


def _hand_projected_newton(s, b, n, mu, lo, hi, const=0.0):
    """The documented algorithm on one Poisson bin λ = sμ + b (λ linear: Gauss-Newton is exact
    Newton, H = n s²/λ²), written out by hand: predicted decrease d = g²/H; converged at once
    when d < max(1e-13 |nll|, 1e-12); the last step (d < 1e-9 + 1e-13 |nll|) is taken without
    a new Jacobian; steps projected on [lo, hi] and halved until Armijo's
    nll_new ≤ nll − 1e-4 t d (+ 1e-12 |nll| rounding slack). −ln L = ∞ where λ ≤ 0; ``const``
    is the −ln L of further bins that μ does not change. Returns the kernel calls ("jac" where
    the fit needs the Jacobian), the final μ and the number of −ln L evaluations (the start
    and every trial)."""

    def nll_of(m):
        lam = s * m + b
        return const + lam - n - n * math.log(lam / n) if lam > 0 else math.inf

    calls = [("jac", mu)]
    nll = nll_of(mu)
    n_eval = 1
    while True:
        lam = s * mu + b
        g = s * (1.0 - n / lam)
        if (mu <= lo and g > 0) or (mu >= hi and g < 0):
            return calls, mu, n_eval
        h = n * s * s / lam**2 + 1e-12
        step = -g / h
        d = g * g / h
        scale = max(1.0, abs(nll))
        if d < 1e-13 * scale or d < 1e-12:
            return calls, mu, n_eval
        last = d < 1e-9 + 1e-13 * scale
        t = 1.0
        for k in range(40):
            trial = min(max(mu + t * step, lo), hi)
            calls.append(("jac" if k == 0 and not last else "lam", trial))
            new = nll_of(trial)
            n_eval += 1
            if new <= nll - 1e-4 * t * d + 1e-12 * abs(nll):
                break
            t *= 0.5
        else:
            raise AssertionError("the hand calculation expects the line search to succeed")
        if last:
            return calls, trial, n_eval
        if k > 0:
            calls.append(("jac", trial))
        mu, nll = trial, new


@pytest.mark.parametrize(
    ("n", "init", "lo", "far"),
    [
        (47.0, 0.0, 0.0, False),  # full Newton steps from μ = 0 to μ̂ = 2.2
        (10.0, 5.0, -5.0, False),  # μ̂ = −1.5; the full step lands at λ < 0: halved 3 times
        (10.0, 5.0, -2.4999, False),  # the projected full step is uphill (λ = 0.001): halved
        (10.0, 5.0, -2.49584, False),  # projected step uphill by 0.02 < 1e-4 d = 0.042: halved
        (1.0, 5.0, -100.0, False),  # μ̂ = −2.4: λ > 0 needs t = 2⁻⁷ (decrease 43 > 1e-4 t d)
        (1e4, 0.0, 0.0, False),  # μ̂ = 997.5 from μ = 0: λ about doubles each step
        (47.0, 0.0, 0.0, True),  # −ln L ≈ 3.6e5 from a second bin (b = 1e3, n = 1e5) μ
        (1e4, 0.0, 0.0, True),  # does not change: the relative tolerances 1e-13 |nll|
        (47.0, 0.0, 0.0, 1e7),  # −ln L ≈ 3.6e7 (b = 1e5, n = 1e7): Armijo's rounding slack
        (1e4, 0.0, 0.0, 1e7),  # 1e-12 |nll| matters for the last steps
    ],
)
def test_newton_steps_and_line_search_follow_the_documented_algorithm(n, init, lo, far):
    """The points where a counting fit evaluates λ, and which of them also get the Jacobian,
    are those of the documented projected Newton iteration with Armijo backtracking (hand
    calculation above): sufficient decrease, halving, −ln L = ∞ outside λ > 0 (a negative μ
    bound, as pyhf allows), no new Jacobian for the last step nor for rejected trials."""
    if far:
        n_far = 1e5 if far is True else far
        fm, data = counting_model([S, 0.0], [B, n_far / 100.0]), np.array([n, n_far])
        const = poisson_nll([n_far / 100.0], [n_far])
    else:
        fm, data, const = counting_model([S], [B]), np.array([n]), 0.0
    bounds = np.array([[lo, 1e3]])
    calls = _kernel_calls(fm)
    fit = fm.fit(data, init=np.array([init]), bounds=bounds)
    expected, mu_end, n_eval = _hand_projected_newton(S, B, n, init, lo, 1e3, const)
    assert fit.success and fit.message == "Newton converged"
    # the Poisson MLE, to the precision of a predicted decrease below 1e-13 |nll| when far
    assert fit.pars[0] == pytest.approx((n - B) / S, rel=1e-4 if far else 1e-6, abs=0)
    assert fit.pars[0] == pytest.approx(mu_end, rel=1e-12, abs=1e-12)
    assert [kind for kind, _ in calls] == [kind for kind, _ in expected]
    np.testing.assert_allclose(
        [m for _, m in calls], [m for _, m in expected], rtol=1e-12, atol=1e-12
    )
    assert fit.n_evaluations == n_eval


def test_a_newton_fit_cut_off_by_its_iteration_cap_is_not_converged(monkeypatch):
    """Newton stopped by its iteration cap (here one iteration, far from the minimum) has not
    converged: the fit must say so and let L-BFGS-B finish, which reaches μ̂ = (n − b)/s."""
    import functools

    fm = counting_model([S], [B])
    newton = FastModel._newton
    monkeypatch.setattr(FastModel, "_newton", functools.partialmethod(newton, max_iter=1))
    fit = fm.fit(np.array([200.0]), init=np.array([0.0]), bounds=np.array([[0.0, 100.0]]))
    assert fit.success and fit.message != "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(17.5, rel=1e-5, abs=0)


def test_a_line_search_without_an_acceptable_point_keeps_the_current_point():
    """Should no trial point of the last step be acceptable (here: λ cannot be evaluated
    anywhere but at the start, the kernel returns NaN), the fit keeps its start, whose
    predicted decrease (1e-10, below 1e-8) already makes it the minimum to Newton's precision:
    converged, with the start's −ln L, never a point whose −ln L is unknown."""
    fm = counting_model([S], [B])
    n = 47.0
    curvature = n * S * S / n**2  # n s²/λ² at μ̂ = 2.2, where λ = n
    mu0 = 2.2 + math.sqrt(1e-10 / curvature)  # predicted decrease H δ² = 1e-10
    fm._lam = lambda pars: np.full(1, np.nan)
    fit = fm.fit(np.array([n]), init=np.array([mu0]))
    assert fit.success and fit.message == "Newton converged"
    assert fit.pars[fm.poi_index] == mu0
    # −ln L ≈ H δ²/2 = 5e-11 (the direct form λ − n − n ln(λ/n) cancels to ~1e-14)
    assert fit.nll == pytest.approx(poisson_nll([S * mu0 + B], [n]), rel=0, abs=1e-13)
    assert fit.n_evaluations == 41  # the start and 40 halvings


def test_a_solve_that_returns_an_ascent_direction_is_not_trusted(monkeypatch):
    """A step with a negative predicted decrease −gᵀΔ (an ascent direction, which an exact
    solve of a positive-definite system never gives) must not end the fit as converged at its
    start: L-BFGS-B takes over and reaches μ̂ = (n − b)/s."""
    from cevns_fit.fastlik import fitting

    solve = fitting._dposv

    def ascent_dposv(a, b):
        c, x, info = solve(a, b)
        return c, -x, info

    monkeypatch.setattr(fitting, "_dposv", ascent_dposv)
    fm = counting_model([S], [B])
    fit = fm.fit(np.array([47.0]))
    assert fit.success and fit.message != "Newton converged"
    assert fit.pars[fm.poi_index] == pytest.approx(2.2, rel=1e-4, abs=0)


def _polished_minimum(fm: FastModel, main, aux, start, fix_poi=None) -> float:
    """−ln L minimised by scipy's L-BFGS-B at tight tolerances from ``start`` (the reference
    for a fit's precision: an independent minimiser that can only go further down)."""
    from scipy.optimize import minimize

    free = ~fm.fixed.copy()
    x0 = np.array(start, float)
    if fix_poi is not None:
        free[fm.poi_index] = False
        x0[fm.poi_index] = fix_poi

    def fun(y):
        pars = x0.copy()
        pars[free] = y
        value, grad = fm.nll_and_grad(pars, main, aux)
        return value, grad[free]

    best = minimize(
        fun,
        x0[free],
        jac=True,
        method="L-BFGS-B",
        bounds=fm.bounds[free],
        options={"ftol": 1e-16, "gtol": 1e-13, "maxiter": 10000},
    )
    return min(float(best.fun), fun(x0[free])[0])


@pytest.mark.parametrize(
    ("seed", "stat", "scale", "q0_range"),
    [
        (12, False, 1e-5, (1e-4, 1e-3)),  # weak signal: 1e-7 (nll − ref) ≈ 1e-11 < 1e-9
        (21, True, 1.0, (20.0, 50.0)),  # 1e-7 (nll − ref) ≈ 1.7e-6 > 1e-9: relative rule
    ],
)
def test_relative_stopping_keeps_the_asimov_q0_to_1e_8(seed, stat, scale, q0_range):
    """The μ = 0 fit with the free fit's −ln L as reference (0 on Asimov data) stops once
    the predicted decrease is below max(1e-9, 1e-7 × (nll − reference)), and q0 keeps the
    promised precision < 1e-8 of q0, both for a tiny q0 (2.4e-4 at 1e-5 of the exposure: a
    tolerance growing as q0 shrinks would not) and for q0 ≈ 33, where the relative rule
    decides (a looser factor would not). Reference: the minimum polished by L-BFGS-B."""
    fm = FastModel.from_workspace(build_workspace(random_templates(seed, stat=stat)))
    fm = fm.scaled(scale)
    main, aux = fm.asimov(mu=1.0)
    fit = fm.fit(main, aux, fix={fm.poi_index: 0.0}, reference_nll=0.0)
    assert fit.success and fit.message == "Newton converged"
    q0_true = 2.0 * _polished_minimum(fm, main, aux, fit.pars, fix_poi=0.0)
    assert q0_range[0] < q0_true < q0_range[1]
    assert 2.0 * fit.nll == pytest.approx(q0_true, rel=1e-8, abs=0)


def test_relative_stopping_on_observed_data_keeps_q_to_1e_8():
    """Forty bins of Poisson data at a tenth of the exposure: −ln L of the free fit ≈ 24 (the
    deviance of 40 fluctuating bins), q0 ≈ 1.1. The μ = 0 fit given the free fit's −ln L as
    reference stops at 1e-7 × (nll − reference), relative to q0 not to −ln L itself, and
    keeps q0 to < 1e-8 of q0 (the independent reference: both minima polished by L-BFGS-B)."""
    fm = FastModel.from_workspace(build_workspace(random_templates(12, n_bins=40, stat=False)))
    fm = fm.scaled(0.1)
    rng = np.random.default_rng(12)
    data = rng.poisson(fm.expected_main(fm.nominal_pars(mu=0.5))).astype(float)
    free = fm.fit(data, fm.aux_nominal)
    assert free.success and free.nll > 20.0
    fit0 = fm.fit(
        data, fm.aux_nominal, fix={fm.poi_index: 0.0}, init=free.pars, reference_nll=free.nll
    )
    assert fit0.success and fit0.message == "Newton converged"
    nll_free = _polished_minimum(fm, data, fm.aux_nominal, free.pars)
    q0_true = 2.0 * (_polished_minimum(fm, data, fm.aux_nominal, fit0.pars, 0.0) - nll_free)
    assert 0.5 < q0_true < 2.0
    assert 2.0 * (fit0.nll - nll_free) == pytest.approx(q0_true, rel=1e-8, abs=0)


@pytest.mark.parametrize("alpha", [-1.7, -0.8, -0.3, 0.45, 0.9, 1.6])
def test_code4_normsys_derivatives_equal_finite_differences(alpha):
    """One bin, one asymmetric normsys (hi 1.5, lo 0.7): inside |α| < 1 code 4 is a 6th-order
    polynomial in α, beyond it hi^α or lo^−α; λ'(α) and λ''(α) of the compiled kernel equal
    the central differences of λ (every power's coefficient enters: an error in one
    derivative term shows)."""
    normsys = {"name": "k", "type": "normsys", "data": {"hi": 1.5, "lo": 0.7}}
    fm = FastModel.from_workspace(one_channel_spec([normsys], signal=(10.0,), background=(0.0,)))
    pars = fm.nominal_pars(mu=1.0)
    k = fm.set_slices["k"].start
    pars[k] = alpha
    lam, jac, curv = fm._lam_jac(pars, True)

    def lam_at(a: float) -> float:
        p = pars.copy()
        p[k] = a
        return float(fm.expected_main(p)[0])

    h = 1e-4
    first = (lam_at(alpha + h) - lam_at(alpha - h)) / (2 * h)
    second = (lam_at(alpha + h) - 2 * lam_at(alpha) + lam_at(alpha - h)) / h**2
    assert jac[k][0] == pytest.approx(first, rel=1e-7, abs=0)
    assert curv[k][0] == pytest.approx(second, rel=1e-5, abs=0)
