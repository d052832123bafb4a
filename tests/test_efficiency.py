"""Efficiency models in the observable: step, erf, COHERENT logistic, tabulated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cevns_fit.efficiency import (
    ErfEfficiency,
    LogisticEfficiency,
    StepEfficiency,
    TabulatedEfficiency,
    modified_heaviside,
)

# COHERENT CsI 2017 acceptance (coherent_parameters.yaml of the data release).
A, K, X0 = 0.6655, 0.4942, 10.8507


def test_step_is_zero_below_and_plateau_above_and_shifts():
    eff = StepEfficiency(4.3, plateau=0.9)
    np.testing.assert_array_equal(eff([4.29, 4.3, 10.0]), [0.0, 0.9, 0.9])
    assert eff.shifted(0.5)(4.5) == 0.0
    assert eff.shifted(0.5).threshold == pytest.approx(4.8, rel=1e-6, abs=0)


def test_erf_is_half_plateau_at_threshold_and_symmetric():
    eff = ErfEfficiency(1.5, 0.15)
    assert eff(1.5) == pytest.approx(0.5, rel=1e-6, abs=0)
    assert eff(1.5 + 0.3) + eff(1.5 - 0.3) == pytest.approx(1.0, rel=1e-6, abs=0)
    assert eff(1.5 + 0.15) == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), rel=1e-6, abs=0)


def test_logistic_matches_the_release_formula_at_1pe_bin_centres():
    eff = LogisticEfficiency(A, K, X0)
    centres = np.array([4.5, 5.5, 6.5, 20.5])
    step = np.array([0.0, 0.5, 1.0, 1.0])
    expected = A / (1 + np.exp(-K * (centres - X0))) * step
    np.testing.assert_allclose(eff(centres), expected)
    assert eff(200.0) == pytest.approx(A, rel=1e-6, abs=0)


def test_logistic_shift_moves_x0_not_the_heaviside_cut():
    eff = LogisticEfficiency(A, K, X0).shifted(0.2)
    assert eff.threshold == pytest.approx(X0 + 0.2, rel=1e-6, abs=0)
    assert eff(5.5) == pytest.approx(
        0.5 * A / (1 + math.exp(-K * (5.5 - X0 - 0.2))), rel=1e-6, abs=0
    )
    np.testing.assert_array_equal(modified_heaviside([4.99, 5.0, 5.99, 6.0]), [0, 0.5, 0.5, 1])


def test_tabulated_interpolates_clamps_and_shifts():
    eff = TabulatedEfficiency((1.0, 2.0, 3.0), (0.0, 0.5, 1.0))
    np.testing.assert_allclose(eff([0.0, 1.5, 2.5, 9.0]), [0.0, 0.25, 0.75, 1.0])
    assert eff.threshold == pytest.approx(2.0, rel=1e-6, abs=0)
    assert eff.shifted(1.0)(2.5) == pytest.approx(0.25, rel=1e-6, abs=0)
