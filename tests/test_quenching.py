"""Quenching models: Lindhard theory, constant, polynomial and tabulated measurements."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.quenching import (
    ConstantQuenching,
    LindhardQuenching,
    PolynomialQuenching,
    TabulatedQuenching,
    electron_equivalent_keVee,
    lindhard_k,
    lindhard_yield,
    load_quenching_table,
)

RELEASE = Path(__file__).resolve().parents[1] / "models" / "data" / "coherent_csi_2017"


def test_lindhard_germanium_at_5_keVnr_is_0213():
    # Issue 4 specification: Ge, k = 0.157, 5 keVnr -> Y ≈ 0.213 (by hand: ε = 0.01769,
    # g = 1.717, Y = 0.2124).
    assert lindhard_yield(5.0, 32, 0.157) == pytest.approx(0.213, abs=1e-3)


def test_lindhard_k_for_natural_germanium_is_0157():
    # k = 0.133 Z^(2/3) A^(-1/2) with Z = 32, A = 72.63
    # (Lindhard et al., Mat. Fys. Medd. Dan. Vid. Selsk. 33, no. 10 (1963)).
    assert lindhard_k(32, 72.63) == pytest.approx(0.157, abs=5e-4)


def test_lindhard_yield_rises_with_energy_and_stays_below_one():
    e = np.geomspace(0.1, 1000.0, 50)
    y = LindhardQuenching(k=0.157, Z=32).factor(e)
    assert np.all(np.diff(y) > 0)
    assert np.all((y > 0) & (y < 1))


def test_lindhard_variation_moves_k_by_its_sigma():
    q = LindhardQuenching(k=0.157, Z=32, sigma_k=0.02)
    assert q.varied(+1).factor(5.0) > q.factor(5.0) > q.varied(-1).factor(5.0)
    assert q.varied(+1).k == pytest.approx(0.177, rel=1e-6, abs=0)


def test_electron_equivalent_energy_is_quenching_times_recoil():
    q = ConstantQuenching(0.0878, 0.0166)
    np.testing.assert_allclose(electron_equivalent_keVee(q, [10.0, 20.0]), [0.878, 1.756])
    assert q.varied(-1).value == pytest.approx(0.0712, rel=1e-6, abs=0)
    assert q.scaled(2.0).value == pytest.approx(0.1756, rel=1e-6, abs=0)


def test_polynomial_reproduces_coherent_argon_formula():
    # COHERENT Ar (arXiv:2003.10630): Q = 0.246 + 0.00078 E_nr.
    q = PolynomialQuenching((0.246, 0.00078), relative_sigma=0.1)
    assert q.factor(20.0) == pytest.approx(0.246 + 0.00078 * 20.0, rel=1e-6, abs=0)
    assert q.varied(+1).factor(20.0) == pytest.approx(1.1 * q.factor(20.0), rel=1e-6, abs=0)


def test_tabulated_chicago_points_are_reproduced_and_held_beyond_the_table():
    table = np.loadtxt(RELEASE / "qfData_chicago.txt", delimiter=",", comments="#")
    q = load_quenching_table([RELEASE / "qfData_chicago.txt"])
    np.testing.assert_allclose(q.factor(table[:, 0]), table[:, 2])
    assert q.factor(0.5) == pytest.approx(table[0, 2], rel=1e-6, abs=0)
    assert q.factor(100.0) == pytest.approx(table[-1, 2], rel=1e-6, abs=0)
    np.testing.assert_allclose(q.varied(+1).factor(table[:, 0]), table[:, 2] + table[:, 3])


def test_tabulated_merges_files_sorted_with_asymmetric_errors():
    q = load_quenching_table([RELEASE / "qfData_chicago.txt", RELEASE / "qfData_tunl.txt"])
    assert np.all(np.diff(q.energy_keVnr) >= 0)
    assert len(q.energy_keVnr) == 7 + 12
    tunl = np.loadtxt(RELEASE / "qfData_tunl.txt", delimiter=",", comments="#")
    row = tunl[np.argmax(tunl[:, 0])]  # highest energy point, the end of the merged table
    assert q.varied(-1).factor(row[0]) == pytest.approx(row[3] - row[5], rel=1e-6, abs=0)


def test_malformed_quenching_table_is_an_input_error(tmp_path):
    bad = tmp_path / "qf.txt"
    bad.write_text("1, 2, 3\n")
    with pytest.raises(InputError, match="qf.txt"):
        load_quenching_table([bad])


# ---- contracts of every model: 1σ bookkeeping, floors, asymmetric errors, descriptions --------

E_KEVNR = np.array([2.0, 10.0, 40.0])


def test_a_model_without_a_stated_uncertainty_has_no_quenching_nuisance():
    # A zero 1σ must not become a nuisance parameter with identical ±1σ templates.
    bare = [
        ConstantQuenching(0.3),
        LindhardQuenching(k=0.157, Z=32),
        PolynomialQuenching((0.25, 1e-3)),
        TabulatedQuenching((1.0, 10.0), (0.05, 0.08)),
    ]
    for q in bare:
        assert not q.has_uncertainty and q.variations() == {}, q
    stated = [
        ConstantQuenching(0.3, 0.03),
        LindhardQuenching(k=0.157, Z=32, sigma_k=0.02),
        PolynomialQuenching((0.25, 1e-3), relative_sigma=0.1),
        TabulatedQuenching((1.0, 10.0), (0.05, 0.08), relative_sigma=0.1),
        TabulatedQuenching((1.0, 10.0), (0.05, 0.08), (0.01, 0.01), (0.01, 0.01)),
    ]
    for q in stated:
        assert q.has_uncertainty and list(q.variations()) == ["quenching"], q


def test_relative_sigma_is_the_1sigma_over_the_central_value():
    # Used when a scan replaces Q by a constant: the model's relative 1σ is kept.
    assert ConstantQuenching(0.08, 0.02).relative_sigma == pytest.approx(0.25, rel=1e-12, abs=0)
    lindhard = LindhardQuenching(k=0.16, Z=32, sigma_k=0.04)
    assert lindhard.relative_sigma == pytest.approx(0.25, rel=1e-12, abs=0)


def test_scaling_q_scales_its_absolute_1sigma_with_it():
    q = ConstantQuenching(0.08, 0.02).scaled(1.5)
    assert (q.value, q.sigma) == (
        pytest.approx(0.12, rel=1e-12, abs=0),
        pytest.approx(0.03, rel=1e-12, abs=0),
    )
    lindhard = LindhardQuenching(k=0.157, Z=32)
    np.testing.assert_allclose(
        lindhard.scaled(2.0).factor(E_KEVNR), 2.0 * lindhard.factor(E_KEVNR), rtol=1e-12, atol=0
    )


def test_every_model_floors_q_at_1e_minus_6_by_default():
    # Q is a positive fraction: a model or a −1σ variation that would leave (0, 1] is held at
    # 1e-6 unless floor=False is asked for (the checks of the loader use the unfloored values).
    assert ConstantQuenching(-0.2).factor(5.0) == pytest.approx(1e-6, rel=1e-12, abs=0)
    down, _ = ConstantQuenching(0.3, 0.5).variations()["quenching"]
    assert down.value == pytest.approx(1e-6, rel=1e-12, abs=0)
    # Lindhard: Y(0) = 0 (ε = 0, g = 0); k − σ_k < 0 floors k.
    assert LindhardQuenching(k=0.157, Z=32).factor(0.0) == pytest.approx(1e-6, rel=1e-12, abs=0)
    assert LindhardQuenching(k=0.1, Z=32, sigma_k=0.3).varied(-1).k == pytest.approx(
        1e-6, rel=1e-12, abs=0
    )
    # Polynomial 0.3 − 0.01 E is −0.2 at 50 keVnr; a 150 % relative 1σ floors the scale.
    falling = PolynomialQuenching((0.3, -0.01), relative_sigma=1.5)
    assert falling.factor(50.0) == pytest.approx(1e-6, rel=1e-12, abs=0)
    assert falling.factor(50.0, floor=False) == pytest.approx(-0.2, rel=1e-12, abs=0)
    assert falling.varied(-1).scale == pytest.approx(1e-6, rel=1e-12, abs=0)
    # Tabulated points moved below zero by their errors.
    table = TabulatedQuenching((1.0, 10.0), (0.05, 0.08), (0.1, 0.1), (0.1, 0.1))
    np.testing.assert_array_equal(table.varied(-1).values, [1e-6, 1e-6])


def test_per_coefficient_sigmas_move_every_coefficient_by_n_sigma_in_varied():
    # The one-number envelope used by scans and compare's ±1σ curves (module docstring).
    q = PolynomialQuenching((0.25, 1e-3), sigmas=(0.02, 3e-4), correlation=((1.0, 0.5), (0.5, 1.0)))
    up, down2 = q.varied(+1.0), q.varied(-2.0)
    np.testing.assert_allclose(up.coefficients, [0.27, 1.3e-3], rtol=1e-12, atol=0)
    np.testing.assert_allclose(down2.coefficients, [0.21, 4e-4], rtol=1e-12, atol=0)
    assert up.sigmas is None and up.correlation is None  # the varied model is a central value


def test_eigen_directions_below_1e_minus_12_of_the_largest_are_not_nuisances():
    # Variances 1e-2 and 1e-16 (ratio 1e-14, numerical noise): one direction; 1e-2 and 1e-12
    # (ratio 1e-10): two.
    assert list(PolynomialQuenching((0.2, 1e-3), sigmas=(0.1, 1e-8)).variations()) == [
        "quenching_0"
    ]
    assert len(PolynomialQuenching((0.2, 1e-3), sigmas=(0.1, 1e-6)).variations()) == 2


def _tunl_like(tmp_path: Path) -> Path:
    # 6 columns E_nr, dE_hi, dE_lo, Q, dQ_hi, dQ_lo with clearly asymmetric Q errors.
    path = tmp_path / "qf6.txt"
    path.write_text(
        "# E, dE_hi, dE_lo, Q, dQ_hi, dQ_lo\n"
        "10.0, 1.0, 1.0, 0.09, 0.02, 0.005\n"
        "2.0, 0.2, 0.2, 0.08, 0.01, 0.03\n",
        encoding="utf-8",
    )
    return path


def test_asymmetric_table_errors_move_up_by_the_high_and_down_by_the_low_error(tmp_path):
    q = load_quenching_table([_tunl_like(tmp_path)])
    e = np.array([2.0, 10.0])
    np.testing.assert_allclose(q.factor(e), [0.08, 0.09], rtol=1e-12, atol=0)
    np.testing.assert_allclose(q.varied(+1).factor(e), [0.09, 0.11], rtol=1e-12, atol=0)
    np.testing.assert_allclose(q.varied(+2).factor(e), [0.10, 0.13], rtol=1e-12, atol=0)
    np.testing.assert_allclose(q.varied(-1).factor(e), [0.05, 0.085], rtol=1e-12, atol=0)
    np.testing.assert_allclose(q.varied(0).factor(e), [0.08, 0.09], rtol=1e-12, atol=0)


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qf.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0, 0.0\n2.0, 0.1\n", "energies must be >= 0 and 0 < Q <= 1"),  # Q = 0: no signal
        ("1.0, 1.5\n2.0, 0.1\n", "energies must be >= 0 and 0 < Q <= 1"),  # Q > 1: more light
        ("1.0, nan\n2.0, 0.1\n", "energies must be >= 0 and 0 < Q <= 1"),
        ("-1.0, 0.1\n2.0, 0.1\n", "energies must be >= 0 and 0 < Q <= 1"),
        (
            "1.0, 2.0, 0.1\n",
            "3 columns; allowed are 2 (E_nr, Q), 4 (E_nr, dE, Q, dQ) or 6 (E_nr, dE_hi, dE_lo, Q, "
            "dQ_hi, dQ_lo)",
        ),
        ("1.0, abc\n", "not a numeric table ("),  # numpy's reason follows, then ")"
    ],
)
def test_quenching_table_errors_say_what_is_wrong(tmp_path, text, message):
    path = _table(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_quenching_table([path])
    text = str(info.value)
    assert text.startswith(f"quenching table {path}: {message}"), text
    # the whole message: nothing before the file name, nothing after the reason
    assert text.endswith(")" if message.endswith("(") else message), text


def test_missing_quenching_table_is_named_as_not_found(tmp_path):
    with pytest.raises(InputError, match=r"^quenching table .*nope\.txt: file not found$"):
        load_quenching_table([tmp_path / "nope.txt"])


def test_q_of_one_and_a_single_measured_point_are_valid_tables(tmp_path):
    q = load_quenching_table([_table(tmp_path, "5.0, 1.0\n")])
    # one point: Q held constant on both sides
    np.testing.assert_array_equal(q.factor(np.array([1.0, 5.0, 50.0])), [1.0, 1.0, 1.0])


def test_model_descriptions_use_the_model_file_keys():
    # The JSON description of a model (describe/--json output; scans test "model" ==
    # "constant") names the kind and the parameters as the model file does.
    assert ConstantQuenching(0.3, 0.1).to_dict() == {
        "model": "constant",
        "value": 0.3,
        "sigma": 0.1,
        "note": "",
    }
    assert LindhardQuenching(k=0.157, Z=32, sigma_k=0.02, note="n").to_dict() == {
        "model": "lindhard",
        "k": 0.157,
        "sigma_k": 0.02,
        "Z": 32,
        "scale": 1.0,
        "note": "n",
    }
    assert PolynomialQuenching((0.2, 1e-3), relative_sigma=0.1).to_dict() == {
        "model": "polynomial",
        "coefficients": [0.2, 1e-3],
        "relative_sigma": 0.1,
        "sigmas": None,
        "correlation": None,
        "scale": 1.0,
        "note": "",
    }
    correlated = PolynomialQuenching(
        (0.2, 1e-3), sigmas=(0.02, 1e-4), correlation=((1.0, 0.5), (0.5, 1.0))
    )
    assert correlated.to_dict()["sigmas"] == [0.02, 1e-4]
    assert correlated.to_dict()["correlation"] == [[1.0, 0.5], [0.5, 1.0]]
    assert TabulatedQuenching((1.0, 10.0), (0.05, 0.08), (0.01, 0.01), (0.02, 0.02)).to_dict() == {
        "model": "tabulated",
        "energy_keVnr": [1.0, 10.0],
        "values": [0.05, 0.08],
        "relative_sigma": 0.0,
        "has_point_errors": True,
        "scale": 1.0,
        "note": "",
    }
    assert not TabulatedQuenching((1.0, 10.0), (0.05, 0.08)).to_dict()["has_point_errors"]


@pytest.mark.parametrize(
    "q",
    [
        ConstantQuenching(0.3),
        LindhardQuenching(k=0.157, Z=32),
        PolynomialQuenching((0.25,)),
        TabulatedQuenching((1.0, 10.0), (0.05, 0.08)),
    ],
)
def test_quenching_models_are_immutable_values(q):
    # One model is shared by the nominal and every varied template: it must not be changeable.
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.note = "changed"
    assert hash(q) == hash(q)
