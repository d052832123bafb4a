"""The CEvNS differential cross-section dσ/dE_R and the effective cross-section σ_eff.

Standard-model tree level (Freedman 1974; Drukier & Stodolsky 1984; seed Eq. 1)::

    dσ/dE_R = G_F² M / (4π) · Q_W² · (1 − M E_R / (2 E_ν²)) · F²(q),
    Q_W = N − (1 − 4 sin²θ_W) Z,       q = sqrt(2 M E_R) / ħc,

with M the **nuclear** mass. The seed (Jesús-Valls & Sánchez, Front. Phys. 11:1191954, 2023)
prints ``N + (1 − 4 sin²θ_W) Z``; that sign is a typo (the proton's weak charge is
+(1 − 4 sin²θ_W)/2, the neutron's −1/2), worth ~14 % in σ for Cs and Ge. The kinematic limit is
the exact E_R^max = 2E_ν² / (M + 2E_ν); the cross-section is zero above it.

σ_eff (seed Eq. 3) = ∫_{E_thr}^{E_R^max} dσ/dE_R · ε(E_R) dE_R, integrated per isotope by
Gauss–Legendre quadrature on [E_thr, E_R^max] (exact to < 1e-8 relative against the closed form
for F = 1).

Shapes: energies and neutrino energies are 1-D (or scalars); results are outer products
``(n_enu, n_E)`` (target average or per kg) or ``(n_isotopes, n_enu, n_E)`` per isotope.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cevns_fit.constants import GEV_MINUS2_TO_CM2, SIN2_THETA_W, G_FERMI_GeV_minus2, HBARC_GeV_fm
from cevns_fit.errors import InputError
from cevns_fit.form_factors import get_form_factor
from cevns_fit.targets import Target

__all__ = [
    "recoil_max_keVnr",
    "enu_min_MeV",
    "momentum_transfer_fm",
    "weak_charge",
    "dsigma_dER_isotopes",
    "dsigma_dER",
    "sigma_eff",
    "sigma_total_unity_cm2",
]

KEV_PER_GEV = 1e6
MEV_PER_GEV = 1e3
# Gauss–Legendre order for σ_eff: the Helm-suppressed integrand is smooth on [E_thr, E_max].
N_QUADRATURE = 64


def _as_1d(values: np.ndarray | float, name: str, *, allow_zero: bool) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a scalar or a 1-D array")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        allowed = ">= 0" if allow_zero else "> 0"
        raise InputError(
            f"{name}: {float(arr[bad][0]):g} is not allowed, values must be finite and {allowed}"
        )
    return arr


def recoil_max_keVnr(enu_MeV: np.ndarray, mass_GeV: np.ndarray) -> np.ndarray:
    """Largest nuclear recoil energy (keVnr), E_R^max = 2E_ν² / (M + 2E_ν); broadcasts."""
    enu_GeV = np.asarray(enu_MeV, dtype=float) / MEV_PER_GEV
    return 2.0 * enu_GeV**2 / (np.asarray(mass_GeV) + 2.0 * enu_GeV) * KEV_PER_GEV


def enu_min_MeV(energy_keVnr: np.ndarray, mass_GeV: np.ndarray) -> np.ndarray:
    """Smallest neutrino energy (MeV) that can give a recoil E_R: (E_R + sqrt(E_R² + 2 M E_R))/2."""
    er_GeV = np.asarray(energy_keVnr, dtype=float) / KEV_PER_GEV
    mass = np.asarray(mass_GeV, dtype=float)
    return 0.5 * (er_GeV + np.sqrt(er_GeV**2 + 2.0 * mass * er_GeV)) * MEV_PER_GEV


def momentum_transfer_fm(energy_keVnr: np.ndarray, mass_GeV: np.ndarray) -> np.ndarray:
    """Momentum transfer q = sqrt(2 M E_R)/ħc in fm⁻¹ for a recoil E_R (keVnr) of mass M (GeV)."""
    er_GeV = np.asarray(energy_keVnr, dtype=float) / KEV_PER_GEV
    return np.sqrt(2.0 * np.asarray(mass_GeV) * er_GeV) / HBARC_GeV_fm


def weak_charge(Z: np.ndarray, N: np.ndarray, sin2_theta_w: float = SIN2_THETA_W) -> np.ndarray:
    """Nuclear weak charge Q_W = N − (1 − 4 sin²θ_W) Z (tree level; PDG Electroweak review)."""
    return np.asarray(N, dtype=float) - (1.0 - 4.0 * sin2_theta_w) * np.asarray(Z, dtype=float)


def _dsigma_core(
    er_keVnr: np.ndarray,
    enu_MeV: np.ndarray,
    mass_GeV: np.ndarray,
    qw: np.ndarray,
    A: np.ndarray,
    form_factor: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """dσ/dE_R in cm²/keVnr for broadcastable arrays (no validation): see the module docstring."""
    er_GeV = er_keVnr / KEV_PER_GEV
    enu_GeV = enu_MeV / MEV_PER_GEV
    kinematic = 1.0 - mass_GeV * er_GeV / (2.0 * enu_GeV**2)
    allowed = er_keVnr <= recoil_max_keVnr(enu_MeV, mass_GeV)
    ff = form_factor(momentum_transfer_fm(er_keVnr, mass_GeV), A)
    per_GeV3 = G_FERMI_GeV_minus2**2 * mass_GeV / (4.0 * np.pi) * qw**2 * kinematic * ff**2
    return np.where(allowed, per_GeV3 * GEV_MINUS2_TO_CM2 / KEV_PER_GEV, 0.0)


def _isotope_axes(target: Target, sin2_theta_w: float, extra_dims: int):
    shape = (-1,) + (1,) * extra_dims
    return (
        target.mass_GeV.reshape(shape),
        weak_charge(target.Z, target.N, sin2_theta_w).reshape(shape),
        target.A.reshape(shape),
    )


def _combine(per_isotope: np.ndarray, target: Target, per: str) -> np.ndarray:
    """Average over the formula's nuclei (per nucleus), or sum over the nuclei in 1 kg."""
    if per == "isotope":
        return per_isotope
    weights = {"nucleus": target.nuclear_fraction, "kg": target.nuclei_per_kg}.get(per)
    if weights is None:
        raise InputError(f"per={per!r}: allowed are 'nucleus', 'kg', 'isotope'")
    return np.tensordot(weights, per_isotope, axes=(0, 0))


def dsigma_dER_isotopes(
    energy_keVnr: np.ndarray,
    enu_MeV: np.ndarray,
    target: Target,
    *,
    form_factor: str = "helm",
    sin2_theta_w: float = SIN2_THETA_W,
) -> np.ndarray:
    """dσ/dE_R per nucleus of each isotope, cm²/keVnr, shape (n_isotopes, n_enu, n_E)."""
    er = _as_1d(energy_keVnr, "recoil energy (keVnr)", allow_zero=True)
    enu = _as_1d(enu_MeV, "neutrino energy (MeV)", allow_zero=False)
    mass, qw, A = _isotope_axes(target, sin2_theta_w, 2)
    return _dsigma_core(
        er[None, None, :], enu[None, :, None], mass, qw, A, get_form_factor(form_factor)
    )


def dsigma_dER(
    energy_keVnr: np.ndarray,
    enu_MeV: np.ndarray,
    target: Target,
    *,
    form_factor: str = "helm",
    per: str = "nucleus",
    sin2_theta_w: float = SIN2_THETA_W,
) -> np.ndarray:
    """dσ/dE_R of a target, shape (n_enu, n_E).

    ``per="nucleus"``: cm²/keVnr averaged over the formula's nuclei (seed footnote 2);
    ``per="kg"``: cm²/keVnr summed over all nuclei in one kilogram (multiply by a flux in
    cm⁻² s⁻¹ to get events per kg per s per keVnr)."""
    iso = dsigma_dER_isotopes(
        energy_keVnr, enu_MeV, target, form_factor=form_factor, sin2_theta_w=sin2_theta_w
    )
    return _combine(iso, target, per)


def sigma_eff(
    enu_MeV: np.ndarray,
    threshold_keVnr: np.ndarray,
    target: Target,
    *,
    efficiency: Callable[[np.ndarray], np.ndarray] | None = None,
    form_factor: str = "helm",
    per: str = "nucleus",
    sin2_theta_w: float = SIN2_THETA_W,
) -> np.ndarray:
    """Effective cross-section σ_eff = ∫_{E_thr}^{E_R^max} dσ/dE_R ε(E_R) dE_R (seed Eq. 3), cm².

    ``efficiency`` maps recoil energies (keVnr, any shape) to an efficiency in [0, 1]; by
    default it is 1 above the threshold (a hard step). Result shape (n_enu, n_thr), per nucleus
    (average over the formula) or per kg (cm² summed over the nuclei of one kg), or
    (n_isotopes, n_enu, n_thr) with ``per="isotope"``. Zero where the threshold lies above
    every recoil the neutrino can give.
    """
    enu = _as_1d(enu_MeV, "neutrino energy (MeV)", allow_zero=False)
    thr = _as_1d(threshold_keVnr, "threshold (keVnr)", allow_zero=True)
    mass, qw, A = _isotope_axes(target, sin2_theta_w, 3)
    e_max = recoil_max_keVnr(enu[None, :, None, None], mass)  # (iso, enu, 1, 1)
    lo = thr[None, None, :, None]
    width = np.clip(e_max - lo, 0.0, None)  # (iso, enu, thr, 1)
    nodes, weights = np.polynomial.legendre.leggauss(N_QUADRATURE)
    er = lo + width * (nodes + 1.0) / 2.0  # (iso, enu, thr, k)
    integrand = _dsigma_core(
        er, enu[None, :, None, None], mass, qw, A, get_form_factor(form_factor)
    )
    if efficiency is not None:
        integrand = integrand * efficiency(er)
    per_isotope = np.sum(integrand * weights, axis=-1) * width[..., 0] / 2.0
    return _combine(per_isotope, target, per)


def sigma_total_unity_cm2(
    enu_MeV: np.ndarray, Z: int, N: int, mass_GeV: float, sin2_theta_w: float = SIN2_THETA_W
) -> np.ndarray:
    """Closed-form total cross-section (cm²) for F = 1, integrated up to the exact E_R^max.

    ∫₀^{E_max} (1 − M E_R/(2E²)) dE_R = E_max − M E_max²/(4E²); for M ≫ E_ν this tends to
    σ = G_F² Q_W² E_ν² / (4π) (Drukier & Stodolsky 1984)."""
    enu_GeV = np.asarray(enu_MeV, dtype=float) / MEV_PER_GEV
    e_max = 2.0 * enu_GeV**2 / (mass_GeV + 2.0 * enu_GeV)
    integral = e_max - mass_GeV * e_max**2 / (4.0 * enu_GeV**2)
    qw = weak_charge(Z, N, sin2_theta_w)
    return G_FERMI_GeV_minus2**2 * mass_GeV / (4.0 * np.pi) * qw**2 * integral * GEV_MINUS2_TO_CM2
