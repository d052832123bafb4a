"""Quenching polynomial with a 1σ per coefficient and a correlation matrix: one nuisance
parameter per eigen-direction of the coefficients' covariance."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.quenching import (
    ConstantQuenching,
    LindhardQuenching,
    PolynomialQuenching,
    TabulatedQuenching,
)
from cevns_fit.templates import build_templates
from tests.conftest import write_edited_model

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"
ENERGIES_KEVNR = np.array([0.0, 3.0, 10.0, 25.0, 60.0])


def _shift_squares(q: PolynomialQuenching, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nominal = q.factor(energy)
    down = [d.factor(energy) - nominal for d, _ in q.variations().values()]
    up = [u.factor(energy) - nominal for _, u in q.variations().values()]
    return np.sum(np.square(down), axis=0), np.sum(np.square(up), axis=0)


def test_diagonal_covariance_directions_are_the_coefficients():
    q = PolynomialQuenching((0.25, 1e-3, -1e-5), sigmas=(0.02, 3e-4, 4e-6))
    variations = q.variations()
    assert sorted(variations) == ["quenching_0", "quenching_1", "quenching_2"]
    moved = []
    for down, up in variations.values():
        delta_up = np.subtract(up.coefficients, q.coefficients)
        delta_down = np.subtract(down.coefficients, q.coefficients)
        (i,) = np.flatnonzero(delta_up)  # exactly one coefficient moves
        assert delta_up[i] == pytest.approx(q.sigmas[i], rel=1e-12, abs=0)
        assert delta_down[i] == pytest.approx(-q.sigmas[i], rel=1e-12, abs=0)
        moved.append(int(i))
    assert sorted(moved) == [0, 1, 2]


def test_linear_correlated_shifts_add_up_to_the_propagated_variance():
    # Q = a + b E with σ_a, σ_b, correlation ρ: Var Q(E) = σ_a² + 2ρσ_aσ_b E + σ_b² E².
    sa, sb, rho = 0.03, 8e-4, -0.7
    q = PolynomialQuenching((0.2, 2e-3), sigmas=(sa, sb), correlation=((1.0, rho), (rho, 1.0)))
    expected = sa**2 + 2 * rho * sa * sb * ENERGIES_KEVNR + sb**2 * ENERGIES_KEVNR**2
    down, up = _shift_squares(q, ENERGIES_KEVNR)
    np.testing.assert_allclose(up, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(down, expected, rtol=1e-10, atol=0)
    assert len(q.variations()) == 2


def test_cubic_with_full_correlation_matrix_reproduces_g_C_g():
    sigmas = np.array([0.02, 1e-3, 2e-5, 1e-7])
    rho = np.array(
        [
            [1.0, -0.5, 0.3, -0.1],
            [-0.5, 1.0, -0.6, 0.2],
            [0.3, -0.6, 1.0, -0.4],
            [-0.1, 0.2, -0.4, 1.0],
        ]
    )
    q = PolynomialQuenching(
        (0.15, 2e-3, -1e-5, 1e-8),
        sigmas=tuple(sigmas),
        correlation=tuple(map(tuple, rho)),
        scale=0.9,
    )
    g = ENERGIES_KEVNR[:, None] ** np.arange(4)[None, :]
    cov = np.diag(sigmas) @ rho @ np.diag(sigmas)
    expected = 0.9**2 * np.einsum("ei,ij,ej->e", g, cov, g)
    up, down = _shift_squares(q, ENERGIES_KEVNR)
    np.testing.assert_allclose(up, expected, rtol=1e-9, atol=0)
    np.testing.assert_allclose(down, expected, rtol=1e-9, atol=0)
    # Convention: "+1σ" moves each direction's dominant coefficient up.
    for shift in q.eigen_shifts():
        assert shift[np.argmax(np.abs(shift))] > 0


def test_fully_correlated_coefficients_are_one_nuisance_parameter():
    q = PolynomialQuenching((0.2, 1e-3), sigmas=(0.02, 1e-4), correlation=((1, 1), (1, 1)))
    assert list(q.variations()) == ["quenching_0"]
    zero = PolynomialQuenching((0.2, 1e-3), sigmas=(0.02, 0.0))
    assert list(zero.variations()) == ["quenching_0"]
    assert not PolynomialQuenching((0.2,), sigmas=(0.0,)).variations()


def test_single_parameter_models_keep_one_quenching_nuisance():
    models = [
        ConstantQuenching(0.3, 0.1),
        LindhardQuenching(k=0.157, Z=32, sigma_k=0.02),
        PolynomialQuenching((0.246, 0.00078), relative_sigma=0.1),
        TabulatedQuenching((1.0, 10.0), (0.05, 0.08), relative_sigma=0.2),
    ]
    e = np.array([2.0, 20.0])
    for q in models:
        (name,) = q.variations()
        down, up = q.variations()[name]
        assert name == "quenching"
        np.testing.assert_array_equal(down.factor(e), q.varied(-1.0).factor(e))
        np.testing.assert_array_equal(up.factor(e), q.varied(+1.0).factor(e))
    assert ConstantQuenching(0.3).variations() == {}


def test_unfloored_variation_shows_a_negative_quenching():
    q = ConstantQuenching(0.3, 0.5)
    assert q.varied(-1.0).value == pytest.approx(1e-6, abs=0)  # floored for templates and scans
    down, _ = q.variations(floor=False)["quenching"]
    assert down.factor(np.array([5.0]), floor=False)[0] == pytest.approx(-0.2, abs=0)


# ---- the model file --------------------------------------------------------------------------

CONSTANT = 'model = "constant"\nvalue = 0.30\nsigma = 0.10\n'


def _model(tmp_path: Path, quenching: str) -> Path:
    return write_edited_model(tmp_path, "cspbi3_array", (CONSTANT, quenching), filename="poly.toml")


POLY = (
    'model = "polynomial"\ncoefficients = [0.28, 1.0e-3]\nsigmas = [0.03, 4.0e-4]\n'
    "correlation = [[1.0, -0.6], [-0.6, 1.0]]\n"
)


def test_model_file_with_correlated_coefficients_gives_two_histosys(tmp_path):
    model = load_detector_model(_model(tmp_path, POLY))
    assert model.quenching.sigmas == (0.03, 4e-4)
    assert model.quenching.correlation == ((1.0, -0.6), (-0.6, 1.0))
    cevns = build_templates(model).channels[0].sample("cevns")
    assert set(cevns.shape_sys) == {"quenching_0", "quenching_1", "threshold", "resolution"}
    for name in ("quenching_0", "quenching_1"):
        down, up = cevns.shape_sys[name]
        assert not np.allclose(down, up, atol=0)


def test_shipped_models_keep_the_single_quenching_nuisance():
    cevns = build_templates(load_detector_model(DETECTORS / "cspbi3_array.toml")).channels[0]
    assert set(cevns.sample("cevns").shape_sys) == {"quenching", "threshold", "resolution"}


@pytest.mark.parametrize(
    ("quenching", "message"),
    [
        (POLY.replace("sigmas = [0.03, 4.0e-4]", "sigmas = [0.03]"), "'quenching.sigmas'"),
        (POLY.replace("0.03, 4.0e-4", "0.03, -4.0e-4"), "'quenching.sigmas'"),
        (POLY + "relative_sigma = 0.1\n", "not both"),
        (POLY.replace("-0.6], [-0.6", "-0.6], [0.6"), "symmetric"),
        (POLY.replace("[[1.0, -0.6], [-0.6, 1.0]]", "[[1.0, 0.0]]"), "2×2"),
        (POLY.replace("-0.6", "-1.6"), "'quenching.correlation'"),
        (
            'model = "polynomial"\ncoefficients = [0.28, 1e-3, 0.0]\nsigmas = [0.03, 4e-4, 1e-6]\n'
            "correlation = [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]\n",
            "positive semi-definite",
        ),
        ('model = "polynomial"\ncoefficients = [0.28]\ncorrelation = [[1.0]]\n', "needs sigmas"),
    ],
)
def test_bad_coefficient_uncertainties_name_the_key(tmp_path, quenching, message):
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_detector_model(_model(tmp_path, quenching))
    assert "poly.toml" in str(info.value) and "\n" not in str(info.value)


def test_each_eigen_direction_is_a_constrained_pyhf_parameter(tmp_path):
    from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model

    workspace = build_workspace(build_templates(load_detector_model(_model(tmp_path, POLY))))
    with pyhf_backend():
        model, data = pyhf_model(workspace)
        names = set(model.config.par_names)
        assert {"quenching_0", "quenching_1"} <= names and "quenching" not in names
        for name in ("quenching_0", "quenching_1"):
            assert model.config.param_set(name).constrained
        assert np.isfinite(float(model.logpdf(model.config.suggested_init(), data)[0]))
