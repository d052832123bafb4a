"""π⁺ decay at rest at a spallation source (SNS, ESS, CSNS, J-PARC MLF).

A prompt ν_μ line from π⁺ → μ⁺ ν_μ and delayed ν_e, ν̄_μ from μ⁺ decay (Michel spectra), each
flavour with the flux r·(P/E_p)/(4πL²) (PHYSICS.md §6). Their arrival times are modelled by
:class:`~cevns_fit.sources.timing.PulseTiming`.
"""

from __future__ import annotations

import math

import numpy as np

from cevns_fit.constants import CM_PER_M, MEV_PER_JOULE, MUON_MASS_MeV, PION_MASS_MeV
from cevns_fit.sources.base import FluxComponent, Source, _normalised, gauss_legendre_nodes
from cevns_fit.sources.timing import PulseTiming

__all__ = [
    "PROMPT_NU_MU_ENERGY_MeV",
    "MICHEL_ENDPOINT_MeV",
    "delayed_nu_e_pdf",
    "delayed_nu_mu_bar_pdf",
    "pion_dar_flux_per_flavour_cm2_s",
    "make_pion_dar_source",
]

# Prompt ν_μ from π⁺ → μ⁺ ν_μ at rest: E = (m_π² − m_μ²) / (2 m_π) = 29.79 MeV (PHYSICS.md §6).
PROMPT_NU_MU_ENERGY_MeV = (PION_MASS_MeV**2 - MUON_MASS_MeV**2) / (2.0 * PION_MASS_MeV)
# Endpoint of the μ⁺ decay-at-rest spectra (electron mass neglected): m_μ / 2 = 52.83 MeV.
MICHEL_ENDPOINT_MeV = MUON_MASS_MeV / 2.0


def delayed_nu_e_pdf(enu_MeV: np.ndarray) -> np.ndarray:
    """μ⁺-DAR ν_e spectrum (per MeV, normalised): (192/m_μ)(E/m_μ)²(1/2 − E/m_μ), 0 ≤ E ≤ m_μ/2.

    PHYSICS.md §6; e.g. Louis, Los Alamos Science 25 (1997); electron mass neglected."""
    x = np.asarray(enu_MeV, dtype=float) / MUON_MASS_MeV
    return np.where((x >= 0) & (x <= 0.5), 192.0 / MUON_MASS_MeV * x**2 * (0.5 - x), 0.0)


def delayed_nu_mu_bar_pdf(enu_MeV: np.ndarray) -> np.ndarray:
    """μ⁺-DAR ν̄_μ spectrum (per MeV, normalised): (64/m_μ)(E/m_μ)²(3/4 − E/m_μ), 0 ≤ E ≤ m_μ/2."""
    x = np.asarray(enu_MeV, dtype=float) / MUON_MASS_MeV
    return np.where((x >= 0) & (x <= 0.5), 64.0 / MUON_MASS_MeV * x**2 * (0.75 - x), 0.0)


def pion_dar_flux_per_flavour_cm2_s(
    power_MW: float, proton_energy_GeV: float, nu_per_flavour_per_proton: float, distance_m: float
) -> float:
    """Flux of each π-DAR flavour at ``distance_m``: r · (P / E_p) / (4π L²), ν cm⁻² s⁻¹.

    P / E_p is the proton rate (protons per second); isotropic emission (PHYSICS.md §6)."""
    protons_per_s = power_MW * 1e6 * MEV_PER_JOULE / (proton_energy_GeV * 1e3)
    area_cm2 = 4.0 * math.pi * (distance_m * CM_PER_M) ** 2
    return nu_per_flavour_per_proton * protons_per_s / area_cm2


def make_pion_dar_source(
    *,
    name: str = "pion-DAR",
    power_MW: float,
    proton_energy_GeV: float,
    nu_per_flavour_per_proton: float,
    distance_m: float,
    flux_uncertainty: float = 0.10,
    timing: PulseTiming | None = None,
    n_panels: int = 64,
    order: int = 8,
) -> Source:
    """π⁺ decay-at-rest source: prompt ν_μ line (29.79 MeV), delayed ν_e and ν̄_μ (Michel shapes).

    Each flavour has the flux :func:`pion_dar_flux_per_flavour_cm2_s`. The delayed spectra are
    cubic polynomials, integrated exactly by the Gauss–Legendre panels.
    """
    flux = pion_dar_flux_per_flavour_cm2_s(
        power_MW, proton_energy_GeV, nu_per_flavour_per_proton, distance_m
    )
    nodes, rule = gauss_legendre_nodes(0.0, MICHEL_ENDPOINT_MeV, n_panels, order)
    e_nu_e, w_nu_e = _normalised(nodes, rule, delayed_nu_e_pdf(nodes))
    e_mub, w_mub = _normalised(nodes, rule, delayed_nu_mu_bar_pdf(nodes))
    components = (
        FluxComponent(
            "prompt_nu_mu", "nu_mu", flux, np.array([PROMPT_NU_MU_ENERGY_MeV]), np.ones(1), "prompt"
        ),
        FluxComponent("delayed_nu_e", "nu_e", flux, e_nu_e, w_nu_e, "delayed"),
        FluxComponent("delayed_nu_mu_bar", "nu_mu_bar", flux, e_mub, w_mub, "delayed"),
    )
    protons_per_s = power_MW * 1e6 * MEV_PER_JOULE / (proton_energy_GeV * 1e3)
    return Source(
        name=name,
        kind="pion_dar",
        components=components,
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        timing=timing,
        parameters={
            "power_MW": power_MW,
            "proton_energy_GeV": proton_energy_GeV,
            "nu_per_flavour_per_proton": nu_per_flavour_per_proton,
            "protons_per_s": protons_per_s,
        },
    )
