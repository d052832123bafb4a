"""Logistic efficiency with a constant term: the COHERENT CsI[Na] 2021 release form
ε(x) = a / (1 + exp(−k (x − x0))) + d (arXiv:2110.07730), clipped at 0 where it is negative."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cevns_fit.efficiency import LogisticEfficiency

# Nominal energy-efficiency parameters of the COHERENT CsI 2021 data release (x in PE).
A, K, X0, D = 1.32045, 0.285979, 10.8646, -0.333322


def release(x: float) -> float:
    return A / (1.0 + math.exp(-K * (x - X0))) + D


def test_logistic_with_offset_matches_the_release_formula():
    eff = LogisticEfficiency(A, K, X0, heaviside=None, offset=D)
    x = np.array([8.0, 10.8646, 15.0, 30.0, 60.0])
    np.testing.assert_allclose(eff(x), [release(v) for v in x], rtol=1e-14, atol=0)
    # the plateau is a + d, not a
    assert eff(1e4) == pytest.approx(A + D, rel=1e-12, abs=0)


def test_negative_part_of_the_formula_is_no_acceptance():
    # ε = 0 where a / (1 + exp(−k (x − x0))) = −d, i.e. x = x0 − ln(a/(−d) − 1) / k ≈ 7.07 PE.
    crossing = X0 - math.log(A / -D - 1.0) / K
    assert crossing == pytest.approx(7.07, abs=0.01)
    eff = LogisticEfficiency(A, K, X0, heaviside=None, offset=D)
    assert release(crossing - 0.5) < 0
    assert eff(crossing - 0.5) == 0.0 and eff(0.0) == 0.0
    assert eff(crossing + 0.5) == pytest.approx(release(crossing + 0.5), rel=1e-14, abs=0)


def test_offset_zero_is_the_2017_logistic_and_shift_moves_x0():
    plain = LogisticEfficiency(0.6655, 0.4942, 10.8507)
    x = np.linspace(0.0, 40.0, 81)
    np.testing.assert_array_equal(
        plain(x), LogisticEfficiency(0.6655, 0.4942, 10.8507, offset=0)(x)
    )
    shifted = LogisticEfficiency(A, K, X0, heaviside=None, offset=D).shifted(1.0)
    assert shifted(12.0) == pytest.approx(release(11.0), rel=1e-14, abs=0)
    assert shifted.to_dict()["offset"] == D
