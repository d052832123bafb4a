"""The fast path against plain pyhf on *observed* data: empty bins, bins without background,
very large counts.

Asimov data never has an empty bin, so a Poisson term summed only over bins with n > 0 (which
drops the −λ of every empty bin) passes every Asimov comparison. Here the data have empty bins
where the model expects signal, so that bug moves both the best-fit μ and q0. References:
pyhf 0.7.6 itself (``Model.logpdf``; q0 via ``expected_significance(..., fast=False)``).
"""

from __future__ import annotations

import numpy as np
import pytest

from cevns_fit.fastlik import FastModel
from cevns_fit.inference import expected_significance
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample
from tests.conftest import plain_q0

SIGNAL = np.array([1.0, 2.0, 4.0, 12.0, 2.0, 14.0, 3.0, 2.0])


def templates_with_gaps(
    scale: float = 1.0, floor: float = 0.0, stat: bool = False
) -> AnalysisTemplates:
    """Eight bins: a peaked signal, background falling to ``floor`` (zero: background-free) in
    the two highest bins, with a flux normsys, a quenching histosys and a background normsys."""
    sig = scale * SIGNAL
    bkg = scale * np.array([40.0, 30.0, 20.0, 10.0, 4.0, 1.0, floor, floor])
    samples = (
        Sample(
            "cevns",
            sig,
            norm_factor="mu",
            norm_sys={"flux": 0.1},
            shape_sys={"quenching": (0.9 * sig, 1.1 * sig)},
            stat_error=0.05 * sig if stat else None,
        ),
        Sample("steady_state", bkg, norm_sys={"steady_state_norm": 0.1}),
    )
    return AnalysisTemplates((Channel("main", np.arange(9.0), "keVee", samples),), scale)


# Observed counts: an excess in bins 3 and 5, empty bins 4, 6, 7 where the model expects
# 4 + 2μ, 3μ and 2μ events (6 and 7 have no background at all).
DATA = np.array([41.0, 31.0, 23.0, 24.0, 0.0, 15.0, 0.0, 0.0])
# Very large counts (up to 4e6 per bin): the expectation at μ = 0.01 at scale 1e5 with a
# background of 0.2 × 1e5 in the top bins, rounded.
LARGE = np.round(1e5 * (np.array([40.0, 30.0, 20.0, 10.0, 4.0, 1.0, 0.2, 0.2]) + 0.01 * SIGNAL))


def test_fast_logpdf_equals_pyhf_with_empty_and_background_free_bins():
    workspace = build_workspace(templates_with_gaps())
    fm = FastModel.from_workspace(workspace)
    rng = np.random.default_rng(16)
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        for mu in (0.3, 1.0, 2.5):
            pars = fm.nominal_pars(mu=mu)
            pars[~fm.fixed & (np.arange(fm.n_pars) != fm.poi_index)] += rng.normal(0, 0.5)
            order = {name: fm.set_slices[name] for name in model.config.par_order}
            pyhf_pars = np.concatenate([pars[order[name]] for name in model.config.par_order])
            aux = np.concatenate(
                [fm.aux_nominal[fm.set_slices[name]] for name in model.config.auxdata_order]
            )
            expected = float(model.logpdf(pyhf_pars, np.concatenate([DATA, aux]))[0])
            assert fm.logpdf(pars, DATA) == pytest.approx(expected, rel=1e-12, abs=0)
            # the minimiser's objective differs from −ln L only by data-only constants
            nll, _ = fm.nll_and_grad(pars, DATA, fm.aux_nominal)
            nominal_nll, _ = fm.nll_and_grad(fm.nominal_pars(mu=1.0), DATA, fm.aux_nominal)
            nominal_logpdf = fm.logpdf(fm.nominal_pars(mu=1.0), DATA)
            assert nll - nominal_nll == pytest.approx(
                -(expected - nominal_logpdf), rel=1e-9, abs=1e-9
            )


def _q0_fast(fm: FastModel, data: np.ndarray) -> float:
    free = fm.fit(data, fm.aux_nominal)
    null = fm.fit(data, fm.aux_nominal, fix={fm.poi_index: 0.0})
    assert free.success and null.success
    # and by the Gauss-Newton path (the L-BFGS-B fallback would hide a wrong Newton gradient)
    assert free.message == null.message == "Newton converged"
    return 2.0 * (null.nll - free.nll) if free.pars[fm.poi_index] > 0 else 0.0


@pytest.mark.parametrize(
    ("scale", "floor", "data"),
    [
        (1.0, 0.0, DATA),  # empty bins, two of them without background
        (1e5, 0.2, LARGE),
    ],
    ids=["empty-bins", "large-counts"],
)
def test_observed_q0_fast_equals_plain_pyhf(scale, floor, data):
    _check_q0(build_workspace(templates_with_gaps(scale, floor)), data)


def test_observed_q0_with_single_counts_and_staterror_equals_plain_pyhf():
    # bins holding one event each (0 < λ < 1 possible) and staterror γ with auxiliary data 1
    data = np.array([41.0, 31.0, 23.0, 24.0, 1.0, 15.0, 1.0, 1.0])
    _check_q0(build_workspace(templates_with_gaps(1.0, 0.2, stat=True)), data)


def _check_q0(workspace, data):
    # q0 on observed data straight from the two likelihoods (the Asimov Z of this model is
    # infinite: at μ = 0 the background-free bins cannot hold the Asimov signal counts).
    q0_fast = _q0_fast(FastModel.from_workspace(workspace), data)
    q0_plain = plain_q0(workspace, data)
    assert q0_fast > 1.0  # a real excess, not a q0 = 0 coincidence
    assert np.sqrt(q0_fast) == pytest.approx(np.sqrt(q0_plain), rel=1e-4, abs=0)


@pytest.mark.parametrize(
    ("scale", "data"),
    [
        (1.0, DATA),
        (1e5, LARGE),
    ],
    ids=["empty-bins", "large-counts"],
)
def test_observed_and_expected_z_fast_equal_plain_pyhf_through_the_api(scale, data):
    # As above with a little background everywhere (0.2 per bin in the top two bins), so the
    # Asimov Z is finite and the public expected_significance can compare both paths.
    templates = templates_with_gaps(scale, floor=0.2).with_data({"main": data})
    fast = expected_significance(templates)
    plain = expected_significance(templates, fast=False)
    assert fast.Z_expected == pytest.approx(plain.Z_expected, rel=1e-3, abs=0)
    assert fast.Z_observed == pytest.approx(plain.Z_observed, rel=1e-3, abs=0)
    assert fast.Z_observed > 1.0


def test_gradient_with_empty_bins_is_the_derivative_of_pyhf_logpdf():
    # The L-BFGS-B fallback minimises nll_and_grad: its gradient must include ∂λ/∂θ of the
    # empty bins (∂(−ln L)/∂λ = 1 there, not 0). Reference: central differences of logpdf.
    fm = FastModel.from_workspace(build_workspace(templates_with_gaps()))
    pars = fm.nominal_pars(mu=1.3)
    free = np.flatnonzero(~fm.fixed)
    pars[free] += 0.05
    _, grad = fm.nll_and_grad(pars, DATA, fm.aux_nominal)
    for i in free:
        h = 1e-6 * max(1.0, abs(pars[i]))
        up, down = pars.copy(), pars.copy()
        up[i] += h
        down[i] -= h
        numeric = -(fm.logpdf(up, DATA) - fm.logpdf(down, DATA)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_bounds_and_starting_point_are_pyhf_suggestions():
    # Every modifier type (normfactor, normsys, histosys, staterror): the fast model starts
    # where pyhf starts and stays inside pyhf's bounds (pyhf 0.7.6 suggested_init/bounds).
    from tests.test_fastlik import random_templates

    workspace = build_workspace(random_templates(5))
    fm = FastModel.from_workspace(workspace)
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        for name in model.config.par_order:
            ours, theirs = fm.set_slices[name], model.config.par_slice(name)
            np.testing.assert_array_equal(
                fm.init[ours], np.asarray(model.config.suggested_init())[theirs]
            )
            np.testing.assert_array_equal(
                fm.bounds[ours], np.asarray(model.config.suggested_bounds())[theirs]
            )
    assert set(fm.set_types.values()) == {"normfactor", "normsys", "histosys", "staterror"}


ALPHAS = np.array([-3.2, -1.5, -1.0, -0.7, 0.0, 0.4, 1.0, 1.3, 1.7, 4.0])


@pytest.mark.parametrize(("lo_f", "hi_f"), [(0.8, 1.25), (0.5, 1.6)])
def test_code4_on_a_vector_of_alphas_and_its_derivative(lo_f, hi_f):
    # One call with α inside and outside [−1, 1] (the extrapolation branches), against pyhf's
    # code4, and dg/dα against central differences of g (g is C¹ at |α| = 1). The asymmetric
    # 0.5/1.6 case makes every polynomial coefficient matter (0.8/1.25 ≈ a pure exponential).
    import pyhf

    from cevns_fit.fastlik import _code4_coefficients, code4_factor

    lo, hi = np.full(ALPHAS.size, lo_f), np.full(ALPHAS.size, hi_f)
    coeffs = _code4_coefficients(lo, hi)
    with pyhf_backend():
        ref = np.asarray(pyhf.interpolators.code4([[[[lo_f], [1.0], [hi_f]]]])(np.array([ALPHAS])))
    value, deriv = code4_factor(ALPHAS, lo, hi, coeffs)
    np.testing.assert_allclose(value, ref[0, 0, :, 0], rtol=1e-12)
    h = 1e-6
    up = code4_factor(ALPHAS + h, lo, hi, coeffs)[0]
    down = code4_factor(ALPHAS - h, lo, hi, coeffs)[0]
    np.testing.assert_allclose(deriv, (up - down) / (2 * h), rtol=1e-8)
    assert deriv[0] == pytest.approx(-(lo_f**3.2) * np.log(lo_f), rel=1e-12, abs=0)
    assert deriv[-1] == pytest.approx(hi_f**4.0 * np.log(hi_f), rel=1e-12, abs=0)


def test_code4p_on_several_histosys_rows_by_hand():
    # Δ(α) = Δ⁺ α (α > 1), Δ⁻ α (α < −1), α S + A (15α² − 10α⁴ + 3α⁶) inside, S = (Δ⁺ + Δ⁻)/2,
    # A = (Δ⁺ − Δ⁻)/16 (pyhf code4p); two rows of three bins, each row its own α.
    from cevns_fit.fastlik import code4p_delta

    up = np.array([[2.0, 1.0, 0.5], [0.3, 0.6, 0.9]])
    dn = np.array([[1.0, 1.5, 0.2], [0.4, 0.1, 0.7]])
    for a in ((-1.6, 0.5), (0.3, 2.2), (-0.8, -3.0), (1.4, -1.0)):
        alpha = np.array(a)
        value, deriv = code4p_delta(alpha, up, dn)
        for row, x in enumerate(a):
            s, asym = (up[row] + dn[row]) / 2, (up[row] - dn[row]) / 16
            if x > 1:
                expected, slope = up[row] * x, up[row]
            elif x < -1:
                expected, slope = dn[row] * x, dn[row]
            else:
                expected = x * s + asym * (15 * x**2 - 10 * x**4 + 3 * x**6)
                slope = s + asym * (30 * x - 40 * x**3 + 18 * x**5)
            np.testing.assert_allclose(value[row], expected, rtol=1e-12)
            np.testing.assert_allclose(deriv[row], slope, rtol=1e-12)


def test_expected_rows_are_the_samples_of_pyhf():
    # One row per (channel, sample), at a point with every modifier away from nominal: the
    # rows add up to the expected counts per bin, and in total to pyhf's by-sample counts.
    from tests.test_fastlik import pyhf_pars, random_point, random_templates

    workspace = build_workspace(random_templates(2))
    fm = FastModel.from_workspace(workspace)
    pars = random_point(fm, np.random.default_rng(2))
    rows = fm.expected_rows(pars)
    np.testing.assert_allclose(rows.sum(axis=0), fm.expected_main(pars), rtol=1e-12)
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        by_sample = np.asarray(
            model.main_model.expected_data(pyhf_pars(fm, model, pars), return_by_sample=True)
        )
    # pyhf groups a sample's rows across channels: compare the grand totals
    assert rows.sum() == pytest.approx(float(by_sample.sum()), rel=1e-12, abs=0)
    assert rows.shape == (4, fm.n_bins)  # (main: cevns, steady_state, neutrons; control: 1)


def test_nll_and_gradient_with_single_counts_in_bins_expecting_less_than_one():
    # Bins expecting 0.2 + 3μ and 0.2 + 2μ events hold one event each (μ = 0.1: λ < 1): a
    # legal point (finite −ln L), and ∂(−ln L)/∂λ = 1 − n/λ there, checked by differences.
    fm = FastModel.from_workspace(build_workspace(templates_with_gaps(floor=0.2)))
    data = np.array([41.0, 31.0, 23.0, 24.0, 0.0, 15.0, 1.0, 1.0])
    pars = fm.nominal_pars(mu=0.1)
    assert np.all(fm.expected_main(pars)[6:] < 1.0)
    nll, grad = fm.nll_and_grad(pars, data, fm.aux_nominal)
    assert np.isfinite(nll)
    for i in np.flatnonzero(~fm.fixed):
        h = 1e-7
        up, down = pars.copy(), pars.copy()
        up[i] += h
        down[i] -= h
        numeric = -(fm.logpdf(up, data) - fm.logpdf(down, data)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(
    ("floor", "mu"),
    [(0.2, 1.0), (0.2, 0.1), (0.0, 0.0)],
    ids=["nominal", "bins-expecting-less-than-one", "background-free-bins-at-mu-0"],
)
def test_fisher_diagonal_is_the_curvature_of_minus_ln_l_on_asimov_data(floor, mu):
    """On Asimov data n = λ(θ) the Hessian of −ln L at θ is Σ_b (∂λ_b/∂θ)²/λ_b + 1/σ²: the
    expected Fisher information that preconditions L-BFGS-B. Central second differences.
    Also where bins expect < 1 event (μ = 0.1 over a 0.2 floor: λ = 0.5 and 0.4) and where
    background-free bins expect nothing at μ = 0: Asimov data are empty there and −ln L is
    linear in λ, so those bins add no curvature although ∂λ/∂μ ≠ 0 (the Fisher information of
    a λ = 0 bin is 0, not (∂λ)²)."""
    fm = FastModel.from_workspace(build_workspace(templates_with_gaps(floor=floor, stat=True)))
    pars = fm.nominal_pars(mu=mu)
    main = fm.expected_main(pars)
    if mu < 1.0:
        assert main.min() == (0.0 if floor == 0.0 else pytest.approx(0.4, rel=1e-12, abs=0))
    aux = np.where(fm.constrained, pars, fm.aux_nominal)
    fisher = fm.fisher_diagonal(pars)
    for i in np.flatnonzero(~fm.fixed):
        h = 1e-4
        up, down = pars.copy(), pars.copy()
        up[i] += h
        down[i] -= h
        nll = [fm.nll_and_grad(p, main, aux)[0] for p in (up, pars, down)]
        second = (nll[0] - 2 * nll[1] + nll[2]) / h**2
        assert fisher[i] == pytest.approx(second, rel=1e-4, abs=0), fm.par_labels[i]
