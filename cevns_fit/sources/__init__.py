"""Neutrino sources: flux spectra at the detector, as quadrature nodes, with timing.

A :class:`Source` is a tuple of :class:`FluxComponent` s (one per flavour and timing class) plus
what a detector layer needs besides the spectrum: the normalisation uncertainty, the distance,
the beam power and, for pulsed sources, the arrival-time model and the duty factor.

Every component carries its integrated flux at the detector (ν cm⁻² s⁻¹) and a normalised
spectrum as quadrature nodes ``enu_MeV`` and weights ``weights`` (Σ w = 1), so that the
flux-weighted integral of any smooth g(E_ν) is ``flux_cm2_s * weights @ g(enu_MeV)``. A line is one
node of weight one. Continuous spectra use composite Gauss–Legendre rules, fine enough that the
CEvNS rate (whose integrand has a kink at the kinematic E_ν^min) is accurate to < 0.1 %
(tests/test_rates.py checks it against scipy.integrate.quad).

What to use when:

* :func:`load_source` reads a TOML model (``models/sources/*.toml``) and validates it once; all
  other functions trust their inputs.
* :func:`make_pion_dar_source` — π⁺ decay at rest (SNS, ESS, CSNS, J-PARC MLF): prompt ν_μ line
  and delayed ν_e, ν̄_μ, flux r·(P/E_p)/(4πL²) per flavour (PHYSICS.md §6).
* :func:`make_reactor_source` — Huber (2011) ²³⁵U, ²³⁹Pu, ²⁴¹Pu and Mueller (2011) ²³⁸U spectra,
  with a documented low-energy extension.
* :func:`make_supernova_source` — α-fit ("pinched") spectra per flavour at a distance; its flux
  is the time-integrated fluence divided by a stated burst duration (see the function).
* :func:`make_line_source`, :func:`make_table_source` — a monoenergetic line; any spectrum from
  a two-column CSV table (:func:`load_spectrum_csv`).

Arrival times (pulsed sources): :class:`PulseTiming` gives the probability of each timing class
("prompt", "delayed") per time bin in µs: prompt = proton pulse ⊗ exp(τ_π), delayed = pulse ⊗
exp(τ_π) ⊗ exp(τ_μ), closed forms, no numerical convolution.

The package holds one module per source kind, each importable on its own; every public name is
also importable from ``cevns_fit.sources`` itself:

* :mod:`cevns_fit.sources.base` — :class:`Source`, :class:`FluxComponent`, the quadrature rule;
* :mod:`cevns_fit.sources.timing` — :class:`PulseTiming`;
* :mod:`cevns_fit.sources.pion_dar`, :mod:`~cevns_fit.sources.reactor`,
  :mod:`~cevns_fit.sources.supernova`, :mod:`~cevns_fit.sources.tabulated` (line and CSV table)
  — the spectra and ``make_*_source`` of each kind;
* :mod:`cevns_fit.sources.loading` — :func:`load_source`, the TOML edge.
"""

from __future__ import annotations

from cevns_fit.sources.base import FluxComponent, Source, gauss_legendre_nodes
from cevns_fit.sources.loading import load_source
from cevns_fit.sources.pion_dar import (
    MICHEL_ENDPOINT_MeV,
    PROMPT_NU_MU_ENERGY_MeV,
    delayed_nu_e_pdf,
    delayed_nu_mu_bar_pdf,
    make_pion_dar_source,
    pion_dar_flux_per_flavour_cm2_s,
)
from cevns_fit.sources.reactor import (
    HUBER_MUELLER_COEFFS,
    VOGEL_ENGEL_COEFFS,
    ENERGY_PER_FISSION_MeV,
    isotope_spectrum_per_fission,
    make_reactor_source,
    reactor_nu_per_fission,
    reactor_spectrum_per_fission,
)
from cevns_fit.sources.supernova import (
    KPC_TO_CM,
    ERG_TO_MeV,
    alpha_fit_pdf,
    make_supernova_source,
)
from cevns_fit.sources.tabulated import load_spectrum_csv, make_line_source, make_table_source
from cevns_fit.sources.timing import PION_LIFETIME_us, PulseTiming

__all__ = [
    "FluxComponent",
    "PulseTiming",
    "Source",
    "PROMPT_NU_MU_ENERGY_MeV",
    "MICHEL_ENDPOINT_MeV",
    "PION_LIFETIME_us",
    "HUBER_MUELLER_COEFFS",
    "VOGEL_ENGEL_COEFFS",
    "ENERGY_PER_FISSION_MeV",
    "ERG_TO_MeV",
    "KPC_TO_CM",
    "gauss_legendre_nodes",
    "delayed_nu_e_pdf",
    "delayed_nu_mu_bar_pdf",
    "pion_dar_flux_per_flavour_cm2_s",
    "isotope_spectrum_per_fission",
    "reactor_spectrum_per_fission",
    "reactor_nu_per_fission",
    "alpha_fit_pdf",
    "make_pion_dar_source",
    "make_reactor_source",
    "make_supernova_source",
    "make_line_source",
    "make_table_source",
    "load_spectrum_csv",
    "load_source",
]
