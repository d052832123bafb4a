"""Quenching models: Lindhard theory, constant, polynomial and tabulated measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.quenching import (
    ConstantQuenching,
    LindhardQuenching,
    PolynomialQuenching,
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
