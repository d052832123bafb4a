"""Nuclear weak form factors F(q), evaluated per isotope (mass number A).

Which to use: ``helm`` (default; Lewin & Smith, Astropart. Phys. 6 (1996) 87, Eq. 4.7 with
their parameters) is the standard for CEvNS and dark-matter recoils; ``klein-nystrand``
(Klein & Nystrand, PRC 60 (1999) 014903) serves as a model-uncertainty check: in F² it is
within 3 % of Helm up to 5 keVnr on ¹³³Cs, but 5–8 % below it on Cs and 10–15 % on ²⁰⁸Pb at
10–15 keVnr; ``none`` (F = 1) is for closed-form tests.

All functions take the momentum transfer ``q_fm`` in fm⁻¹ and the mass number ``A`` and
broadcast over both; they return F (not F²), equal to 1 at q = 0.

Separate proton and neutron distributions (:mod:`cevns_fit.physics`) need the same shapes with a
given rms radius instead of A: ``FORM_FACTORS_BY_RMS[name](q_fm, rms_fm)``. Helm's rms radius
is R² = (3/5) r_n² + 3 s² (a uniform sphere r_n folded with a Gaussian of width s);
Klein–Nystrand's is R² = (3/5) R_A² + 6 a_k² (a hard sphere folded with a Yukawa of range a_k).
``helm_from_rms(q, helm_rms_radius_fm(A))`` equals ``helm(q, A)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import spherical_jn

from cevns_fit.errors import InputError

__all__ = [
    "helm",
    "klein_nystrand",
    "unity",
    "FORM_FACTORS",
    "get_form_factor",
    "helm_rms_radius_fm",
    "klein_nystrand_rms_radius_fm",
    "helm_from_rms",
    "klein_nystrand_from_rms",
    "unity_from_rms",
    "FORM_FACTORS_BY_RMS",
    "RMS_RADIUS_fm",
]

# Helm parameters (Lewin & Smith 1996, Sec. 4.3): skin thickness s, surface a, radius c(A).
HELM_S_fm = 0.9
HELM_A_fm = 0.52
# Klein–Nystrand: hard sphere R = 1.2 A^(1/3) fm folded with a Yukawa of range a_k = 0.7 fm.
KN_A_fm = 0.7


def _three_j1_over_x(x: np.ndarray) -> np.ndarray:
    """3 j₁(x)/x, the Fourier transform of a uniform sphere, with its x → 0 limit (= 1)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    # Series 1 − x²/10 + x⁴/280 is exact to 1e-15 for |x| < 1e-3, where j₁/x loses digits.
    return np.where(small, 1.0 - x**2 / 10.0 + x**4 / 280.0, 3.0 * spherical_jn(1, safe) / safe)


def helm(q_fm: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Helm form factor F(q) = 3 j₁(q r_n)/(q r_n) · exp(−(q s)²/2).

    r_n² = c² + (7/3) π² a² − 5 s², c = 1.23 A^(1/3) − 0.60 fm, a = 0.52 fm, s = 0.9 fm
    (Lewin & Smith 1996, Eq. 4.11 and Sec. 4.3)."""
    q = np.asarray(q_fm, dtype=float)
    c = 1.23 * np.cbrt(np.asarray(A, dtype=float)) - 0.60
    r_n = np.sqrt(c**2 + (7.0 / 3.0) * np.pi**2 * HELM_A_fm**2 - 5.0 * HELM_S_fm**2)
    return _three_j1_over_x(q * r_n) * np.exp(-0.5 * (q * HELM_S_fm) ** 2)


def helm_rms_radius_fm(A: np.ndarray) -> np.ndarray:
    """rms radius (fm) of the Helm density of mass number A: sqrt((3/5) r_n² + 3 s²)."""
    c = 1.23 * np.cbrt(np.asarray(A, dtype=float)) - 0.60
    r_n2 = c**2 + (7.0 / 3.0) * np.pi**2 * HELM_A_fm**2 - 5.0 * HELM_S_fm**2
    return np.sqrt(0.6 * r_n2 + 3.0 * HELM_S_fm**2)


def _radius_from_rms(rms_fm: np.ndarray, smearing_fm2: float, name: str) -> np.ndarray:
    """Radius R of the sharp sphere whose fold with a smearing of mean square ``smearing_fm2``
    has the rms radius ``rms_fm``: R² = (5/3)(rms² − smearing)."""
    rms = np.asarray(rms_fm, dtype=float)
    r2 = (5.0 / 3.0) * (rms**2 - smearing_fm2)
    if np.any(~np.isfinite(r2) | (r2 <= 0.0)):
        bad = float(np.ravel(rms)[np.argmax(np.ravel(~np.isfinite(r2) | (r2 <= 0.0)))])
        raise InputError(
            f"{name} form factor: rms radius {bad:g} fm is too small "
            f"(must exceed {np.sqrt(smearing_fm2):.3g} fm)"
        )
    return np.sqrt(r2)


def helm_from_rms(q_fm: np.ndarray, rms_fm: np.ndarray) -> np.ndarray:
    """Helm form factor of a density with rms radius ``rms_fm`` (fm), s = 0.9 fm:
    F = 3 j₁(q r₀)/(q r₀) · exp(−(q s)²/2), r₀² = (5/3)(R² − 3 s²) (Lewin & Smith 1996, §4.3)."""
    r0 = _radius_from_rms(rms_fm, 3.0 * HELM_S_fm**2, "helm")
    q = np.asarray(q_fm, dtype=float)
    return _three_j1_over_x(q * r0) * np.exp(-0.5 * (q * HELM_S_fm) ** 2)


def klein_nystrand_rms_radius_fm(A: np.ndarray) -> np.ndarray:
    """rms radius (fm) of the Klein–Nystrand density: sqrt((3/5) R_A² + 6 a_k²), R_A = 1.2 A^⅓."""
    radius = 1.2 * np.cbrt(np.asarray(A, dtype=float))
    return np.sqrt(0.6 * radius**2 + 6.0 * KN_A_fm**2)


def klein_nystrand_from_rms(q_fm: np.ndarray, rms_fm: np.ndarray) -> np.ndarray:
    """Klein–Nystrand form factor of a density with rms radius ``rms_fm`` (fm), a_k = 0.7 fm:
    R_A² = (5/3)(R² − 6 a_k²) (Klein & Nystrand 1999, Eq. 14)."""
    radius = _radius_from_rms(rms_fm, 6.0 * KN_A_fm**2, "klein-nystrand")
    q = np.asarray(q_fm, dtype=float)
    return _three_j1_over_x(q * radius) / (1.0 + (q * KN_A_fm) ** 2)


def unity_from_rms(q_fm: np.ndarray, rms_fm: np.ndarray) -> np.ndarray:
    """F = 1 whatever the radius (point-like nucleus)."""
    return np.ones(np.broadcast(np.asarray(q_fm), np.asarray(rms_fm)).shape)


def klein_nystrand(q_fm: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Klein–Nystrand form factor F(q) = 3 j₁(qR)/(qR) · 1/(1 + q² a_k²).

    R = 1.2 A^(1/3) fm, a_k = 0.7 fm (Klein & Nystrand, PRC 60, 014903 (1999), Eq. 14)."""
    q = np.asarray(q_fm, dtype=float)
    radius = 1.2 * np.cbrt(np.asarray(A, dtype=float))
    return _three_j1_over_x(q * radius) / (1.0 + (q * KN_A_fm) ** 2)


def unity(q_fm: np.ndarray, A: np.ndarray) -> np.ndarray:
    """F = 1: point-like nucleus, full coherence at every momentum transfer."""
    return np.ones(np.broadcast(np.asarray(q_fm), np.asarray(A)).shape)


FORM_FACTORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "helm": helm,
    "klein-nystrand": klein_nystrand,
    "none": unity,
}


FORM_FACTORS_BY_RMS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "helm": helm_from_rms,
    "klein-nystrand": klein_nystrand_from_rms,
    "none": unity_from_rms,
}

# rms radius of each parametrisation as a function of A (the fallback charge radius).
RMS_RADIUS_fm: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "helm": helm_rms_radius_fm,
    "klein-nystrand": klein_nystrand_rms_radius_fm,
    "none": helm_rms_radius_fm,
}


def get_form_factor(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The form factor called ``name`` (``helm``, ``klein-nystrand`` or ``none``)."""
    try:
        return FORM_FACTORS[name]
    except KeyError:
        allowed = ", ".join(FORM_FACTORS)
        raise InputError(f"form factor {name!r}: unknown, allowed: {allowed}") from None
