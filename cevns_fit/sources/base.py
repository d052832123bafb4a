"""What every source kind returns: a :class:`Source` made of :class:`FluxComponent` s, and the
quadrature rule their spectra are sampled with.

Every component carries its integrated flux at the detector (ν cm⁻² s⁻¹) and a normalised
spectrum as quadrature nodes ``enu_MeV`` and weights ``weights`` (Σ w = 1), so that the
flux-weighted integral of any smooth g(E_ν) is ``flux_cm2_s * weights @ g(enu_MeV)``. A line is one
node of weight one. Continuous spectra use :func:`gauss_legendre_nodes`, composite Gauss–Legendre
rules fine enough that the CEvNS rate (whose integrand has a kink at the kinematic E_ν^min) is
accurate to < 0.1 % (tests/test_rates.py checks it against scipy.integrate.quad).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.sources.timing import PulseTiming

__all__ = ["FluxComponent", "Source", "gauss_legendre_nodes"]


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
