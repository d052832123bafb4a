"""Reactor ν̄_e: Huber (2011) ²³⁵U, ²³⁹Pu, ²⁴¹Pu and Mueller (2011) ²³⁸U spectra per fission,
with a documented low-energy extension (Vogel–Engel 1989 below 2 MeV), weighted by the fuel's
fission fractions; flux = (P_th / ⟨E_f⟩) · n_ν / (4π L²) (PHYSICS.md §6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from cevns_fit.constants import CM_PER_M, MEV_PER_JOULE
from cevns_fit.sources.base import FluxComponent, Source, _normalised, gauss_legendre_nodes

__all__ = [
    "HUBER_MUELLER_COEFFS",
    "VOGEL_ENGEL_COEFFS",
    "ENERGY_PER_FISSION_MeV",
    "isotope_spectrum_per_fission",
    "reactor_spectrum_per_fission",
    "reactor_nu_per_fission",
    "make_reactor_source",
]

# Reactor ν̄_e spectra per fission per MeV: exp(Σ_k a_k E^k), E in MeV, k = 0..5, fit range 2–8 MeV.
# ²³⁵U, ²³⁹Pu, ²⁴¹Pu: P. Huber, PRC 84, 024617 (2011), arXiv:1106.0687, Table III.
# ²³⁸U: Th. A. Mueller et al., PRC 83, 054615 (2011), arXiv:1101.2663, Table VI.
HUBER_MUELLER_COEFFS: dict[str, tuple[float, ...]] = {
    "U235": (4.367, -4.577, 2.100, -5.294e-1, 6.186e-2, -2.777e-3),
    "U238": (4.833e-1, 1.927e-1, -1.283e-1, -6.762e-3, 2.233e-3, -1.536e-4),
    "Pu239": (4.757, -5.392, 2.563, -6.596e-1, 7.820e-2, -3.536e-3),
    "Pu241": (2.990, -2.882, 1.278, -3.343e-1, 3.905e-2, -1.754e-3),
}
# Low-energy shape, exp(a0 + a1 E + a2 E²): P. Vogel and J. Engel, PRD 39, 3378 (1989), Table I.
VOGEL_ENGEL_COEFFS: dict[str, tuple[float, float, float]] = {
    "U235": (0.870, -0.160, -0.0910),
    "U238": (0.976, -0.162, -0.0790),
    "Pu239": (0.896, -0.239, -0.0981),
    "Pu241": (0.793, -0.080, -0.1085),
}
# Thermal energy released per fission (MeV): V. I. Kopeikin, L. A. Mikaelyan, V. V. Sinev,
# Phys. At. Nucl. 67, 1892 (2004), arXiv:hep-ph/0410100.
ENERGY_PER_FISSION_MeV: dict[str, float] = {
    "U235": 201.92,
    "U238": 205.52,
    "Pu239": 209.99,
    "Pu241": 213.60,
}
# Where the Huber–Mueller fit takes over from the low-energy shape, and where the spectrum stops.
_HM_MATCH_MeV = 2.0
_REACTOR_EMAX_MeV = 10.0


def isotope_spectrum_per_fission(
    enu_MeV: np.ndarray, isotope: str, *, low_energy: str = "vogel-engel"
) -> np.ndarray:
    """ν̄_e per fission per MeV of one fissile isotope ("U235", "U238", "Pu239", "Pu241").

    Above 2 MeV: Huber (2011) / Mueller (2011) exp-polynomial, used as published up to 8 MeV and
    extrapolated to 10 MeV (the spectrum stops there). Below 2 MeV, where the fits do not apply:
    ``low_energy="vogel-engel"`` uses the Vogel–Engel (1989) exp-quadratic shape scaled to be
    continuous at 2 MeV (this gives ≈ 5.5 ν̄ per fission in total; it under-counts the softest
    ν̄ below ~1 MeV, which cannot give CEvNS recoils above ~0.1 keVnr); ``"none"`` sets the
    spectrum to zero below 2 MeV.
    """
    e = np.asarray(enu_MeV, dtype=float)
    hm = np.exp(np.polynomial.polynomial.polyval(e, HUBER_MUELLER_COEFFS[isotope]))
    if low_energy == "none":
        low = np.zeros_like(e)
    else:
        ve = VOGEL_ENGEL_COEFFS[isotope]
        scale = math.exp(
            np.polynomial.polynomial.polyval(_HM_MATCH_MeV, HUBER_MUELLER_COEFFS[isotope])
            - np.polynomial.polynomial.polyval(_HM_MATCH_MeV, ve)
        )
        low = scale * np.exp(np.polynomial.polynomial.polyval(e, ve))
    out = np.where(e >= _HM_MATCH_MeV, hm, low)
    return np.where((e >= 0) & (e <= _REACTOR_EMAX_MeV), out, 0.0)


def reactor_spectrum_per_fission(
    enu_MeV: np.ndarray, fission_fractions: Mapping[str, float], *, low_energy: str = "vogel-engel"
) -> np.ndarray:
    """ν̄_e per fission per MeV of the fuel mix: Σ_k f_k S_k(E), f_k fractions of fissions."""
    return sum(
        f * isotope_spectrum_per_fission(enu_MeV, iso, low_energy=low_energy)
        for iso, f in fission_fractions.items()
    )


def _reactor_rule(n_panels: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    # Separate panels below and above the 2 MeV junction, where the spectrum has a kink.
    lo_n, lo_w = gauss_legendre_nodes(0.0, _HM_MATCH_MeV, max(n_panels // 4, 4), order)
    hi_n, hi_w = gauss_legendre_nodes(_HM_MATCH_MeV, _REACTOR_EMAX_MeV, n_panels, order)
    return np.concatenate([lo_n, hi_n]), np.concatenate([lo_w, hi_w])


def reactor_nu_per_fission(
    fission_fractions: Mapping[str, float],
    *,
    low_energy: str = "vogel-engel",
    enu_min_MeV: float = 0.0,
    n_panels: int = 64,
    order: int = 8,
) -> float:
    """ν̄_e per fission above ``enu_min_MeV`` for the fuel mix (same quadrature as the source)."""
    nodes, rule = _reactor_rule(n_panels, order)
    spec = reactor_spectrum_per_fission(nodes, fission_fractions, low_energy=low_energy)
    return float(np.sum(rule * spec * (nodes >= enu_min_MeV)))


def make_reactor_source(
    *,
    name: str = "reactor",
    thermal_power_GW: float,
    distance_m: float,
    fission_fractions: Mapping[str, float],
    energy_per_fission_MeV: Mapping[str, float] | None = None,
    flux_uncertainty: float = 0.05,
    low_energy: str = "vogel-engel",
    n_panels: int = 64,
    order: int = 8,
) -> Source:
    """Reactor ν̄_e source: flux = (P_th / ⟨E_f⟩) · n_ν / (4π L²) with ⟨E_f⟩ = Σ f_k E_k.

    One steady component "nu_e_bar" with the Huber–Mueller spectrum of
    :func:`reactor_spectrum_per_fission` (PHYSICS.md §6).
    """
    e_fission = dict(
        ENERGY_PER_FISSION_MeV if energy_per_fission_MeV is None else energy_per_fission_MeV
    )
    mean_e_fission_MeV = sum(f * e_fission[iso] for iso, f in fission_fractions.items())
    fissions_per_s = thermal_power_GW * 1e9 * MEV_PER_JOULE / mean_e_fission_MeV
    nodes, rule = _reactor_rule(n_panels, order)
    spec = reactor_spectrum_per_fission(nodes, fission_fractions, low_energy=low_energy)
    nu_per_fission = float(np.sum(rule * spec))
    enu, w = _normalised(nodes, rule, spec)
    flux = fissions_per_s * nu_per_fission / (4.0 * math.pi * (distance_m * CM_PER_M) ** 2)
    return Source(
        name=name,
        kind="reactor",
        components=(FluxComponent("nu_e_bar", "nu_e_bar", flux, enu, w, None),),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        parameters={
            "thermal_power_GW": thermal_power_GW,
            "fission_fractions": dict(fission_fractions),
            "mean_energy_per_fission_MeV": mean_e_fission_MeV,
            "fissions_per_s": fissions_per_s,
            "nu_per_fission": nu_per_fission,
            "low_energy": low_energy,
        },
    )
