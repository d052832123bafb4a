"""HistFactory interpolation codes, as pyhf 0.7.6 evaluates them.

* code 4 (normsys): a multiplicative factor g(α), a 6th-order polynomial for |α| < 1 fixed by
  value, slope and curvature at α = ±1, exponential ``hi**α`` / ``lo**-α`` outside
  (:func:`code4_factor`, coefficients from :func:`_code4_coefficients`);
* code 4p (histosys): an additive shape delta Δ(α), polynomial for |α| ≤ 1, linear outside
  (:func:`code4p_delta`).

Sources: pyhf.interpolators.code4 and code4p; ROOT HistFactory interpolation codes 4 and 4p
(Cranmer et al., CERN-OPEN-2012-016). The compiled kernel (:mod:`cevns_fit.fastlik.kernel`)
evaluates the same polynomials in stacked form.
"""

from __future__ import annotations

import numpy as np

# Inverse of the 6x6 system fixing code-4's polynomial by value, slope and curvature at α = ±1
# (pyhf.interpolators.code4 with alpha0 = 1).
_CODE4_AINV = np.array(
    [
        [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
        [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
        [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
        [-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8],
        [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
        [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
    ]
)


def _code4_coefficients(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Polynomial coefficients a_1..a_6 of code-4 for relative factors ``lo``, ``hi`` (any shape).

    Returns an array of shape (6, *lo.shape). Source: pyhf.interpolators.code4 (alpha0 = 1).
    """
    log_hi, log_lo = np.log(hi), np.log(lo)
    b = np.stack([hi - 1.0, lo - 1.0, log_hi * hi, -log_lo * lo, log_hi**2 * hi, log_lo**2 * lo])
    return np.tensordot(_CODE4_AINV, b, axes=1)


def code4_factor(
    alpha: np.ndarray, lo: np.ndarray, hi: np.ndarray, coeffs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Code-4 normsys factor g(α) and dg/dα (dimensionless), broadcasting ``alpha`` over lo/hi.

    g = hi**α for α > 1, lo**(−α) for α < −1, 1 + Σ a_i α^i in between
    (pyhf 0.7.6 ``code4``; ROOT HistFactory interpolation code 4). ``coeffs`` from
    ``_code4_coefficients(lo, hi)``.
    """
    a = alpha
    c1, c2, c3, c4, c5, c6 = coeffs
    # Horner forms of the polynomial and its derivative
    poly = 1.0 + a * (c1 + a * (c2 + a * (c3 + a * (c4 + a * (c5 + a * c6)))))
    dpoly = c1 + a * (2 * c2 + a * (3 * c3 + a * (4 * c4 + a * (5 * c5 + a * 6 * c6))))
    if np.all(np.abs(a) <= 1.0):
        return poly, dpoly
    a = np.broadcast_to(alpha, lo.shape)
    log_hi, log_lo = np.log(hi), np.log(lo)
    abs_a = np.abs(a)
    up = np.exp(abs_a * log_hi)
    dn = np.exp(abs_a * log_lo)
    value = np.where(a > 1.0, up, np.where(a < -1.0, dn, poly))
    deriv = np.where(a > 1.0, up * log_hi, np.where(a < -1.0, -dn * log_lo, dpoly))
    return value, deriv


def code4p_delta(
    alpha: np.ndarray, delta_up: np.ndarray, delta_dn: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Code-4p histosys additive delta Δ(α) and dΔ/dα, ``alpha`` of shape (H,), deltas (H, ...).

    ``delta_up = up − nominal``, ``delta_dn = nominal − down``. Linear for |α| > 1, the
    polynomial α S + A (15 α² − 10 α⁴ + 3 α⁶) with S = (Δ⁺ + Δ⁻)/2, A = (Δ⁺ − Δ⁻)/16 inside
    (pyhf 0.7.6 ``code4p``).
    """
    a = alpha.reshape((-1,) + (1,) * (delta_up.ndim - 1))
    s = 0.5 * (delta_up + delta_dn)
    asym = 0.0625 * (delta_up - delta_dn)
    a2 = a * a
    inner = a * s + asym * a2 * (15.0 + a2 * (-10.0 + 3.0 * a2))
    dinner = s + asym * a * (30.0 + a2 * (-40.0 + 18.0 * a2))
    value = np.where(a > 1.0, delta_up * a, np.where(a < -1.0, delta_dn * a, inner))
    deriv = np.where(a > 1.0, delta_up, np.where(a < -1.0, delta_dn, dinner))
    return value, deriv
