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
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

from cevns_fit.config import ConfigTable
from cevns_fit.constants import (
    CM_PER_M,
    MEV_PER_JOULE,
    MUON_LIFETIME_us,
    MUON_MASS_MeV,
    PION_MASS_MeV,
)
from cevns_fit.errors import InputError

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

# Prompt ν_μ from π⁺ → μ⁺ ν_μ at rest: E = (m_π² − m_μ²) / (2 m_π) = 29.79 MeV (PHYSICS.md §6).
PROMPT_NU_MU_ENERGY_MeV = (PION_MASS_MeV**2 - MUON_MASS_MeV**2) / (2.0 * PION_MASS_MeV)
# Endpoint of the μ⁺ decay-at-rest spectra (electron mass neglected): m_μ / 2 = 52.83 MeV.
MICHEL_ENDPOINT_MeV = MUON_MASS_MeV / 2.0
# Charged-pion mean life 26.033 ns (PDG 2024), in µs.
PION_LIFETIME_us = 0.026033

ERG_TO_MeV = 1e-7 * MEV_PER_JOULE
# 1 kpc = 3.0856775814913673e21 cm (IAU 2012 astronomical unit, parsec definition).
KPC_TO_CM = 3.0856775814913673e21

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

_FLAVOURS = ("nu_e", "nu_mu", "nu_tau", "nu_e_bar", "nu_mu_bar", "nu_tau_bar", "nu_x")
_TIMINGS = ("prompt", "delayed")


# ---------------------------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FluxComponent:
    """One flavour/timing class of a source at the detector.

    ``flux_cm2_s`` is the energy-integrated flux (ν cm⁻² s⁻¹); ``enu_MeV`` and ``weights``
    (Σ w = 1) are quadrature nodes of the normalised spectrum; ``timing`` is "prompt",
    "delayed" or None (steady source).
    """

    name: str
    flavour: str
    flux_cm2_s: float
    enu_MeV: np.ndarray
    weights: np.ndarray
    timing: str | None = None

    @property
    def mean_energy_MeV(self) -> float:
        return float(self.weights @ self.enu_MeV)

    def scaled(self, factor: float) -> FluxComponent:
        """The same spectrum with its flux multiplied by ``factor``."""
        return replace(self, flux_cm2_s=self.flux_cm2_s * factor)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "flavour": self.flavour,
            "flux_cm2_s": self.flux_cm2_s,
            "mean_energy_MeV": self.mean_energy_MeV,
            "timing": self.timing,
        }


def _gauss_exp_cdf(
    t_us: np.ndarray, centre_us: float, sigma_us: float, tau_us: float
) -> np.ndarray:
    # Exponentially modified Gaussian: a Gaussian pulse convolved with exp(−t/τ)/τ.
    return stats.exponnorm.cdf(t_us, tau_us / sigma_us, loc=centre_us, scale=sigma_us)


def _gauss_exp_pdf(
    t_us: np.ndarray, centre_us: float, sigma_us: float, tau_us: float
) -> np.ndarray:
    return stats.exponnorm.pdf(t_us, tau_us / sigma_us, loc=centre_us, scale=sigma_us)


def _flat_exp_cdf(t_us: np.ndarray, start_us: float, width_us: float, tau_us: float) -> np.ndarray:
    # Uniform pulse on [a, b] convolved with exp(−t/τ)/τ: F(t) = [H(t − a) − H(t − b)] / w with
    # H(s) = s − τ (1 − e^{−s/τ}) for s > 0 (the integral of the exponential CDF).
    def h(s: np.ndarray) -> np.ndarray:
        s = np.maximum(s, 0.0)
        return s + tau_us * np.expm1(-s / tau_us)

    return (h(t_us - start_us) - h(t_us - start_us - width_us)) / width_us


def _flat_exp_pdf(t_us: np.ndarray, start_us: float, width_us: float, tau_us: float) -> np.ndarray:
    def dh(s: np.ndarray) -> np.ndarray:
        s = np.maximum(s, 0.0)
        return -np.expm1(-s / tau_us)

    return (dh(t_us - start_us) - dh(t_us - start_us - width_us)) / width_us


@dataclass(frozen=True)
class PulseTiming:
    """Arrival times of a pulsed π-DAR source, in µs from the centre of the proton pulse.

    The proton pulse is a sum of equal bunches at ``bunch_offsets_us``, each a Gaussian of
    ``pulse_fwhm_us`` FWHM (``pulse_shape="gaussian"``) or a flat top of that full width
    (``"flat"``, e.g. the 2.86 ms ESS pulse). Prompt ν_μ follow the pulse convolved with the pion
    decay exp(−t/τ_π); delayed ν_e, ν̄_μ follow the pulse convolved with exp(−t/τ_π) and
    exp(−t/τ_μ). The two-exponential convolution is exact:
    (τ_μ F_μ − τ_π F_π)/(τ_μ − τ_π), with F_τ the pulse ⊗ exp(τ) distribution.
    """

    pulse_shape: str
    pulse_fwhm_us: float
    bunch_offsets_us: tuple[float, ...] = (0.0,)
    repetition_rate_Hz: float | None = None
    window_us: float | None = None
    pion_lifetime_us: float = PION_LIFETIME_us
    muon_lifetime_us: float = MUON_LIFETIME_us

    def _single(self, t_us: np.ndarray, tau_us: float, offset_us: float, kind: str) -> np.ndarray:
        if self.pulse_shape == "gaussian":
            sigma = self.pulse_fwhm_us / (2.0 * math.sqrt(2.0 * math.log(2.0)))
            fn = _gauss_exp_cdf if kind == "cdf" else _gauss_exp_pdf
            return fn(t_us, offset_us, sigma, tau_us)
        fn = _flat_exp_cdf if kind == "cdf" else _flat_exp_pdf
        return fn(t_us, offset_us - 0.5 * self.pulse_fwhm_us, self.pulse_fwhm_us, tau_us)

    def _pulse_exp(self, t_us: np.ndarray, tau_us: float, kind: str) -> np.ndarray:
        parts = [self._single(t_us, tau_us, off, kind) for off in self.bunch_offsets_us]
        return np.mean(parts, axis=0)

    def _evaluate(self, timing: str, t_us: np.ndarray, kind: str) -> np.ndarray:
        t_us = np.asarray(t_us, dtype=float)
        tau_pi, tau_mu = self.pion_lifetime_us, self.muon_lifetime_us
        if timing == "prompt":
            return self._pulse_exp(t_us, tau_pi, kind)
        if timing == "delayed":
            f_mu = self._pulse_exp(t_us, tau_mu, kind)
            f_pi = self._pulse_exp(t_us, tau_pi, kind)
            return (tau_mu * f_mu - tau_pi * f_pi) / (tau_mu - tau_pi)
        raise InputError(f"timing class {timing!r}: allowed are 'prompt' and 'delayed'")

    def cdf(self, timing: str, t_us: np.ndarray) -> np.ndarray:
        """Probability that a ν of this timing class arrives before ``t_us`` (µs)."""
        return self._evaluate(timing, t_us, "cdf")

    def pdf(self, timing: str, t_us: np.ndarray) -> np.ndarray:
        """Arrival-time density (per µs) of a timing class at ``t_us`` (µs)."""
        return self._evaluate(timing, t_us, "pdf")

    def bin_probabilities(self, timing: str, edges_us: np.ndarray) -> np.ndarray:
        """Probability of arrival in each bin [edges[i], edges[i+1]) (µs); sums to ≤ 1."""
        return np.diff(self.cdf(timing, np.asarray(edges_us, dtype=float)))

    @property
    def window_start_us(self) -> float:
        """Start of the signal window: the pulse's leading edge (a Gaussian pulse's centre
        minus one FWHM, i.e. 2.35σ, so > 99 % of protons come after it; a flat pulse's start),
        relative to the first bunch."""
        lead = self.pulse_fwhm_us if self.pulse_shape == "gaussian" else 0.5 * self.pulse_fwhm_us
        return min(self.bunch_offsets_us) - lead

    def window_fraction(self, timing: str) -> float:
        """Fraction of a timing class's neutrinos arriving inside the signal window
        [start, start + window_us] (1 without a window): the signal that a beam-window analysis
        keeps, consistently with the steady-state background reduced by ``duty_factor``."""
        if self.window_us is None:
            return 1.0
        start = self.window_start_us
        edges = np.array([start, start + self.window_us])
        return float(self.bin_probabilities(timing, edges)[0])

    @property
    def duty_factor(self) -> float | None:
        """Fraction of live time inside the signal window after each pulse (rate × window).

        Steady-state backgrounds (cosmics, radioactivity) are reduced by this factor relative to
        a steady source. None if the repetition rate or the window is not given."""
        if self.repetition_rate_Hz is None or self.window_us is None:
            return None
        return self.repetition_rate_Hz * self.window_us * 1e-6

    def to_dict(self) -> dict:
        return {
            "pulse_shape": self.pulse_shape,
            "pulse_fwhm_us": self.pulse_fwhm_us,
            "bunch_offsets_us": list(self.bunch_offsets_us),
            "repetition_rate_Hz": self.repetition_rate_Hz,
            "window_us": self.window_us,
            "duty_factor": self.duty_factor,
        }


@dataclass(frozen=True)
class Source:
    """A neutrino source at a detector: its flux components and what an analysis needs.

    ``flux_uncertainty`` is the relative 1σ of the overall normalisation (e.g. 0.10 for the SNS
    ν per proton). ``distance_m`` is the source–detector distance the fluxes refer to.
    ``parameters`` keeps the model's physical inputs (power, proton energy, ν per proton,
    fission fractions, …) for provenance. ``timing`` is set for pulsed sources.
    ``burst_duration_s`` is set for bursts (supernova): fluxes are then the fluence divided by
    this duration, so rate × duration is the count per burst.
    """

    name: str
    kind: str
    components: tuple[FluxComponent, ...]
    flux_uncertainty: float
    distance_m: float | None = None
    timing: PulseTiming | None = None
    burst_duration_s: float | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def total_flux_cm2_s(self) -> float:
        """All flavours together (ν cm⁻² s⁻¹)."""
        return float(sum(c.flux_cm2_s for c in self.components))

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    def component(self, name: str) -> FluxComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise InputError(
            f"source {self.name!r}: no component {name!r} (has {', '.join(self.component_names)})"
        )

    def components_with_timing(self, timing: str | None) -> tuple[FluxComponent, ...]:
        return tuple(c for c in self.components if c.timing == timing)

    @property
    def duty_factor(self) -> float | None:
        return None if self.timing is None else self.timing.duty_factor

    def at_distance(self, distance_m: float) -> Source:
        """The same source seen from ``distance_m`` (point source: flux ∝ 1/L²)."""
        if self.distance_m is None:
            raise InputError(f"source {self.name!r} has no distance; cannot rescale it")
        if not (math.isfinite(distance_m) and distance_m > 0):
            raise InputError(f"distance_m = {distance_m!r}: must be a positive finite number")
        factor = (self.distance_m / distance_m) ** 2
        return replace(
            self,
            components=tuple(c.scaled(factor) for c in self.components),
            distance_m=float(distance_m),
        )

    def scaled(self, factor: float) -> Source:
        """All fluxes multiplied by ``factor`` (e.g. a normalisation pull)."""
        return replace(self, components=tuple(c.scaled(factor) for c in self.components))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "flux_cm2_s": self.total_flux_cm2_s,
            "flux_uncertainty": self.flux_uncertainty,
            "distance_m": self.distance_m,
            "components": [c.to_dict() for c in self.components],
            "timing": None if self.timing is None else self.timing.to_dict(),
            "burst_duration_s": self.burst_duration_s,
            "parameters": dict(self.parameters),
        }


# ---------------------------------------------------------------------------------------------
# Quadrature
# ---------------------------------------------------------------------------------------------


def gauss_legendre_nodes(
    low_MeV: float, high_MeV: float, n_panels: int = 64, order: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on [low, high]: ``n_panels`` equal panels of ``order`` nodes.

    Returns (nodes, weights) with Σ weights = high − low. Composite rather than one high-order
    rule because the CEvNS integrand over E_ν has a kink at E_ν^min(E_R): many short panels
    keep the error from that kink small at every recoil energy.
    """
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(low_MeV, high_MeV, n_panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + half * x).ravel(), (half * w).ravel()


def _normalised(
    nodes: np.ndarray, rule_weights: np.ndarray, pdf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    w = rule_weights * pdf
    keep = w > 0
    return nodes[keep], w[keep] / w[keep].sum()


# ---------------------------------------------------------------------------------------------
# π decay at rest
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Reactor
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Supernova
# ---------------------------------------------------------------------------------------------


def alpha_fit_pdf(enu_MeV: np.ndarray, mean_MeV: float, alpha: float) -> np.ndarray:
    """Normalised α-fit ("pinched") spectrum per MeV:
    f(E) = (α+1)^(α+1) / (Γ(α+1) ⟨E⟩) · (E/⟨E⟩)^α · exp(−(α+1) E/⟨E⟩).

    Keil, Raffelt & Janka, ApJ 590, 971 (2003), Eq. (2); α ≈ 2.3 mimics a Fermi–Dirac spectrum
    with zero chemical potential."""
    x = np.asarray(enu_MeV, dtype=float) / mean_MeV
    a1 = alpha + 1.0
    log_norm = a1 * math.log(a1) - special.gammaln(a1) - math.log(mean_MeV)
    with np.errstate(divide="ignore"):
        log_f = log_norm + alpha * np.log(np.maximum(x, 0.0)) - a1 * x
    return np.where(x > 0, np.exp(log_f), 0.0)


def make_supernova_source(
    *,
    name: str = "supernova",
    distance_kpc: float,
    flavours: Mapping[str, Mapping[str, float]],
    burst_duration_s: float = 10.0,
    flux_uncertainty: float = 0.0,
    n_panels: int = 64,
    order: int = 8,
) -> Source:
    """Core-collapse supernova burst: one α-fit component per flavour.

    ``flavours`` maps a flavour ("nu_e", "nu_e_bar", "nu_x", …) to ``mean_energy_MeV``, ``alpha``,
    ``energy_erg`` (time-integrated energy emitted in that flavour) and ``multiplicity`` (4 for
    ν_x = ν_μ, ν̄_μ, ν_τ, ν̄_τ, each with ``energy_erg``). The fluence per flavour is
    multiplicity · E / ⟨E⟩ / (4π d²); the reported flux is fluence / ``burst_duration_s``, so that
    rates (per day) × burst_duration_s / 86400 are events per burst.
    """
    d_cm = distance_kpc * KPC_TO_CM
    components = []
    fluence = {}
    for flavour, p in flavours.items():
        mean, alpha = float(p["mean_energy_MeV"]), float(p["alpha"])
        n_nu = float(p.get("multiplicity", 1.0)) * float(p["energy_erg"]) * ERG_TO_MeV / mean
        fluence[flavour] = n_nu / (4.0 * math.pi * d_cm**2)
        # The α-fit tail beyond 10 ⟨E⟩ holds < 1e-9 of the flux for α ≥ 1.
        nodes, rule = gauss_legendre_nodes(0.0, 10.0 * mean, n_panels, order)
        enu, w = _normalised(nodes, rule, alpha_fit_pdf(nodes, mean, alpha))
        components.append(
            FluxComponent(flavour, flavour, fluence[flavour] / burst_duration_s, enu, w, None)
        )
    return Source(
        name=name,
        kind="supernova",
        components=tuple(components),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_kpc * KPC_TO_CM / CM_PER_M,
        burst_duration_s=burst_duration_s,
        parameters={
            "distance_kpc": distance_kpc,
            "fluence_cm2": fluence,
            "flavours": {k: dict(v) for k, v in flavours.items()},
        },
    )


# ---------------------------------------------------------------------------------------------
# Line and table
# ---------------------------------------------------------------------------------------------


def make_line_source(
    *,
    name: str = "line",
    enu_MeV: float,
    flux_cm2_s: float,
    flavour: str = "nu_e",
    timing: str | None = None,
    flux_uncertainty: float = 0.0,
    distance_m: float | None = None,
) -> Source:
    """A monoenergetic source: one node at ``enu_MeV`` with weight one."""
    comp = FluxComponent(
        flavour, flavour, flux_cm2_s, np.array([float(enu_MeV)]), np.ones(1), timing
    )
    return Source(
        name=name,
        kind="line",
        components=(comp,),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        parameters={"enu_MeV": enu_MeV},
    )


def load_spectrum_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column CSV spectrum (enu_MeV, relative spectrum per MeV); '#' lines are comments.

    A first line that is not numeric is taken as a header. Energies must be finite, ≥ 0 and
    strictly increasing; values finite, ≥ 0 and not all zero; at least two rows.
    """
    path = Path(path)
    rows: list[tuple[float, float]] = []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) != 2:
                raise InputError(
                    f"{path}: line {lineno}: expected 2 columns (enu_MeV, spectrum), "
                    f"got {len(cells)}"
                )
            try:
                rows.append((float(cells[0]), float(cells[1])))
            except ValueError:
                if rows:
                    raise InputError(f"{path}: line {lineno}: non-numeric value {row!r}") from None
                continue  # header line
    if len(rows) < 2:
        raise InputError(f"{path}: a spectrum table needs at least 2 rows of (enu_MeV, spectrum)")
    table = np.array(rows)
    enu, spec = table[:, 0], table[:, 1]
    if not np.all(np.isfinite(table)):
        raise InputError(f"{path}: NaN or infinite values; energies and spectrum must be finite")
    if np.any(enu < 0):
        raise InputError(f"{path}: negative neutrino energy; enu_MeV must be >= 0")
    if np.any(np.diff(enu) <= 0):
        raise InputError(f"{path}: enu_MeV must be strictly increasing (sorted, no duplicates)")
    if np.any(spec < 0):
        raise InputError(f"{path}: negative spectrum value; the spectrum must be >= 0")
    if not np.any(spec > 0):
        raise InputError(f"{path}: the spectrum is zero everywhere")
    return enu, spec


def make_table_source(
    *,
    name: str = "table",
    enu_MeV: np.ndarray,
    spectrum: np.ndarray,
    flux_cm2_s: float,
    flavour: str = "nu_e",
    timing: str | None = None,
    flux_uncertainty: float = 0.0,
    distance_m: float | None = None,
    nodes_total: int = 512,
    order: int = 4,
) -> Source:
    """A source from a tabulated spectrum, linearly interpolated and normalised to ``flux_cm2_s``.

    Each table interval gets its own Gauss–Legendre panels (so kinks of the table fall on panel
    edges), ~``nodes_total`` nodes in all.
    """
    enu_MeV = np.asarray(enu_MeV, dtype=float)
    spectrum = np.asarray(spectrum, dtype=float)
    n_int = len(enu_MeV) - 1
    per_int = max(1, math.ceil(nodes_total / (order * n_int)))
    nodes, rule = [], []
    for a, b in zip(enu_MeV[:-1], enu_MeV[1:], strict=True):
        n, w = gauss_legendre_nodes(a, b, per_int, order)
        nodes.append(n)
        rule.append(w)
    nodes_a, rule_a = np.concatenate(nodes), np.concatenate(rule)
    enu, w = _normalised(nodes_a, rule_a, np.interp(nodes_a, enu_MeV, spectrum))
    comp = FluxComponent(flavour, flavour, flux_cm2_s, enu, w, timing)
    return Source(
        name=name,
        kind="table",
        components=(comp,),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        parameters={"table_enu_MeV_range": [float(enu_MeV[0]), float(enu_MeV[-1])]},
    )


# ---------------------------------------------------------------------------------------------
# TOML loading and validation (the edge: everything below trusts its inputs)
# ---------------------------------------------------------------------------------------------

_KINDS = ("pion_dar", "reactor", "supernova", "line", "table")


def _read_timing(r: ConfigTable) -> PulseTiming:
    t = r.table("timing")
    t.allow(("pulse_shape", "pulse_fwhm_us", "bunch_offsets_us", "repetition_rate_Hz", "window_us"))
    shape = t.string("pulse_shape", allowed=("gaussian", "flat"), default="gaussian")
    fwhm = t.number("pulse_fwhm_us", positive=True)
    offsets = t.data.get("bunch_offsets_us", [0.0])
    if (
        not isinstance(offsets, list)
        or not offsets
        or not all(
            isinstance(o, int | float) and not isinstance(o, bool) and math.isfinite(o)
            for o in offsets
        )
    ):
        raise InputError(
            f"{t.where('bunch_offsets_us')}: must be a non-empty list of finite numbers (µs)"
        )
    return PulseTiming(
        pulse_shape=shape,
        pulse_fwhm_us=fwhm,
        bunch_offsets_us=tuple(float(o) for o in offsets),
        repetition_rate_Hz=t.optional_number("repetition_rate_Hz", positive=True),
        window_us=t.optional_number("window_us", positive=True),
    )


def _flavour(r: ConfigTable, key: str = "flavour", default: str = "nu_e") -> str:
    return r.string(key, allowed=_FLAVOURS, default=default)


def load_source(path: str | Path) -> Source:
    """Read and validate a source model (TOML); see ``models/sources/*.toml`` for each ``type``.

    Raises :class:`InputError` naming the file (missing, unreadable or malformed TOML), the key
    and the allowed values.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"source model {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"source model {path}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"source model {path}: not a UTF-8 text file") from None
    r = ConfigTable(path, data)
    kind = r.string("type", allowed=_KINDS)
    name = r.string("name", default=path.stem)
    description = r.string("description", "")
    unc = r.number("flux_uncertainty", default=0.0, nonneg=True, maximum=0.99)
    common = ("type", "name", "description", "flux_uncertainty")

    if kind == "pion_dar":
        r.allow(
            common
            + ("power_MW", "proton_energy_GeV", "nu_per_flavour_per_proton", "distance_m", "timing")
        )
        source = make_pion_dar_source(
            name=name,
            power_MW=r.number("power_MW", positive=True),
            proton_energy_GeV=r.number("proton_energy_GeV", positive=True),
            nu_per_flavour_per_proton=r.number("nu_per_flavour_per_proton", positive=True),
            distance_m=r.number("distance_m", positive=True),
            flux_uncertainty=unc,
            timing=_read_timing(r) if r.has("timing") else None,
        )
    elif kind == "reactor":
        r.allow(
            common
            + (
                "thermal_power_GW",
                "distance_m",
                "fission_fractions",
                "energy_per_fission_MeV",
                "low_energy",
            )
        )
        ff = r.table("fission_fractions")
        ff.allow(tuple(HUBER_MUELLER_COEFFS))
        fractions = {iso: ff.number(iso, nonneg=True) for iso in ff.data}
        total = sum(fractions.values())
        if not fractions or abs(total - 1.0) > 1e-3:
            raise InputError(
                f"{path}: key 'fission_fractions' sums to {total:.4g}: fractions of fissions must "
                f"sum to 1 (isotopes: {', '.join(HUBER_MUELLER_COEFFS)})"
            )
        e_fission = dict(ENERGY_PER_FISSION_MeV)
        if r.has("energy_per_fission_MeV"):
            ef = r.table("energy_per_fission_MeV")
            ef.allow(tuple(HUBER_MUELLER_COEFFS))
            e_fission.update({iso: ef.number(iso, positive=True) for iso in ef.data})
        source = make_reactor_source(
            name=name,
            thermal_power_GW=r.number("thermal_power_GW", positive=True),
            distance_m=r.number("distance_m", positive=True),
            fission_fractions=fractions,
            energy_per_fission_MeV=e_fission,
            flux_uncertainty=unc,
            low_energy=r.string(
                "low_energy", allowed=("vogel-engel", "none"), default="vogel-engel"
            ),
        )
    elif kind == "supernova":
        r.allow(common + ("distance_kpc", "burst_duration_s", "flavours"))
        fl = r.table("flavours")
        if not fl.data:
            raise InputError(f"{path}: key 'flavours' is empty; give at least one flavour table")
        flavours = {}
        for flav in fl.data:
            if flav not in _FLAVOURS:
                raise InputError(
                    f"{path}: key 'flavours.{flav}': allowed flavours are {', '.join(_FLAVOURS)}"
                )
            p = fl.table(flav)
            p.allow(("mean_energy_MeV", "alpha", "energy_erg", "multiplicity"))
            flavours[flav] = {
                "mean_energy_MeV": p.number("mean_energy_MeV", positive=True),
                "alpha": p.number("alpha", positive=True),
                "energy_erg": p.number("energy_erg", positive=True),
                "multiplicity": p.number("multiplicity", default=1.0, positive=True),
            }
        source = make_supernova_source(
            name=name,
            distance_kpc=r.number("distance_kpc", positive=True),
            flavours=flavours,
            burst_duration_s=r.number("burst_duration_s", default=10.0, positive=True),
            flux_uncertainty=unc,
        )
    elif kind == "line":
        r.allow(common + ("enu_MeV", "flux_cm2_s", "flavour", "timing_class", "distance_m"))
        source = make_line_source(
            name=name,
            enu_MeV=r.number("enu_MeV", positive=True),
            flux_cm2_s=r.number("flux_cm2_s", positive=True),
            flavour=_flavour(r),
            timing=r.optional_string("timing_class", allowed=_TIMINGS),
            flux_uncertainty=unc,
            distance_m=r.optional_number("distance_m", positive=True),
        )
    else:  # table
        r.allow(common + ("file", "flux_cm2_s", "flavour", "timing_class", "distance_m"))
        csv_path = path.parent / r.string("file")
        enu, spec = load_spectrum_csv(csv_path)
        source = make_table_source(
            name=name,
            enu_MeV=enu,
            spectrum=spec,
            flux_cm2_s=r.number("flux_cm2_s", positive=True),
            flavour=_flavour(r),
            timing=r.optional_string("timing_class", allowed=_TIMINGS),
            flux_uncertainty=unc,
            distance_m=r.optional_number("distance_m", positive=True),
        )
    return replace(source, description=description)
