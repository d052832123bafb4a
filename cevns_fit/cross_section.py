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

Physics beyond this default (separate proton and neutron form factors, radiative corrections,
NSI, a magnetic moment, a light mediator) comes in through ``physics=PhysicsParameters(...)``
(:mod:`cevns_fit.physics`, where every formula is given with its source); some of it depends on
the neutrino flavour, which is then required (``flavour="nu_mu"``, as in
``FluxComponent.flavour``). With ``physics=None`` or only sin²θ_W changed, the code path is the
tree-level formula above, unchanged. The magnetic-moment term rises as 1/E_R, so its part of
σ_eff is integrated in ln E_R and needs a threshold > 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import periodictable

from cevns_fit.constants import (
    FINE_STRUCTURE,
    GEV_MINUS2_TO_CM2,
    SIN2_THETA_W,
    ELECTRON_MASS_GeV,
    G_FERMI_GeV_minus2,
    HBARC_GeV_fm,
)
from cevns_fit.errors import InputError
from cevns_fit.form_factors import FORM_FACTORS_BY_RMS, get_form_factor
from cevns_fit.nuclear_radii import default_neutron_skin_fm, point_proton_radius_fm
from cevns_fit.physics import LEPTONS, PhysicsParameters, check_sin2_theta_w, flavour_leptons
from cevns_fit.targets import Target

__all__ = [
    "recoil_max_keVnr",
    "enu_min_MeV",
    "momentum_transfer_fm",
    "weak_charge",
    "weak_charge_squared",
    "nucleon_radii_fm",
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


def _resolve_physics(
    physics: PhysicsParameters | None, sin2_theta_w: float, flavour: str | None
) -> PhysicsParameters:
    """The physics to use: ``physics``, or the default with ``sin2_theta_w``; validated."""
    sin2_theta_w = check_sin2_theta_w(sin2_theta_w)
    if physics is None:
        physics = PhysicsParameters(sin2_theta_w=sin2_theta_w)
    elif not isinstance(physics, PhysicsParameters):
        raise InputError(f"physics = {physics!r}: must be a PhysicsParameters")
    elif sin2_theta_w not in (SIN2_THETA_W, physics.sin2_theta_w):
        raise InputError(
            f"sin2_theta_w = {sin2_theta_w!r} and physics.sin2_theta_w = "
            f"{physics.sin2_theta_w!r}: give the weak mixing angle once (in physics)"
        )
    if flavour is not None:
        flavour_leptons(flavour)  # validates the name
    elif physics.needs_flavour:
        raise InputError(
            "radiative corrections, NSI and magnetic moments depend on the neutrino flavour: "
            "give flavour= (nu_e, nu_mu, nu_tau, their _bar, or nu_x)"
        )
    return physics


def _mediator_epsilon(physics: PhysicsParameters, q2_GeV2: np.ndarray) -> np.ndarray | float:
    """ε^u = ε^d = g_ν g_q / (√2 G_F (q² + m²)) of a light vector mediator (physics module)."""
    if physics.mediator_coupling == 0.0:
        return 0.0
    m_GeV = physics.mediator_mass_MeV / MEV_PER_GEV
    return physics.mediator_coupling / (np.sqrt(2.0) * G_FERMI_GeV_minus2 * (q2_GeV2 + m_GeV**2))


def _sum_charges_squared(
    zf: np.ndarray,
    nf: np.ndarray,
    physics: PhysicsParameters,
    flavour: str | None,
    eps_mediator: np.ndarray | float,
) -> np.ndarray:
    """Σ_β Q_αβ², averaged over the leptons of ``flavour``, for Z·F_p = ``zf``, N·F_n = ``nf``:
    Q_αβ = −2[zf (g_V^p δ_αβ + 2ε^u_αβ + ε^d_αβ) + nf (g_V^n δ_αβ + ε^u_αβ + 2ε^d_αβ)]
    (Barranco, Miranda & Rashba 2005, Eq. 2; the mediator adds to ε^u_αα = ε^d_αα)."""
    leptons = flavour_leptons(flavour) if physics.needs_flavour else (("mu", 1.0),)
    total = 0.0
    for alpha, weight in leptons:
        g_p, g_n = physics.couplings(alpha)
        for beta in LEPTONS:
            eps_u, eps_d = physics.nsi("u", alpha, beta), physics.nsi("d", alpha, beta)
            c_p, c_n = 2.0 * eps_u + eps_d, eps_u + 2.0 * eps_d
            if beta == alpha:
                charge = -2.0 * (
                    zf * (g_p + c_p + 3.0 * eps_mediator) + nf * (g_n + c_n + 3.0 * eps_mediator)
                )
            elif c_p == 0.0 and c_n == 0.0:
                continue
            else:
                charge = -2.0 * (zf * c_p + nf * c_n)
            total = total + weight * charge**2
    return total


def weak_charge_squared(
    Z: np.ndarray,
    N: np.ndarray,
    *,
    physics: PhysicsParameters | None = None,
    flavour: str | None = None,
) -> np.ndarray:
    """Σ_β Q_αβ² at q → 0 (F_p = F_n = 1): the coherent factor of dσ/dE_R for ``flavour``.

    Equals :func:`weak_charge` ² for the default physics; with NSI it is the Barranco et al.
    (2005) factor [Z(g_V^p + 2ε^u + ε^d) + N(g_V^n + ε^u + 2ε^d)]² times 4, plus the
    off-diagonal terms (formulas in :mod:`cevns_fit.physics`)."""
    physics = _resolve_physics(physics, SIN2_THETA_W, flavour)
    z, n = np.asarray(Z, dtype=float), np.asarray(N, dtype=float)
    return _sum_charges_squared(z, n, physics, flavour, _mediator_epsilon(physics, 0.0))


def nucleon_radii_fm(
    target: Target, physics: PhysicsParameters | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(R_p, R_n) per isotope in fm: point-proton radii from measured charge radii, neutron
    radii from ``physics`` (per element) or R_p + the default skin (:mod:`nuclear_radii`).

    Radii given for elements the target does not contain are not used (one ``physics`` may
    serve several detectors)."""
    physics = physics or PhysicsParameters()
    r_p = point_proton_radius_fm(target.Z, target.N, target.A)
    r_n = r_p + default_neutron_skin_fm(target.Z, target.N)
    for i, z in enumerate(target.Z):
        override = physics.neutron_radius_override(periodictable.elements[int(z)].symbol)
        if override is not None:
            kind, value = override
            r_n[i] = value if kind == "rms" else r_p[i] + value
    if np.any(r_n <= 0):
        raise InputError(f"neutron rms radius {float(np.min(r_n)):g} fm: must be > 0")
    return r_p, r_n


@dataclass(frozen=True)
class _Nuclei:
    """Per-isotope arrays, reshaped to broadcast against (…, n_enu, n_E) grids."""

    mass_GeV: np.ndarray
    Z: np.ndarray
    N: np.ndarray
    A: np.ndarray
    qw: np.ndarray
    r_p: np.ndarray | None
    r_n: np.ndarray | None


def _nuclei(target: Target, physics: PhysicsParameters, extra_dims: int) -> _Nuclei:
    shape = (-1,) + (1,) * extra_dims
    r_p = r_n = None
    if physics.nucleon_form_factors:
        r_p, r_n = (r.reshape(shape) for r in nucleon_radii_fm(target, physics))
    return _Nuclei(
        mass_GeV=target.mass_GeV.reshape(shape),
        Z=target.Z.astype(float).reshape(shape),
        N=target.N.astype(float).reshape(shape),
        A=target.A.reshape(shape),
        qw=weak_charge(target.Z, target.N, physics.sin2_theta_w).reshape(shape),
        r_p=r_p,
        r_n=r_n,
    )


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


def _proton_neutron_form_factors(
    q_fm: np.ndarray, nuc: _Nuclei, form_factor: str, physics: PhysicsParameters
) -> tuple[np.ndarray, np.ndarray]:
    if physics.nucleon_form_factors:
        shape = FORM_FACTORS_BY_RMS[form_factor]
        return shape(q_fm, nuc.r_p), shape(q_fm, nuc.r_n)
    ff = get_form_factor(form_factor)(q_fm, nuc.A)
    return ff, ff


def _magnetic_moment2(physics: PhysicsParameters, flavour: str | None) -> float:
    """Flavour-weighted μ_ν² (μ_B²)."""
    if flavour is None:
        return 0.0
    return sum(w * physics.magnetic_moment_muB(lep) ** 2 for lep, w in flavour_leptons(flavour))


def _dsigma_physics(
    er_keVnr: np.ndarray,
    enu_MeV: np.ndarray,
    nuc: _Nuclei,
    form_factor: str,
    physics: PhysicsParameters,
    flavour: str | None,
    *,
    weak: bool = True,
    magnetic: bool = True,
) -> np.ndarray:
    """dσ/dE_R (cm²/keVnr) with every physics parameter (formulas in :mod:`cevns_fit.physics`):

    G_F² M/(4π) (1 − M E_R/(2E_ν²)) Σ_β Q_αβ(q)² + (π α² μ_ν² Z²/m_e²)(1/E_R − 1/E_ν) F_p²,
    zero above E_R^max. ``weak``/``magnetic`` select the terms (σ_eff integrates them apart)."""
    er_GeV = er_keVnr / KEV_PER_GEV
    enu_GeV = enu_MeV / MEV_PER_GEV
    allowed = er_keVnr <= recoil_max_keVnr(enu_MeV, nuc.mass_GeV)
    f_p, f_n = _proton_neutron_form_factors(
        momentum_transfer_fm(er_keVnr, nuc.mass_GeV), nuc, form_factor, physics
    )
    per_GeV3 = 0.0
    if weak:
        eps_med = _mediator_epsilon(physics, 2.0 * nuc.mass_GeV * er_GeV)
        charges2 = _sum_charges_squared(nuc.Z * f_p, nuc.N * f_n, physics, flavour, eps_med)
        kinematic = 1.0 - nuc.mass_GeV * er_GeV / (2.0 * enu_GeV**2)
        per_GeV3 = G_FERMI_GeV_minus2**2 * nuc.mass_GeV / (4.0 * np.pi) * kinematic * charges2
    mu2 = _magnetic_moment2(physics, flavour)
    if magnetic and mu2 > 0.0:
        with np.errstate(divide="ignore"):
            rise = 1.0 / er_GeV - 1.0 / enu_GeV
        per_GeV3 = per_GeV3 + (
            np.pi * FINE_STRUCTURE**2 * mu2 * nuc.Z**2 / ELECTRON_MASS_GeV**2 * rise * f_p**2
        )
    return np.where(allowed, per_GeV3 * GEV_MINUS2_TO_CM2 / KEV_PER_GEV, 0.0)


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
    physics: PhysicsParameters | None = None,
    flavour: str | None = None,
) -> np.ndarray:
    """dσ/dE_R per nucleus of each isotope, cm²/keVnr, shape (n_isotopes, n_enu, n_E).

    ``physics`` (default: tree level with ``sin2_theta_w``) and the neutrino ``flavour`` (needed
    when ``physics.needs_flavour``) as in the module docstring."""
    er = _as_1d(energy_keVnr, "recoil energy (keVnr)", allow_zero=True)
    enu = _as_1d(enu_MeV, "neutrino energy (MeV)", allow_zero=False)
    physics = _resolve_physics(physics, sin2_theta_w, flavour)
    get_form_factor(form_factor)  # validates the name
    nuc = _nuclei(target, physics, 2)
    if physics.is_tree_level:
        return _dsigma_core(
            er[None, None, :],
            enu[None, :, None],
            nuc.mass_GeV,
            nuc.qw,
            nuc.A,
            get_form_factor(form_factor),
        )
    return _dsigma_physics(
        er[None, None, :], enu[None, :, None], nuc, form_factor, physics, flavour
    )


def dsigma_dER(
    energy_keVnr: np.ndarray,
    enu_MeV: np.ndarray,
    target: Target,
    *,
    form_factor: str = "helm",
    per: str = "nucleus",
    sin2_theta_w: float = SIN2_THETA_W,
    physics: PhysicsParameters | None = None,
    flavour: str | None = None,
) -> np.ndarray:
    """dσ/dE_R of a target, shape (n_enu, n_E).

    ``per="nucleus"``: cm²/keVnr averaged over the formula's nuclei (seed footnote 2);
    ``per="kg"``: cm²/keVnr summed over all nuclei in one kilogram (multiply by a flux in
    cm⁻² s⁻¹ to get events per kg per s per keVnr). ``physics``/``flavour``: module docstring."""
    iso = dsigma_dER_isotopes(
        energy_keVnr,
        enu_MeV,
        target,
        form_factor=form_factor,
        sin2_theta_w=sin2_theta_w,
        physics=physics,
        flavour=flavour,
    )
    return _combine(iso, target, per)


def _magnetic_sigma_eff(
    enu: np.ndarray,
    thr: np.ndarray,
    nuc: _Nuclei,
    form_factor: str,
    physics: PhysicsParameters,
    flavour: str,
    efficiency: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """∫ dσ_μ/dE_R ε dE_R over [E_thr, E_R^max] in u = ln E_R, where E_R dσ_μ/dE_R is smooth."""
    if np.any(thr <= 0.0):
        raise InputError(
            "threshold 0 keVnr with a neutrino magnetic moment: σ_eff diverges "
            "(dσ/dE_R ∝ 1/E_R); give a threshold > 0"
        )
    e_max = recoil_max_keVnr(enu[None, :, None, None], nuc.mass_GeV)
    lo = np.broadcast_to(
        thr[None, None, :, None], np.broadcast(e_max, thr[None, None, :, None]).shape
    )
    log_lo = np.log(lo)
    log_width = np.clip(np.log(np.maximum(e_max, lo)) - log_lo, 0.0, None)
    nodes, weights = np.polynomial.legendre.leggauss(N_QUADRATURE)
    er = np.exp(log_lo + log_width * (nodes + 1.0) / 2.0)
    integrand = _dsigma_physics(
        er, enu[None, :, None, None], nuc, form_factor, physics, flavour, weak=False
    )
    if efficiency is not None:
        integrand = integrand * efficiency(er)
    return np.sum(integrand * er * weights, axis=-1) * log_width[..., 0] / 2.0


def sigma_eff(
    enu_MeV: np.ndarray,
    threshold_keVnr: np.ndarray,
    target: Target,
    *,
    efficiency: Callable[[np.ndarray], np.ndarray] | None = None,
    form_factor: str = "helm",
    per: str = "nucleus",
    sin2_theta_w: float = SIN2_THETA_W,
    physics: PhysicsParameters | None = None,
    flavour: str | None = None,
) -> np.ndarray:
    """Effective cross-section σ_eff = ∫_{E_thr}^{E_R^max} dσ/dE_R ε(E_R) dE_R (seed Eq. 3), cm².

    ``efficiency`` maps recoil energies (keVnr, any shape) to an efficiency in [0, 1]; by
    default it is 1 above the threshold (a hard step). Result shape (n_enu, n_thr), per nucleus
    (average over the formula) or per kg (cm² summed over the nuclei of one kg), or
    (n_isotopes, n_enu, n_thr) with ``per="isotope"``. Zero where the threshold lies above
    every recoil the neutrino can give. ``physics``/``flavour``: module docstring (a magnetic
    moment needs thresholds > 0).
    """
    enu = _as_1d(enu_MeV, "neutrino energy (MeV)", allow_zero=False)
    thr = _as_1d(threshold_keVnr, "threshold (keVnr)", allow_zero=True)
    physics = _resolve_physics(physics, sin2_theta_w, flavour)
    get_form_factor(form_factor)  # validates the name
    nuc = _nuclei(target, physics, 3)
    e_max = recoil_max_keVnr(enu[None, :, None, None], nuc.mass_GeV)  # (iso, enu, 1, 1)
    lo = thr[None, None, :, None]
    width = np.clip(e_max - lo, 0.0, None)  # (iso, enu, thr, 1)
    nodes, weights = np.polynomial.legendre.leggauss(N_QUADRATURE)
    er = lo + width * (nodes + 1.0) / 2.0  # (iso, enu, thr, k)
    enu4 = enu[None, :, None, None]
    if physics.is_tree_level:
        integrand = _dsigma_core(
            er, enu4, nuc.mass_GeV, nuc.qw, nuc.A, get_form_factor(form_factor)
        )
    else:
        integrand = _dsigma_physics(er, enu4, nuc, form_factor, physics, flavour, magnetic=False)
    if efficiency is not None:
        integrand = integrand * efficiency(er)
    per_isotope = np.sum(integrand * weights, axis=-1) * width[..., 0] / 2.0
    if _magnetic_moment2(physics, flavour) > 0.0:
        per_isotope = per_isotope + _magnetic_sigma_eff(
            enu, thr, nuc, form_factor, physics, flavour, efficiency
        )
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
