"""Polya (negative-binomial) photo-electron counting: N has mean μ and variance μ (1 + 1/θ),
integer PE like the Poisson model, and becomes the Poisson model as θ → ∞."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cevns_fit.detector import load_detector_model
from cevns_fit.efficiency import StepEfficiency
from cevns_fit.errors import InputError
from cevns_fit.quenching import ConstantQuenching
from cevns_fit.resolution import PoissonPEResolution, PolyaPEResolution
from cevns_fit.templates import response_matrix

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"
K = np.arange(0, 400)


def _pmf(resolution, mean_pe: float) -> np.ndarray:
    cdf = resolution.count_cdf(K, np.full(K.shape, mean_pe))
    return np.diff(np.concatenate([[0.0], cdf]))


@pytest.mark.parametrize("mean_pe", [0.3, 4.0, 25.0])
def test_polya_becomes_poisson_for_large_theta(mean_pe):
    poisson = stats.poisson.cdf(K, mean_pe)
    np.testing.assert_allclose(
        PolyaPEResolution(theta=1e9).count_cdf(K, mean_pe), poisson, rtol=0, atol=1e-7
    )
    np.testing.assert_allclose(
        PoissonPEResolution().count_cdf(K, mean_pe), poisson, rtol=1e-12, atol=0
    )
    # ... and is not Poisson at a finite θ (the test can fail).
    assert np.max(np.abs(PolyaPEResolution(theta=2.0).count_cdf(K, mean_pe) - poisson)) > 1e-2


@pytest.mark.parametrize(("theta", "mean_pe"), [(0.5, 3.0), (2.0, 12.0), (10.0, 40.0)])
def test_polya_counts_have_the_closed_form_mean_and_variance(theta, mean_pe):
    p = _pmf(PolyaPEResolution(theta=theta), mean_pe)
    assert p.sum() == pytest.approx(1.0, rel=1e-10, abs=0)
    mean = np.sum(K * p)
    var = np.sum((K - mean) ** 2 * p)
    assert mean == pytest.approx(mean_pe, rel=1e-9, abs=0)
    assert var == pytest.approx(mean_pe * (1.0 + 1.0 / theta), rel=1e-9, abs=0)


def test_no_light_means_zero_photo_electrons():
    assert PolyaPEResolution(theta=3.0).count_cdf(np.array([0.0, 5.0]), 0.0).tolist() == [1, 1]


def test_response_matrix_smears_a_recoil_with_the_polya_moments(coherent):
    # One narrow true bin at E_nr = 20 keVnr with Q = 0.0878, LY = 13.348 PE/keVee:
    # μ = 13.348 × 0.0878 × 20 = 23.44 PE; 1-PE bins [n, n + 1) hold exactly n PE.
    theta = 1.5
    model = replace(
        coherent, quenching=ConstantQuenching(0.0878), resolution=PolyaPEResolution(theta)
    )
    edges = np.arange(0.0, 301.0)
    true = np.array([20.0, 20.0 * (1 + 1e-9)])
    row = response_matrix(true, model, efficiency=StepEfficiency(0.0), bin_edges=edges)[0]
    mu = 13.348 * 0.0878 * 20.0
    mean = np.sum(edges[:-1] * row)
    var = np.sum((edges[:-1] - mean) ** 2 * row)
    assert row.sum() == pytest.approx(1.0, rel=1e-9, abs=0)
    assert mean == pytest.approx(mu, rel=1e-7, abs=0)
    assert var == pytest.approx(mu * (1 + 1 / theta), rel=1e-7, abs=0)


def _model_text(resolution: str, observable_pe: bool = True) -> str:
    text = (DETECTORS / "cspbi3_array.toml").read_text(encoding="utf-8")
    sources = (DETECTORS.parent / "sources" / "sns.toml").as_posix()
    text = text.replace('"../sources/sns.toml"', f'"{sources}"')
    seed = (
        'model = "seed_perovskite"          # R(E) = sqrt(A + B/E + C/E²) % FWHM, seed Fig. 2\n'
        "relative_sigma = 0.20 "
    )
    assert seed in text
    text = text.replace(seed, resolution + "\n#")
    if observable_pe:
        text = text.replace(
            'observable = "keVee"', 'observable = "PE"\nlight_yield_PE_per_keVee = 10.0'
        )
        text = text.replace("threshold = 4.3 ", "threshold = 43.0 ")
        text = text.replace("bin_min = 2.0", "bin_min = 20.0").replace(
            "bin_max = 20.0", "bin_max = 200.0"
        )
    return text


def test_model_file_polya_pe_loads(tmp_path):
    path = tmp_path / "polya.toml"
    path.write_text(_model_text('model = "polya_pe"\ntheta = 4.0'), encoding="utf-8")
    model = load_detector_model(path)
    assert model.resolution == PolyaPEResolution(theta=4.0)
    assert model.resolution.to_dict() == {"model": "polya_pe", "theta": 4.0}


@pytest.mark.parametrize(
    ("resolution", "observable_pe", "message"),
    [
        ('model = "polya_pe"\ntheta = 0.0', True, "'resolution.theta' = 0.0: must be > 0"),
        ('model = "polya_pe"', True, "'resolution.theta' is missing"),
        ('model = "polya_pe"\ntheta = 2.0', False, "needs analysis.observable = 'PE'"),
    ],
)
def test_bad_polya_settings_name_the_key(tmp_path, resolution, observable_pe, message):
    path = tmp_path / "polya.toml"
    path.write_text(_model_text(resolution, observable_pe), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_detector_model(path)
    assert message in str(info.value) and "polya.toml" in str(info.value)


def test_response_matrix_smears_a_recoil_with_the_poisson_moments(coherent):
    # The same recoil with Poisson PE statistics: mean and variance both μ = 23.44 PE.
    model = replace(coherent, quenching=ConstantQuenching(0.0878), resolution=PoissonPEResolution())
    edges = np.arange(0.0, 301.0)
    true = np.array([20.0, 20.0 * (1 + 1e-9)])
    row = response_matrix(true, model, efficiency=StepEfficiency(0.0), bin_edges=edges)[0]
    mu = 13.348 * 0.0878 * 20.0
    mean = np.sum(edges[:-1] * row)
    var = np.sum((edges[:-1] - mean) ** 2 * row)
    assert row.sum() == pytest.approx(1.0, rel=1e-9, abs=0)
    assert mean == pytest.approx(mu, rel=1e-7, abs=0)
    assert var == pytest.approx(mu, rel=1e-7, abs=0)


def test_default_single_pe_gain_is_exponential_with_excess_noise_factor_2():
    # θ = 1: a gamma gain of shape 1 (exponential), Var N = μ (1 + 1/θ) = 2μ.
    p = _pmf(PolyaPEResolution(), 10.0)
    mean = np.sum(K * p)
    assert np.sum((K - mean) ** 2 * p) == pytest.approx(20.0, rel=1e-9, abs=0)


@pytest.mark.parametrize("resolution", [PoissonPEResolution(), PolyaPEResolution(theta=2.5)])
def test_count_pmf_lists_p_of_0_to_n_max_photo_electrons(resolution):
    # P(N = n) for n = 0..n_max, one row per mean: the differences of count_cdf
    means = np.array([0.0, 3.0, 12.0])
    pmf = resolution.count_pmf(20, means)
    assert pmf.shape == (3, 21)
    cdf = resolution.count_cdf(np.arange(21)[None, :], means[:, None])
    np.testing.assert_allclose(np.cumsum(pmf, axis=-1), cdf, rtol=1e-12, atol=1e-15)
