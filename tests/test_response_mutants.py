"""The response layer against independent calculations (issue 16, mutation testing).

Each test states one property of true recoils → binned observable and checks it against a
hand calculation, a closed form, scipy's distributions or a quad integral:

* the true-recoil grid: log-spaced from 1e-4 of the largest recoil E_R^max = 2E²/(M + 2E);
* true-bin counts: the integral of dR/dE_R over each bin (quad), per physics (the cache keys
  on it), the cache bounded and oldest-first;
* fine observable grids: n_fine equal parts, a step threshold inside (not outside) the range,
  one bin per integer PE count, halving until the efficiency changes by ≤ 3 % and bends by
  ≤ 2e-4 (and no further), at most 12 halvings, sloped bins not merged;
* Gaussian smearing: the average over a uniform true bin of the normal probabilities, with σ
  taken at the bin centre and the observable gain applied to the energy and to σ (quad);
  Ψ(t) = ∫Φ(s/σ) ds (quad), max(t, 0) at σ = 0;
* counting: P(N < edge) = P(N ≤ ⌈edge⌉ − 1), averaged over 8 points per true bin, the
  efficiency of a count n taken at n + 0.5;
* the (down, up) variations: threshold − lo / + hi, resolution × (1 ∓ rel).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from cevns_fit import response
from cevns_fit.efficiency import (
    ErfEfficiency,
    LogisticEfficiency,
    StepEfficiency,
    TabulatedEfficiency,
)
from cevns_fit.physics import PhysicsParameters
from cevns_fit.quenching import ConstantQuenching
from cevns_fit.rates import differential_rate
from cevns_fit.resolution import GaussianResolution, NoResolution, PoissonPEResolution
from tests.handcalc import gaussian_bin_average

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


def _flat_model(model, *, resolution, gain=1.0):
    """The model with Q = 1 (keVnr = keVee): the observable is gain × the recoil energy."""
    return replace(model, quenching=ConstantQuenching(1.0, 0.0), resolution=resolution, gain=gain)


# ---- true-recoil grid and counts ----------------------------------------------------------


def test_true_recoil_grid_spans_four_decades_below_the_kinematic_endpoint(cspbi3):
    """E_R^max = 2E²/(M + 2E) of the lightest isotope at the source's highest neutrino energy,
    300 log-spaced bins from 1e-4 E_R^max."""
    enu_GeV = max(float(np.max(c.enu_MeV)) for c in cspbi3.source.components) * 1e-3
    m = float(np.min(cspbi3.target.mass_GeV))
    e_max_keV = 2 * enu_GeV**2 / (m + 2 * enu_GeV) * 1e6
    edges = response.true_recoil_edges_keVnr(cspbi3)
    assert len(edges) == cspbi3.n_true_bins + 1
    assert edges[-1] == pytest.approx(e_max_keV, rel=1e-12, abs=0)
    assert edges[0] == pytest.approx(1e-4 * e_max_keV, rel=1e-12, abs=0)
    ratios = edges[1:] / edges[:-1]
    np.testing.assert_allclose(ratios, 1e4 ** (1 / cspbi3.n_true_bins), rtol=1e-12, atol=0)


def test_true_bin_counts_are_the_integral_of_the_differential_rate(cspbi3):
    """Recoils per kg per day in a true bin = ∫ dR/dE_R over it (quad; Simpson's rule on
    the model's bins, 3 % wide, is good to 1e-5: the delayed spectra, tabulated on 512
    neutrino energies, put small kinks in dR/dE_R)."""
    edges = response.true_recoil_edges_keVnr(cspbi3)
    counts = response.recoil_counts_per_kg_day(cspbi3, edges)

    def rate(e: float, name: str) -> float:
        return float(differential_rate(np.array([e]), cspbi3.target, cspbi3.source)[name][0])

    for name, per_bin in counts.items():
        for i in (0, 100, 200):
            expected = quad(rate, edges[i], edges[i + 1], args=(name,), epsrel=1e-10)[0]
            assert per_bin[i] == pytest.approx(expected, rel=1e-5, abs=0)
        assert not per_bin.flags.writeable  # cached arrays are shared: read-only


def test_recoil_counts_depend_on_the_physics_and_are_cached_per_physics(cspbi3):
    """sin²θ_W = 0.25 removes the proton's weak charge: Q_W = N, so every isotope's rate
    changes by (N/Q_W)² with Q_W = N − (1 − 4 × 0.23857) Z (the default); the spectrum
    computed after the default one's is that of the new physics, not the cached one."""
    edges = response.true_recoil_edges_keVnr(cspbi3)
    response._RECOIL_CACHE.clear()
    default = response.recoil_counts_per_kg_day(cspbi3, edges)
    other = replace(cspbi3, physics=PhysicsParameters(sin2_theta_w=0.25))
    changed = response.recoil_counts_per_kg_day(other, edges)
    response._RECOIL_CACHE.clear()
    fresh = response.recoil_counts_per_kg_day(other, edges)
    t = cspbi3.target
    qw = np.asarray(t.N) - (1 - 4 * 0.23857) * np.asarray(t.Z)
    ratio_range = (np.asarray(t.N) / qw) ** 2
    for name in default:
        np.testing.assert_array_equal(changed[name], fresh[name])
        ratio = changed[name].sum() / default[name].sum()
        assert ratio_range.min() * (1 - 1e-9) <= ratio <= ratio_range.max() * (1 + 1e-9)
        assert ratio > 1.0 + 1e-3


def test_recoil_cache_keeps_the_16_newest_entries():
    """Bounded memory for long scans: 20 spectra stored, the 4 oldest are gone."""
    saved = dict(response._RECOIL_CACHE)
    try:
        response._RECOIL_CACHE.clear()
        entries = {bytes([i]) * 20: {"c": np.full(3, float(i))} for i in range(20)}
        response.preload_recoil_cache(entries)
        assert list(response._RECOIL_CACHE) == [bytes([i]) * 20 for i in range(4, 20)]
        np.testing.assert_array_equal(response._RECOIL_CACHE[bytes([7]) * 20]["c"], [7.0] * 3)
    finally:
        response._RECOIL_CACHE.clear()
        response._RECOIL_CACHE.update(saved)


def test_cache_entries_are_the_spectra_a_worker_would_compute(cspbi3):
    entries = response.recoil_cache_entries(cspbi3)
    edges = response.true_recoil_edges_keVnr(cspbi3)
    ((key, arrays),) = entries.items()
    assert key == response._recoil_key(cspbi3, edges)
    response._RECOIL_CACHE.clear()
    response.preload_recoil_cache(entries)
    first = response.recoil_counts_per_kg_day(cspbi3, edges)
    assert first is response._RECOIL_CACHE[key]
    assert response.recoil_counts_per_kg_day(cspbi3, edges) is first  # not recomputed
    tabulated = replace(cspbi3, signal_table=cspbi3.backgrounds[0])
    assert response.recoil_cache_entries(tabulated) == {}


# ---- fine observable grids -----------------------------------------------------------------


def test_uniform_fine_grid_has_n_equal_parts_and_a_step_edge_only_inside_the_range():
    edges = np.array([2.0, 4.0, 8.0])
    fine, index = response._uniform_fine_edges(edges, 4, (5.1, 1.0, 9.0, 8.0))
    expected = [2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 5.1, 6.0, 7.0, 8.0]
    np.testing.assert_array_equal(fine, expected)
    np.testing.assert_array_equal(index, [0, 4, 9])


def test_a_step_threshold_outside_the_range_adds_no_fine_bin():
    """A step at 1 keVee or 30 keVee, bins 2–8 keVee: the efficiency is 1 or 0 in every bin
    and the grid is the 4 equal parts of each bin, merged to the bins themselves where flat."""
    edges = np.array([2.0, 4.0, 8.0])
    for thr in (1.0, 30.0):
        fine, index = response.fine_edges(edges, StepEfficiency(thr), n_fine=4)
        np.testing.assert_array_equal(fine, edges)
        np.testing.assert_array_equal(index, [0, 1, 2])


def test_rebin_sums_groups_of_fine_bins():
    values = np.array([[1.0, 2.0, 4.0, 8.0, 16.0]])
    np.testing.assert_array_equal(response.rebin(values, [0, 1, 3, 5]), [[1.0, 6.0, 24.0]])
    with pytest.raises(ValueError, match="^rebin: every analysis bin needs at least one fine bin$"):
        response.rebin(values, [0, 2, 2, 5])


def test_pe_bins_get_one_fine_bin_per_integer_count():
    """Edges 5.5, 8, 12.3 PE: the counts 6, 7 | 8..12 each get [n, n + 1), cut at the edges."""
    fine, index = response.fine_edges(np.array([5.5, 8.0, 12.3]), None, discrete=True)
    np.testing.assert_array_equal(fine, [5.5, 6, 7, 8, 9, 10, 11, 12, 12.3])
    np.testing.assert_array_equal(index, [0, 3, 8])


def _violates(eff, lo, hi):
    """The refinement criterion: the efficiency changes by > 3 % or bends by > 2e-4
    (|ε(a) + ε(b) − 2ε(m)|/6, midpoint against Simpson) over [a, b]."""
    f_lo, f_mid, f_hi = eff(np.array([lo, 0.5 * (lo + hi), hi]))
    return abs(f_hi - f_lo) > 0.03 or abs(f_lo + f_hi - 2 * f_mid) / 6 > 2e-4


def _bisect(eff, lo, hi, depth):
    if depth == 12 or not _violates(eff, lo, hi):
        return [lo]
    mid = 0.5 * (lo + hi)
    return _bisect(eff, lo, mid, depth + 1) + _bisect(eff, mid, hi, depth + 1)


@pytest.mark.parametrize(
    "eff",
    [
        LogisticEfficiency(a=1.0, k=3.0, x0=5.0, heaviside=None),
        ErfEfficiency(threshold=6.0, width=0.7),
    ],
)
def test_fine_bins_are_halved_exactly_until_the_efficiency_is_smooth_over_each(eff):
    """Every fine bin meets the criterion (ε changes by ≤ 3 %, bends by ≤ 2e-4) and every
    halving was needed: the grid is the recursive bisection of each quarter of an analysis
    bin, written out here, except where the efficiency is flat to 1e-12 over a whole bin (at
    the quarters' midpoints and inner edges, where the midpoint rule would evaluate it)."""
    edges = np.arange(2.0, 40.01, 2.0)
    fine, index = response.fine_edges(edges, eff, n_fine=4)
    expected = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        values = eff(np.linspace(a, b, 9)[1:-1])  # sub-bin midpoints and inner sub-edges
        if values.max() - values.min() <= 1e-12:
            expected.append(a)
            continue
        for q in range(4):
            lo, hi = a + (b - a) * q / 4, a + (b - a) * (q + 1) / 4
            expected += _bisect(eff, lo, hi, 0)
    expected.append(edges[-1])
    np.testing.assert_array_equal(fine, expected)
    np.testing.assert_array_equal(fine[index], edges)
    assert not any(_violates(eff, a, b) for a, b in zip(fine[:-1], fine[1:], strict=True))


def test_a_near_step_turn_on_is_halved_twelve_times_at_most():
    """An erf turn-on 1e-9 keVee wide at 5.3 keVee in 2-keVee bins: the quarter bin holding
    it ends in a fine bin 0.5/2¹² keVee wide, no narrower."""
    eff = ErfEfficiency(threshold=5.3, width=1e-9)
    fine, _ = response.fine_edges(np.array([4.0, 6.0]), eff, n_fine=4)
    assert np.diff(fine).min() == pytest.approx(0.5 / 2**12, rel=1e-12, abs=0)


def test_a_linear_ramp_keeps_all_its_sub_bins():
    """ε rising 1 % per keVee (no bend, < 3 % per sub-bin): nothing to halve, nothing flat
    to merge: exactly 4 fine bins per analysis bin (the default start)."""
    ramp = TabulatedEfficiency((0.0, 100.0), (0.0, 1.0))
    edges = np.arange(2.0, 20.01, 2.0)
    fine, _ = response.fine_edges(edges, ramp)
    np.testing.assert_allclose(fine, np.linspace(2.0, 20.0, 37), rtol=1e-15, atol=0)


def test_flat_bins_merge_only_where_every_sample_agrees():
    """Efficiency 1 on 2–6 keVee then falling by 1e-9 in 6–8: the 2–4, 4–6 bins merge,
    the 6–8 bin (not flat to 1e-12) keeps its four parts."""
    eff = TabulatedEfficiency((0.0, 6.0, 8.0), (1.0, 1.0, 1.0 - 1e-9))
    fine, index = response.fine_edges(np.array([2.0, 4.0, 6.0, 8.0]), eff, n_fine=4)
    np.testing.assert_array_equal(fine, [2.0, 4.0, 6.0, 6.5, 7.0, 7.5, 8.0])
    np.testing.assert_array_equal(index, [0, 1, 2, 6])


# ---- Gaussian smearing ---------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [np.array([0.3, 0.3, 0.3]), np.array([0.3, 0.0, 2.0])])
def test_normal_cdf_integral_is_the_integral_of_the_normal_cdf(sigma):
    """Ψ(t) = ∫_{−∞}^t Φ(s/σ) ds (quad), and max(t, 0) for σ = 0 (a step CDF)."""
    t = np.array([-0.7, 0.4, 1.9])
    psi = response._normal_cdf_integral(t, sigma)
    for ti, si, pi in zip(t, sigma, psi, strict=True):
        if si == 0:
            expected = max(ti, 0.0)
        else:
            expected = quad(lambda s, si=si: stats.norm.cdf(s / si), -40 * si, ti, epsrel=1e-12)[0]
        assert pi == pytest.approx(expected, rel=1e-10, abs=0)


def test_gaussian_row_is_the_uniform_bin_averaged_normal_with_gain_and_sigma_at_the_centre(
    cspbi3,
):
    """Q = 1, gain 2.5 observable units per keVee, σ² = 0.2² + 0.3² E keVee: a recoil uniform
    on 1.9–2.1 keVnr (4.75–5.25 units) recorded with σ = 2.5 σ(2 keVee): each bin's probability
    is the average over the true bin of Φ((b − u)/σ) − Φ((a − u)/σ), below, across and above
    the true bin (quad)."""
    res = GaussianResolution(sigma0_keVee=0.2, stochastic_sqrt_keVee=0.3)
    model = _flat_model(cspbi3, resolution=res, gain=2.5)
    edges = np.array([1.0, 3.0, 4.5, 4.9, 5.0, 5.1, 5.6, 7.0, 9.0])
    row = response.response_matrix(
        np.array([1.9, 2.1]), model, efficiency=StepEfficiency(0.0), bin_edges=edges
    )[0]
    sigma = 2.5 * np.sqrt(0.2**2 + 0.3**2 * 2.0)

    def averaged(a: float, b: float) -> float:
        def p(u):
            return stats.norm.cdf((b - u) / sigma) - stats.norm.cdf((a - u) / sigma)

        return quad(p, 4.75, 5.25, epsabs=0, epsrel=1e-12)[0] / 0.5

    expected = [averaged(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_allclose(row, expected, rtol=1e-9, atol=0)


def test_zero_resolution_row_is_the_linear_overlap_with_the_true_bin(cspbi3):
    """σ = 0: a recoil uniform on 2–4 keVee lands in [1, 2.5) with probability 1/4,
    [2.5, 3) 1/4, [3, 5) 1/2, with gain 1 and Q = 1."""
    model = _flat_model(cspbi3, resolution=NoResolution())
    row = response.response_matrix(
        np.array([2.0, 4.0]),
        model,
        efficiency=StepEfficiency(0.0),
        bin_edges=np.array([1.0, 2.5, 3.0, 5.0]),
    )[0]
    np.testing.assert_allclose(row, [0.25, 0.25, 0.5], rtol=1e-14, atol=0)


def test_efficiency_multiplies_each_fine_bin_at_its_midpoint(cspbi3):
    """σ = 0, recoils uniform on 0–4 keVee (Q = 1), a 2–6 keVee bin and the ramp
    ε(x) = x/10: the bin holds ∫₂⁴ x/10 dx / 4 = 0.15 exactly (linear ε: the midpoint rule
    is exact)."""
    model = _flat_model(cspbi3, resolution=NoResolution())
    ramp = TabulatedEfficiency((0.0, 10.0), (0.0, 1.0))
    row = response.response_matrix(
        np.array([1e-9, 4.0]), model, efficiency=ramp, bin_edges=np.array([2.0, 6.0])
    )[0]
    assert row[0] == pytest.approx(0.15 * 4.0 / (4.0 - 1e-9), rel=1e-12, abs=0)


# ---- counting (PE) -------------------------------------------------------------------------


def test_counting_row_holds_the_integer_counts_of_each_bin(coherent):
    """A narrow recoil bin at mean μ PE: P(N < 0) = 0, [0, 1) holds 0, [1, 3) 1..2, [3, 5.5)
    3..5, [5.5, 12.3) 6..12 (Poisson, scipy)."""
    model = replace(coherent, resolution=PoissonPEResolution())
    e = 10.0
    row = response.response_matrix(
        np.array([e, e * (1 + 1e-12)]),
        model,
        efficiency=StepEfficiency(-1.0),
        bin_edges=np.array([0.0, 1.0, 3.0, 5.5, 12.3]),
    )[0]
    mean = model.gain * float(response.electron_equivalent_keVee(model.quenching, np.array([e]))[0])
    cdf = stats.poisson.cdf([0, 2, 5, 12], mean)
    np.testing.assert_allclose(row, [cdf[0], *np.diff(cdf)], rtol=1e-9, atol=0)


def test_counting_efficiency_of_a_count_is_taken_at_n_plus_a_half(coherent):
    """A step at 5.9 PE in the bin [4, 10): ε(n + 0.5) is 0 for n = 4, 5 and 1 for 6..9,
    so the bin holds P(6 ≤ N ≤ 9)."""
    model = replace(coherent, resolution=PoissonPEResolution())
    e = 10.0
    row = response.response_matrix(
        np.array([e, e * (1 + 1e-12)]),
        model,
        efficiency=StepEfficiency(5.9),
        bin_edges=np.array([4.0, 10.0]),
    )[0]
    mean = model.gain * float(response.electron_equivalent_keVee(model.quenching, np.array([e]))[0])
    assert row[0] == pytest.approx(stats.poisson.pmf(np.arange(6, 10), mean).sum(), rel=1e-9, abs=0)


def test_counting_row_of_a_wide_bin_averages_eight_points(coherent):
    """Q = 1, gain 1, a recoil uniform on 4–12 keVnr: the row is the Poisson probability
    averaged over the 8 points 4.5, 5.5, …, 11.5 (the documented rule), within 1e-3 of the
    exact average over the bin (quad)."""
    model = _flat_model(coherent, resolution=PoissonPEResolution())
    edges = np.array([0.0, 6.0, 9.0, 20.0])
    row = response.response_matrix(
        np.array([4.0, 12.0]), model, efficiency=StepEfficiency(-1.0), bin_edges=edges
    )[0]
    points = 4.5 + np.arange(8.0)

    def p(mean, lo, hi):
        return stats.poisson.cdf(hi - 1, mean) - stats.poisson.cdf(lo - 1, mean)

    rule = [np.mean(p(points, lo, hi)) for lo, hi in ((0, 6), (6, 9), (9, 20))]
    np.testing.assert_allclose(row, rule, rtol=1e-12, atol=0)
    exact = [quad(p, 4.0, 12.0, args=(lo, hi))[0] / 8.0 for lo, hi in ((0, 6), (6, 9), (9, 20))]
    np.testing.assert_allclose(row, exact, rtol=1e-2, atol=0)


# ---- variations ----------------------------------------------------------------------------


def test_variation_settings_move_the_threshold_by_its_asymmetric_sigmas(cspbi3):
    model = replace(
        cspbi3,
        threshold_sigma=(0.2, 0.5),
        resolution=GaussianResolution(sigma0_keVee=0.4, relative_sigma=0.1),
    )
    settings = response.variation_settings(model)
    thr = model.efficiency.threshold
    down, up = settings["threshold"]
    assert down["efficiency"].threshold == pytest.approx(thr - 0.2, rel=1e-12, abs=0)
    assert up["efficiency"].threshold == pytest.approx(thr + 0.5, rel=1e-12, abs=0)
    down, up = settings["resolution"]
    assert down["resolution"].scale == pytest.approx(0.9, rel=1e-12, abs=0)
    assert up["resolution"].scale == pytest.approx(1.1, rel=1e-12, abs=0)
    (q_down, q_up) = settings["quenching"]
    expected = model.quenching.variations()["quenching"]
    assert (q_down["quenching"], q_up["quenching"]) == expected
    one_sided = response.variation_settings(replace(model, threshold_sigma=(0.0, 0.5)))
    assert "threshold" in one_sided
    # a threshold known only to lie lower (down 0.5 < 1 observable unit, up 0) is varied too
    down_only = response.variation_settings(replace(model, threshold_sigma=(0.5, 0.0)))
    down, up = down_only["threshold"]
    assert down["efficiency"].threshold == pytest.approx(thr - 0.5, rel=1e-12, abs=0)
    assert up["efficiency"].threshold == pytest.approx(thr, rel=1e-12, abs=0)
    none = response.variation_settings(
        replace(model, threshold_sigma=(0.0, 0.0), resolution=GaussianResolution(0.4))
    )
    assert "threshold" not in none and "resolution" not in none


def test_a_variation_that_moves_only_the_threshold_changes_only_the_threshold_bins(cspbi3):
    """The threshold's ±1σ matrices (shared smearing) are the matrices at the shifted step:
    below the step they differ from the nominal, far above it they are equal."""
    model = replace(cspbi3, threshold_sigma=(0.3, 0.3))
    true_edges = response.true_recoil_edges_keVnr(model)
    nominal, variations = response.response_variations(model, true_edges)
    down, up = variations["threshold"]
    thr = model.efficiency.threshold
    for shift, matrix in ((-0.3, down), (0.3, up)):
        step = replace(model.efficiency, threshold=thr + shift)
        alone = response.response_matrix(true_edges, model, efficiency=step)
        np.testing.assert_array_equal(matrix, alone)
    assert down.sum() > nominal.sum() > up.sum()


def test_fine_grid_cache_keeps_the_64_newest_grids_read_only():
    """A scan asks for the same grid at every point: cached (the same arrays, read-only, so
    no caller can corrupt another's), bounded to 64 grids, oldest evicted first."""
    saved = dict(response._FINE_CACHE)
    try:
        response._FINE_CACHE.clear()
        edges = np.arange(2.0, 12.01, 2.0)
        grids = [
            response.cached_fine_edges(edges, StepEfficiency(2.0 + 0.1 * i), 4, False)
            for i in range(70)
        ]
        assert len(response._FINE_CACHE) == 64
        again = response.cached_fine_edges(edges, StepEfficiency(2.0 + 0.1 * 69), 4, False)
        assert again is grids[69]
        fine, index = again
        assert not fine.flags.writeable and not index.flags.writeable
        first = response.cached_fine_edges(edges, StepEfficiency(2.0), 4, False)
        assert first is not grids[0]
        np.testing.assert_array_equal(first[0], grids[0][0])
    finally:
        response._FINE_CACHE.clear()
        response._FINE_CACHE.update(saved)


@pytest.mark.parametrize("threshold", [2.7, 19.1])
def test_a_step_in_the_first_or_last_bin_splits_it_into_two_flat_bins(threshold):
    """Each side of a step is flat: the bin holding it keeps only its edges and the step,
    whether the step is in the first or the last analysis bin."""
    edges = np.arange(2.0, 20.01, 2.0)
    fine, index = response.fine_edges(edges, StepEfficiency(threshold), n_fine=4)
    np.testing.assert_array_equal(fine, np.union1d(edges, [threshold]))
    np.testing.assert_array_equal(fine[index], edges)


def test_gaussian_lower_tail_bins_keep_full_relative_precision(cspbi3):
    """Recoils uniform over 2.95–3.05 keVee, σ = 0.1: the bins 4σ to 12σ *below* hold the
    average of Φ((b − u)/σ) − Φ((a − u)/σ) to 1e-9 relative (P down to 1e-33): computed as
    the probability below each edge, not as 1 minus the probability above it (rounding
    noise of 1e-16 there)."""
    model = _flat_model(cspbi3, resolution=GaussianResolution(sigma0_keVee=0.1))
    edges = np.array([1.6, 1.8, 2.0, 2.2, 2.4, 2.55])
    row = response.response_matrix(
        np.array([2.95, 3.05]), model, efficiency=StepEfficiency(0.0), bin_edges=edges
    )[0]

    expected = [
        gaussian_bin_average(a, b, 2.95, 3.05, 0.1)
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    assert expected[0] < 1e-30
    np.testing.assert_allclose(row, expected, rtol=1e-9, atol=0)


def test_counting_efficiency_of_each_count_on_a_ramp(coherent):
    """ε(x) = x/20 and the bin [6, 10) PE: the bin holds Σ_{n=6}^{9} P(N = n) (n + 0.5)/20."""
    model = replace(coherent, resolution=PoissonPEResolution())
    e = 10.0
    ramp = TabulatedEfficiency((0.0, 20.0), (0.0, 1.0))
    row = response.response_matrix(
        np.array([e, e * (1 + 1e-12)]), model, efficiency=ramp, bin_edges=np.array([6.0, 10.0])
    )[0]
    mean = model.gain * float(response.electron_equivalent_keVee(model.quenching, np.array([e]))[0])
    n = np.arange(6, 10)
    expected = float(np.sum(stats.poisson.pmf(n, mean) * (n + 0.5) / 20.0))
    assert row[0] == pytest.approx(expected, rel=1e-9, abs=0)


def test_two_efficiencies_sharing_one_smearing_equal_each_built_alone(cspbi3):
    """response_matrices with two step thresholds (their union of fine bins smeared once)
    gives each efficiency's own matrix."""
    true_edges = response.true_recoil_edges_keVnr(cspbi3)
    steps = [StepEfficiency(4.3), StepEfficiency(5.1)]
    shared = response.response_matrices(true_edges, cspbi3, steps)
    for eff, matrix in zip(steps, shared, strict=True):
        alone = response.response_matrix(true_edges, cspbi3, efficiency=eff)
        np.testing.assert_array_equal(matrix, alone)
    assert shared[0].sum() > shared[1].sum()
