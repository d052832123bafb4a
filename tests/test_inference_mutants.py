"""Discovery and limit statistics where the mutation run of cevns_fit/inference found the
suite blind (issue 16, item 5): each test states the property and compares with a closed
form (single-bin counting, arXiv:1007.1727), the exact Poisson tail (scipy.stats) or plain
pyhf 0.7.6 (``infer.hypotest``).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import chi2, norm

from cevns_fit.errors import InputError
from cevns_fit.inference import expected_significance, upper_limit
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample
from tests.test_inference import counting


# ----------------------------------------------------------------------------- CLs limits
def _q_single_bin(mu: float, s: float, b: float, n: float) -> float:
    """q̃_μ for one bin without nuisances when n ≤ b (μ̂ = 0 on its bound): the likelihood
    ratio of μ against μ = 0, 2 (μ s − n ln(1 + μ s / b))."""
    return 2.0 * (mu * s - n * math.log1p(mu * s / b))


def _cls_closed_form(q: float, q_a: float) -> float:
    """Asymptotic CLs of q̃_μ (arXiv:1007.1727 Eqs. 65–66): the distribution of q̃_μ changes
    form at q̃_μ = q_μ,A."""
    if q <= q_a:
        t = math.sqrt(q) - math.sqrt(q_a)
    else:
        t = (q - q_a) / (2.0 * math.sqrt(q_a))
    return norm.sf(t + math.sqrt(q_a)) / norm.sf(t)


def _cls_single_bin_observed(mu: float, s: float, b: float, n: float) -> float:
    """Closed-form CLs at μ for one bin without nuisances and an excess n > b (μ̂ = (n − b)/s):
    q̃_μ = 2(μs + b − n ln(μs + b) − (n − n ln n)) for μ > μ̂ and 0 below it, q_μ,A from the
    background-only Asimov data n = b."""
    lam = mu * s + b
    q_obs = 2.0 * (lam - n * math.log(lam) - (n - n * math.log(n))) if mu > (n - b) / s else 0.0
    return _cls_closed_form(q_obs, _q_single_bin(mu, s, b, b))


def test_observed_limit_on_a_deficit_uses_the_far_branch_of_the_qtilde_distribution():
    """n = 38 on b = 50: q̃_μ(data) > q̃_μ,A at the limit, where the asymptotic distribution of
    q̃_μ is the Gaussian in (q̃ − q_A)/(2√q_A); the observed limit is where that CLs is 10 %."""
    s, b, n, cl = 10.0, 50.0, 38.0, 0.9

    def cls(mu: float) -> float:
        return _cls_closed_form(_q_single_bin(mu, s, b, n), _q_single_bin(mu, s, b, b))

    mu_up = brentq(lambda m: cls(m) - (1 - cl), 1e-3, 10.0, xtol=1e-12)
    assert _q_single_bin(mu_up, s, b, n) > _q_single_bin(mu_up, s, b, b)  # the far branch
    result = upper_limit(counting(s, b, data=n), cl)
    assert result.mu_upper_observed == pytest.approx(mu_up, rel=1e-4, abs=0)
    assert result.signal_events_upper_observed == pytest.approx(mu_up * s, rel=1e-4, abs=0)
    # a deficit gives a limit below the median expected one
    assert result.mu_upper_observed < result.mu_upper_expected


def test_observed_limit_on_a_deficit_with_a_nuisance_equals_pyhf_hypotest():
    """With a 10 % background normsys: plain pyhf's CLs (q̃_μ) at our observed limit is α."""
    templates = counting(10.0, 50.0, rel_b=0.1, data=38.0)
    result = upper_limit(templates, 0.95)
    with pyhf_backend() as pyhf:
        model, data = pyhf_model(build_workspace(templates))
        cls_obs = pyhf.infer.hypotest(result.mu_upper_observed, data, model, test_stat="qtilde")
    assert float(cls_obs) == pytest.approx(0.05, rel=2e-3, abs=0)


def test_limits_below_one_signal_strength_are_found():
    """A large signal (s = 100 on b = 50): the median 90 % CL limit μ_up ≈ 0.12 < 1, where the
    root search starts; the closed form 2 Φ(−√q_A) = α with q_A(μ) = 2(μs − b ln(1 + μs/b))."""
    s, b, cl = 100.0, 50.0, 0.9
    target = norm.isf((1 - cl) / 2)
    mu = brentq(lambda m: math.sqrt(_q_single_bin(m, s, b, b)) - target, 1e-6, 1.0, xtol=1e-14)
    assert mu < 1.0
    result = upper_limit(counting(s, b, data=b), cl)
    assert result.mu_upper_expected == pytest.approx(mu, rel=1e-5, abs=0)
    # data equal to the background expectation: the observed limit is the median expected one
    assert result.mu_upper_observed == pytest.approx(mu, rel=1e-5, abs=0)


def test_a_fifty_percent_limit_is_allowed_and_a_certain_one_is_refused():
    """cl = 0.5 is the smallest allowed level: the median limit solves Φ(−√q_A)/Φ(0) = 0.5,
    i.e. √q_A = Φ⁻¹(0.75); cl = 1 would exclude nothing and is an input error."""
    s, b = 10.0, 50.0
    target = norm.isf(0.25)
    mu = brentq(lambda m: math.sqrt(_q_single_bin(m, s, b, b)) - target, 1e-6, 100.0, xtol=1e-14)
    result = upper_limit(counting(s, b), 0.5)
    assert result.cl == 0.5
    assert result.mu_upper_expected == pytest.approx(mu, rel=1e-5, abs=0)
    for bad in (1.0, 0.4999, 1.2):
        with pytest.raises(InputError) as info:
            upper_limit(counting(s, b), bad)
        assert str(info.value) == f"confidence level must be in [0.5, 1), got {bad!r}"


def test_a_model_without_background_gets_the_exact_poisson_limit():
    """b = 0: CLs = P(N ≤ n | μ s), so the limit for n = 0 is μ_up s = −ln(1 − cl) events,
    where the asymptotic formulae would give 1.35 events at 90 % CL."""
    result = upper_limit(counting(4.0, 0.0), 0.9)
    assert result.signal_events_upper_expected == pytest.approx(-math.log(0.1), rel=1e-12, abs=0)
    assert result.mu_upper_expected == pytest.approx(-math.log(0.1) / 4.0, rel=1e-12, abs=0)
    assert result.method == "exact Poisson CLs (no background)"


def test_no_signal_gives_no_limit_in_any_band_and_says_why():
    result = upper_limit(counting(0.0, 10.0), 0.9)
    assert result.mu_upper_expected is None and result.signal_events_upper_expected is None
    assert result.mu_upper_expected_band == {str(k): None for k in (-2, -1, 0, 1, 2)}
    assert result.notes == ("no CEvNS signal events: μ is unconstrained",)


def test_limit_notes_say_where_the_expected_limits_come_from():
    result = upper_limit(counting(10.0, 50.0), 0.9)
    assert result.notes == (
        "expected limits from background-only Asimov data at nominal nuisances",
    )
    assert result.method == "asymptotic CLs (qtilde)"


@pytest.mark.parametrize(("s", "b"), [(10.0, 50.0), (0.5, 2.0), (3.0, 0.5)])
def test_expected_bands_are_the_closed_form_shifted_medians(s, b):
    """Band k: Φ(k − √q_A)/Φ(k) = α (arXiv:1007.1727 Eq. 66 with the background-only
    median shifted by k σ), on the single-bin q_A(μ) = 2(μs − b ln(1 + μs/b)); also for a
    signal below one event and a background below one event (still asymptotic CLs: only a
    background of exactly zero switches to the exact Poisson limit)."""
    cl = 0.9
    alpha = 1 - cl
    result = upper_limit(counting(s, b), cl)
    assert result.method == "asymptotic CLs (qtilde)"
    for k in (-2, -1, 0, 1, 2):
        target = k - norm.ppf(alpha * norm.cdf(k))
        mu = brentq(lambda m, t=target: math.sqrt(_q_single_bin(m, s, b, b)) - t, 1e-9, 1e3)
        assert result.mu_upper_expected_band[str(k)] == pytest.approx(mu, rel=1e-4, abs=0), k
    assert result.mu_upper_expected == result.mu_upper_expected_band["0"]
    assert result.signal_events_upper_expected == pytest.approx(
        result.mu_upper_expected * s, rel=1e-12, abs=0
    )


def test_an_observed_limit_far_above_the_workspace_poi_bound_is_the_closed_form():
    """s = 1 on b = 50 with n = 75 observed: μ̂ = 25, beyond the workspace's POI bound of 10,
    so the search must widen μ's bounds for the free fit too. Single bin, no nuisance:
    q̃_μ = 2(μs + b − n ln(μs + b) − (n − n ln n)) for μ ≥ μ̂, q_μ,A from the background-only
    Asimov data, CLs from arXiv:1007.1727 Eq. 66."""
    s, b, n, cl = 1.0, 50.0, 75.0, 0.9
    mu_hat = (n - b) / s

    def cls(mu: float) -> float:
        return _cls_single_bin_observed(mu, s, b, n)

    mu_up = brentq(lambda m: cls(m) - (1 - cl), mu_hat, 200.0, xtol=1e-12)
    assert mu_up > 10.0
    result = upper_limit(counting(s, b, data=n), cl)
    assert result.mu_upper_observed == pytest.approx(mu_up, rel=1e-4, abs=0)


# ----------------------------------------------------------------------------- discovery
@pytest.mark.parametrize(("s", "b"), [(1.0, 100.0), (4.0, 30.0)])
def test_a_weak_signal_has_the_small_closed_form_median_z_not_a_floor(s, b):
    """Z_A = √(2((s + b) ln(1 + s/b) − s)) (arXiv:1007.1727 Eq. 97) is 0.0998 for s = 1 on
    b = 100 and 0.70 for s = 4 on b = 30: q0 on Asimov data well below 1, never clipped up."""
    z_a = math.sqrt(2 * ((s + b) * math.log(1 + s / b) - s))
    assert z_a < 1.0
    result = expected_significance(counting(s, b))
    assert result.Z_expected == pytest.approx(z_a, rel=1e-4, abs=0)
    assert result.p0_expected == pytest.approx(norm.sf(z_a), rel=1e-4, abs=0)


def test_the_exact_poisson_tail_is_for_one_bin_only():
    """Two bins without any nuisance parameter (μ the only parameter): P(n ≥ n_med | b) of one
    bin is not the significance of the pair, so "exact" is refused and "auto" runs toys."""
    signal = Sample("cevns", np.array([2.0, 1.0]), norm_factor="mu")
    background = Sample("bkg", np.array([0.5, 0.5]))
    channel = Channel("on", np.array([0.0, 1.0, 2.0]), "n", (signal, background))
    templates = AnalysisTemplates((channel,), exposure_kg_yr=1.0)
    with pytest.raises(InputError) as info:
        expected_significance(templates, method="exact")
    assert str(info.value) == (
        "method 'exact' needs a single-bin counting model without nuisance parameters"
    )
    assert expected_significance(templates, method="auto", n_toys=50).method == "toys"


def test_a_limit_fit_that_does_not_converge_raises_naming_the_signal_strength(monkeypatch):
    """A q̃_μ fit at fixed μ that fails is an error naming that μ, never a limit."""
    from cevns_fit.errors import FitFailedError
    from cevns_fit.fastlik import FastFitResult, FastModel

    original = FastModel.fit

    def fit(self, main, aux=None, **kwargs):
        if kwargs.get("fix") and kwargs.get("bounds") is not None:
            return FastFitResult(self.init.copy(), math.inf, False, 1, "stub")
        return original(self, main, aux, **kwargs)

    monkeypatch.setattr(FastModel, "fit", fit)
    with pytest.raises(FitFailedError) as info:
        upper_limit(counting(10.0, 50.0), 0.9)
    assert re.fullmatch(r"fit at μ = [0-9.e+-]+ did not converge: stub", str(info.value))


def test_an_excess_is_no_evidence_against_larger_signals_so_the_limit_lies_above_mu_hat():
    """q̃_μ is one-sided: q̃_μ = 0 for μ ≤ μ̂ (arXiv:1007.1727 Eq. 16), so an excess never
    excludes the signal strengths below its own best fit. s = 20 on b = 10 with n = 60
    observed: μ̂ = 2.5, and the 75 % CL limit is where the closed-form CLs of q̃_μ (μ > μ̂)
    reaches 25 %; at μ = 1 and 2, below μ̂, CLs = 0.5/Φ(√q_μ,A) ≈ 0.5, nowhere near 25 %."""
    s, b, n, cl = 20.0, 10.0, 60.0, 0.75
    mu_hat = (n - b) / s

    def cls(mu: float) -> float:
        return _cls_single_bin_observed(mu, s, b, n)

    for mu in (1.0, 2.0):
        assert cls(mu) == pytest.approx(0.5, rel=1e-3, abs=0)
    mu_up = brentq(lambda m: cls(m) - (1 - cl), mu_hat, 10.0, xtol=1e-12)
    result = upper_limit(counting(s, b, data=n), cl)
    assert result.mu_upper_observed > mu_hat
    assert result.mu_upper_observed == pytest.approx(mu_up, rel=1e-4, abs=0)


@pytest.mark.parametrize("data", [None, 10.0])
def test_a_signal_too_small_to_constrain_has_no_limit_below_the_search_range_and_says_so(data):
    """s = 1e-9 events on b = 10: even at μ = 2²⁷ ≈ 1.3e8 (the first doubling beyond the
    search range 1e8) the signal is 0.13 events and √q_μ,A = √(2(μs − b ln(1 + μs/b))) ≈ 0.03
    stays below every band's target (the smallest, at −2σ, is −2 − Φ⁻¹(0.1 Φ(−2)) ≈ 0.84):
    no band has a limit, nor the observed n = b, and the notes say why."""
    s, b = 1e-9, 10.0
    mu_top = 2.0**27
    q_a = 2.0 * (mu_top * s - b * math.log1p(mu_top * s / b))
    assert math.sqrt(q_a) < -2.0 - norm.ppf(0.1 * norm.cdf(-2.0))
    result = upper_limit(counting(s, b, data=data), 0.9)
    assert result.mu_upper_expected is None and result.signal_events_upper_expected is None
    assert result.mu_upper_expected_band == {str(k): None for k in (-2, -1, 0, 1, 2)}
    assert result.mu_upper_observed is None and result.signal_events_upper_observed is None
    notes = (
        "expected limits from background-only Asimov data at nominal nuisances",
        "signal too small (1e-09 events): no limit below mu = 1e+08 for some bands (null)",
    )
    if data is not None:
        notes += ("no observed limit below mu = 1e+08",)
    assert result.notes == notes


@pytest.mark.parametrize("n", [0.0, 1.0, 3.0, 12.0, 400.0])
def test_an_observed_background_free_limit_is_the_classical_poisson_upper_limit(n):
    """Without background CLs = P(N ≤ n | μ s): the observed limit on the signal events is
    the classical Poisson upper limit, χ²_{2(n+1)}(cl)/2 (Garwood 1936; 2.30, 3.89, 6.68
    events for n = 0, 1, 3 at 90 % CL), whatever the expected limit and its bands (always
    the n = 0 limit −ln(1 − cl) events: background-only data are empty); the notes say so."""
    s, cl = 4.0, 0.9
    result = upper_limit(counting(s, 0.0, data=n), cl)
    events = chi2.ppf(cl, 2.0 * (n + 1.0)) / 2.0
    assert result.signal_events_upper_observed == pytest.approx(events, rel=1e-9, abs=0)
    assert result.mu_upper_observed == pytest.approx(events / s, rel=1e-9, abs=0)
    assert result.signal_events_upper_expected == pytest.approx(-math.log(0.1), rel=1e-12, abs=0)
    for k in ("-2", "-1", "0", "1", "2"):
        band = result.mu_upper_expected_band[k]
        assert band == pytest.approx(-math.log(0.1) / s, rel=1e-12, abs=0)
    assert result.notes == (
        "no background: exact Poisson CLs on the total count (asymptotic formulae do not "
        "hold at zero counts); every expected band equals the median (background-only data "
        "are always empty)",
        "signal uncertainties are not included in the background-free limit",
    )


def test_an_observed_limit_that_is_found_adds_no_note():
    """n = 55 on b = 50 (s = 10): the observed limit lies inside the search range, so the only
    note is where the expected limits come from."""
    result = upper_limit(counting(10.0, 50.0, data=55.0), 0.9)
    assert result.mu_upper_observed is not None and 0.0 < result.mu_upper_observed < 10.0
    assert result.notes == (
        "expected limits from background-only Asimov data at nominal nuisances",
    )


@pytest.mark.parametrize("failing", ["free", "mu = 0"])
def test_an_observed_limit_whose_data_fits_do_not_converge_raises(monkeypatch, failing):
    """The observed q̃_μ needs the free fit and the μ = 0 fit (for q_μ,A's nuisances) to the
    data; either one failing is an error, never a limit from an unconverged fit."""
    from cevns_fit.errors import FitFailedError
    from cevns_fit.fastlik import FastFitResult, FastModel

    original = FastModel.fit
    data = np.array([55.0])

    def fit(self, main, aux=None, **kwargs):
        on_data = np.array_equal(main, data)
        is_free = on_data and not kwargs.get("fix")
        is_mu0 = on_data and kwargs.get("fix") and kwargs.get("bounds") is None
        if (failing == "free" and is_free) or (failing == "mu = 0" and is_mu0):
            return FastFitResult(self.init.copy(), math.inf, False, 1, "stub")
        return original(self, main, aux, **kwargs)

    monkeypatch.setattr(FastModel, "fit", fit)
    with pytest.raises(FitFailedError) as info:
        upper_limit(counting(10.0, 50.0, data=55.0), 0.9)
    assert str(info.value) == "fits to the observed data did not converge"
