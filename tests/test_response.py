"""Response-matrix shortcuts: each must give what the plain construction gives.

* the threshold's ±1σ matrices share the nominal smearing (computed once on the union of
  their fine bins) and equal the matrices built one by one;
* an analysis bin over which the efficiency is flat gets one fine bin, not four: the same
  content, since every sub-bin would be multiplied by the same efficiency;
* photo-electron counts take their probabilities from closed-form pmfs (Poisson,
  negative binomial) summed up, equal to scipy's distributions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cevns_fit import response
from cevns_fit.detector import load_detector_model
from cevns_fit.efficiency import LogisticEfficiency, StepEfficiency
from cevns_fit.resolution import PoissonPEResolution, PolyaPEResolution
from tests.handcalc import gaussian_bin_average

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


def _relative_to_row(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a − b| per matrix element, relative to the row's total probability."""
    scale = np.maximum(np.abs(a).sum(axis=1, keepdims=True), 1e-300)
    return float(np.max(np.abs(a - b) / scale))


@pytest.mark.parametrize("name", ["cspbi3_array", "ge_array", "coherent_csi_2017"])
def test_shared_smearing_equals_matrices_built_one_by_one(name):
    model = load_detector_model(DETECTORS / f"{name}.toml")
    true_edges = response.true_recoil_edges_keVnr(model)
    nominal, variations = response.response_variations(model, true_edges)
    settings = response.variation_settings(model)
    assert "threshold" in settings  # the shared path is exercised
    alone = response.response_matrix(true_edges, model)
    np.testing.assert_array_equal(nominal, alone)
    for key, (down, up) in settings.items():
        ref_down = response.response_matrix(true_edges, model, **down)
        ref_up = response.response_matrix(true_edges, model, **up)
        np.testing.assert_array_equal(variations[key][0], ref_down)
        np.testing.assert_array_equal(variations[key][1], ref_up)


def test_a_bin_with_flat_efficiency_gets_one_fine_bin_and_the_same_content():
    """Step efficiency at 7.3 keVee in 2-keVee bins: every bin but the one holding the step
    keeps only its own edges (plus the step); the content equals the 4-sub-bin construction
    (sub-bins of a flat efficiency add up to the bin) to rounding."""
    model = load_detector_model(DETECTORS / "cspbi3_array.toml")
    edges = np.arange(2.0, 22.01, 2.0)
    step = StepEfficiency(7.3)
    fine, index = response.fine_edges(edges, step, n_fine=4)
    np.testing.assert_array_equal(fine, np.union1d(edges, [7.3]))
    true_edges = response.true_recoil_edges_keVnr(model)
    merged = response.response_matrix(true_edges, model, efficiency=step, bin_edges=edges)
    # the same with four sub-bins per bin everywhere (no merging): the plain construction
    sub, sub_index = response._uniform_fine_edges(edges, 4, (7.3,))
    parts = response.smeared_cdf(true_edges, sub, model.quenching, model.resolution, model.gain)
    plain = response.smeared_probabilities(parts) * step(0.5 * (sub[1:] + sub[:-1]))
    plain = response.rebin(plain, sub_index)
    assert _relative_to_row(merged, plain) < 1e-12
    assert merged[:, 2:].sum() > 0.1 * merged.sum()  # bins above the step are populated


def test_a_sloped_efficiency_keeps_its_refinement():
    """Where the efficiency changes, nothing is merged: a logistic turn-on keeps its sub-bins
    (and the halvings near the turn-on), flat only far above it."""
    eff = LogisticEfficiency(a=1.0, k=3.0, x0=5.0, heaviside=None)
    edges = np.arange(2.0, 40.01, 2.0)
    fine, _ = response.fine_edges(edges, eff, n_fine=4)
    per_bin = np.histogram(0.5 * (fine[1:] + fine[:-1]), bins=edges)[0]
    assert np.all(per_bin[:4] >= 4)  # 2–10 keVee: the turn-on
    assert per_bin[-1] == 1  # 38–40 keVee: 1 − ε < 1e-12 there


@pytest.mark.parametrize("mean", [0.0, 1e-3, 0.7, 6.0, 40.0, 300.0])
def test_poisson_pe_probabilities_equal_scipy(mean):
    pmf = PoissonPEResolution().count_pmf(40, np.array([mean]))[0]
    np.testing.assert_allclose(pmf, stats.poisson.pmf(np.arange(41), mean), rtol=1e-12, atol=0)


@pytest.mark.parametrize("theta", [0.5, 3.0, 40.0])
@pytest.mark.parametrize("mean", [0.0, 0.05, 2.5, 25.0])
def test_polya_pe_probabilities_equal_the_negative_binomial(theta, mean):
    """Mean μ, variance μ(1 + 1/θ): scipy's nbinom with n = θμ, p = θ/(1 + θ)."""
    pmf = PolyaPEResolution(theta=theta).count_pmf(40, np.array([mean]))[0]
    n = np.arange(41)
    if mean == 0:
        expected = (n == 0).astype(float)
    else:
        expected = stats.nbinom.pmf(n, theta * mean, theta / (1 + theta))
    np.testing.assert_allclose(pmf, expected, rtol=1e-11, atol=0)
    cdf = PolyaPEResolution(theta=theta).count_cdf(n, np.full(41, mean))
    np.testing.assert_allclose(np.cumsum(pmf), cdf, rtol=1e-12, atol=1e-15)


def test_counting_response_rows_are_the_averaged_count_probabilities():
    """A recoil bin so narrow that all 8 sub-points share one mean: its row is the pmf of
    that mean over the PE bins [6, 8), [8, 12), [12, 30) times a unit efficiency."""
    model = load_detector_model(DETECTORS / "coherent_csi_2017.toml")
    model = replace(model, resolution=PoissonPEResolution())
    e = 10.0
    edges = np.array([6.0, 8.0, 12.0, 30.0])
    row = response.response_matrix(
        np.array([e, e * (1 + 1e-12)]), model, efficiency=StepEfficiency(0.0), bin_edges=edges
    )[0]
    mean = model.gain * float(
        response.electron_equivalent_keVee(model.quenching, np.array([e * (1 + 5e-13)]))[0]
    )
    pmf = stats.poisson.pmf(np.arange(30), mean)
    expected = [pmf[6:8].sum(), pmf[8:12].sum(), pmf[12:30].sum()]
    np.testing.assert_allclose(row, expected, rtol=1e-9, atol=0)


def test_gaussian_tail_bins_keep_full_relative_precision():
    """Recoils uniform over 0.95–1.05 keVee recorded with σ = 0.1: the bins 4σ to 12σ above
    hold the average of Φ̄((a − u)/σ) − Φ̄((b − u)/σ) over u to 1e-9 relative (P down to
    1e-33), and a bin 40σ above holds nothing. Computed as 1 − CDF and summed as differences
    of a running sum, these bins were rounding noise of ~1e-13."""

    from cevns_fit.quenching import ConstantQuenching
    from cevns_fit.resolution import GaussianResolution

    model = load_detector_model(DETECTORS / "ge_array.toml")
    model = replace(
        model,
        quenching=ConstantQuenching(1.0, 0.0),
        resolution=GaussianResolution(sigma0_keVee=0.1),
        gain=1.0,
    )
    edges = np.array([1.4, 1.6, 1.8, 2.0, 2.2, 5.0, 5.2])
    row = response.response_matrix(
        np.array([0.95, 1.05]), model, efficiency=StepEfficiency(0.0), bin_edges=edges
    )[0]

    expected = [
        gaussian_bin_average(a, b, 0.95, 1.05, 0.1)
        for a, b in zip(edges[:4], edges[1:5], strict=True)
    ]
    np.testing.assert_allclose(row[:4], expected, rtol=1e-9, atol=0)
    assert row[-1] < 1e-300


def test_unhashable_efficiency_and_timing_are_computed_without_the_caches():
    """The fine-grid and beam-window caches key on frozen dataclasses; one built through the
    Python API with lists (unhashable) is computed directly, with the same result."""
    from cevns_fit.efficiency import TabulatedEfficiency
    from cevns_fit.templates import beam_window_fractions

    edges = np.arange(2.0, 12.01, 2.0)
    hashable = TabulatedEfficiency((0.0, 4.0, 6.0, 30.0), (0.0, 0.2, 1.0, 1.0))
    listed = TabulatedEfficiency([0.0, 4.0, 6.0, 30.0], [0.0, 0.2, 1.0, 1.0])
    with pytest.raises(TypeError):
        hash(listed)
    for a, b in zip(
        response.cached_fine_edges(edges, hashable, 4, False),
        response.cached_fine_edges(edges, listed, 4, False),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    model = load_detector_model(DETECTORS / "cspbi3_array.toml")
    timing = replace(model.source.timing, bunch_offsets_us=[0.0])
    listed_model = replace(model, source=replace(model.source, timing=timing))
    assert beam_window_fractions(listed_model) == beam_window_fractions(model)
