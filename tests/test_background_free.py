"""Bins without background (issue 14's convention, cevns_fit.inference.background_free).

One event where the background-only hypothesis expects none excludes it (p0 = 0, Z = inf); the
median experiment sees such an event once the signal there reaches ln 2 events (P(0 | s) =
e^−s ≤ 1/2). Below that the median experiment sees nothing there and Z comes from the other
bins, with the empty background-free bins still in the likelihood: q0 is then the Poisson
likelihood ratio of a two-bin counting experiment, written out by hand below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from cevns_fit.inference import expected_significance, exposure_needed
from cevns_fit.templates import AnalysisTemplates, Channel, Sample


def two_bins(
    s_free: float, s_other: float, b: float, data=None, exposure_kg_yr: float = 1.0
) -> AnalysisTemplates:
    """Bin 0: signal ``s_free``, no background; bin 1: signal ``s_other`` over ``b``."""
    return binned([s_free, s_other], [0.0, b], data, exposure_kg_yr)


def binned(signal, background, data=None, exposure_kg_yr: float = 1.0) -> AnalysisTemplates:
    channel = Channel(
        "on",
        np.arange(len(signal) + 1, dtype=float),
        "n",
        (
            Sample("cevns", np.array(signal, float), norm_factor="mu"),
            Sample("bkg", np.array(background, float)),
        ),
    )
    t = AnalysisTemplates((channel,), exposure_kg_yr=exposure_kg_yr)
    return t if data is None else t.with_data({"on": list(data)})


def hand_q0(s_free: float, s_other: float, b: float, n_other: float) -> float:
    """q0 with no event in the background-free bin: ln L(μ) = −μ s_free + n ln(μ s + b) −
    (μ s + b) + const, maximised at μ̂ = (s n/(s_free + s) − b)/s (q0 = 0 for μ̂ ≤ 0)."""

    def ln_l(mu: float) -> float:
        lam = mu * s_other + b
        return -mu * s_free + n_other * math.log(lam) - lam

    mu_hat = (s_other * n_other / (s_free + s_other) - b) / s_other
    return 2.0 * (ln_l(mu_hat) - ln_l(0.0)) if mu_hat > 0 else 0.0


def test_below_ln2_the_median_z_comes_from_the_other_bins_with_the_free_bin_empty():
    # s_free = 0.05 < ln 2: the median experiment sees no event in bin 0; bin 1 gives a small Z
    s_free, s, b = 0.05, 5.0, 100.0
    result = expected_significance(two_bins(s_free, s, b))
    z = math.sqrt(hand_q0(s_free, s, b, s + b))
    assert 0.0 < z < 1.0  # a p0 between 0.16 and 0.5: tells sf(Z) from a rounded 1
    assert result.method == "background-free"
    assert result.Z_expected == pytest.approx(z, rel=1e-6, abs=0)
    assert result.p0_expected == pytest.approx(norm.sf(z), rel=1e-6, abs=0)
    assert result.notes == (
        "1 bin(s) with signal (0.05 events) have zero expected background: one event there "
        "excludes μ = 0 (p0 = 0, Z = inf); the median experiment sees one once s ≥ ln 2 = "
        "0.6931 events there",
    )


def test_observed_z_without_an_event_in_the_free_bin_is_the_two_bin_likelihood_ratio():
    s_free, s, b, n = 0.3, 5.0, 100.0, 108.0
    result = expected_significance(two_bins(s_free, s, b, data=[0.0, n]))
    z = math.sqrt(hand_q0(s_free, s, b, n))
    assert 0.0 < z < 1.0
    assert result.Z_observed == pytest.approx(z, rel=1e-6, abs=0)
    assert result.p0_observed == pytest.approx(norm.sf(z), rel=1e-6, abs=0)
    # a deficit: μ̂ = 0, Z = 0, p0 = 1
    deficit = expected_significance(two_bins(s_free, s, b, data=[0.0, 90.0]))
    assert deficit.Z_observed == 0.0 and deficit.p0_observed == 1.0
    # one event in the background-free bin: p0 = 0 whatever the other bin holds
    excluded = expected_significance(two_bins(s_free, s, b, data=[1.0, 90.0]))
    assert excluded.Z_observed == math.inf and excluded.p0_observed == 0.0


def test_signal_of_exactly_ln2_events_is_the_median_experiment_seeing_one_event():
    # P(0 | ln 2) = 1/2: the median count is 1 (the convention counts the tie as seen)
    at = expected_significance(two_bins(math.log(2.0), 5.0, 100.0))
    assert at.Z_expected == math.inf and at.p0_expected == 0.0
    below = expected_significance(two_bins(math.nextafter(math.log(2.0), 0.0), 5.0, 100.0))
    assert below.Z_expected < 1.0


def test_no_background_anywhere_and_no_event_is_z_zero_not_a_failure():
    result = expected_significance(two_bins(0.3, 0.2, 0.0, data=[0.0, 0.0]))
    assert result.Z_observed == 0.0 and result.p0_observed == 1.0
    assert result.Z_expected == 0.0 and result.p0_expected == 1.0  # 0.5 events < ln 2


@pytest.mark.parametrize("s", [10.0, 200.0])  # 5σ at 0.76 and at 0.02 of the templates' exposure
def test_exposure_where_the_other_bins_reach_5_sigma_before_the_free_bin_sees_an_event(s):
    # every count scales with the exposure, so q0(f) = f q0(1) on the median data and
    # 5σ needs f = 25/q0(1) times the templates' 2 kg·yr; the free bin then holds
    # f s_free ≪ ln 2 events
    s_free, b = 1e-3, 1.0
    q0 = hand_q0(s_free, s, b, s + b)
    factor = 25.0 / q0
    assert factor * s_free < math.log(2.0)
    result = exposure_needed(two_bins(s_free, s, b, exposure_kg_yr=2.0), 5.0, rtol=1e-8)
    assert result.exposure_kg_yr == pytest.approx(2.0 * factor, rel=1e-6, abs=0)
    assert result.notes == (
        "background-free bins: the median experiment sees ≥ 1 event there (p0 = 0) once their "
        f"signal reaches ln 2 = 0.6931 events, at {2.0 * math.log(2.0) / s_free:.6g} kg·yr",
    )


def test_exposure_is_where_the_free_signal_reaches_ln2_when_the_other_bins_are_weaker():
    # bin 1 alone stays far below 5σ until then (q0 ∝ exposure): the answer is ln 2 / s_free
    # times the templates' exposure, exactly
    s_free, s, b = 0.1, 1.0, 1e4
    assert 6.93 * hand_q0(s_free, s, b, s + b) < 25.0
    result = exposure_needed(two_bins(s_free, s, b, exposure_kg_yr=3.0), 5.0)
    assert result.exposure_kg_yr == pytest.approx(3.0 * math.log(2.0) / s_free, rel=1e-12, abs=0)


def test_a_bin_without_signal_or_background_is_not_background_free():
    # an empty bin predicts nothing under either hypothesis: it changes nothing, and the
    # other bin's Z and 5σ exposure are the plain counting ones
    s, b = 5.0, 100.0
    templates = binned([0.0, s], [0.0, b])
    result = expected_significance(templates)
    assert result.method == "asymptotic" and result.notes == ()
    z = math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))  # arXiv:1007.1727 Eq. 97
    assert result.Z_expected == pytest.approx(z, rel=1e-6, abs=0)
    needed = exposure_needed(templates, 5.0, rtol=1e-8)
    assert needed.exposure_kg_yr == pytest.approx((5.0 / z) ** 2, rel=1e-6, abs=0)
