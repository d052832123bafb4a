"""Energy resolution: the spread of the reconstructed observable around its mean.

Which model to use:

* :class:`SeedPerovskiteResolution` -- the fit of the seed's Fig. 2 (Jesús-Valls & Sánchez,
  Front. Phys. 11:1191954, 2023) to CsPbBr3 single-photon data of He et al., Nat. Photon. 15
  (2021) 36: FWHM resolution in percent R(E) = sqrt(A + B/E + C/E²), E in keVee,
  A = 4.95, B = −1098.24, C = 189690.18. R = 100 % at E ≈ 4.30 keVee, which the seed takes as
  the electron-equivalent threshold. Only the fit is available here: we have no raw data points
  of He et al. 2021, so nothing in this project refits or checks them.
* :class:`GermaniumResolution` -- HPGe: σ² = σ_noise² + F w E (Fano factor F ≈ 0.11, pair
  creation energy w = 2.96 eV; Knoll, Radiation Detection and Measurement, ch. 12).
* :class:`GaussianResolution` -- a generic σ² = σ₀² + s² E + (r E)² in keVee.
* :class:`PoissonPEResolution` -- photo-electron counting: the observable is a number of PE,
  Poisson-distributed with mean LY · E_ee (COHERENT CsI[Na]: LY = 13.348 PE/keVee).
* :class:`PolyaPEResolution` -- photo-electron counting with the extra spread of the
  single-PE gain: a gamma ("Polya") gain of shape θ (mean 1, relative variance 1/θ) makes the
  recorded number of PE vary with the excess-noise factor F = 1 + 1/θ, Var N = μ (1 + 1/θ)
  (Knoll, Radiation Detection and Measurement, 4th ed., §9.VI on photomultiplier statistics;
  gamma/Polya single-electron response: Alkhazov, Nucl. Instrum. Meth. 89 (1970) 155). N is
  counted in whole PE with the negative binomial of that mean and variance,
  P(N = k) = C(k + r − 1, k) p^r (1 − p)^k, r = θ μ, p = θ/(1 + θ) (Johnson, Kemp & Kotz,
  Univariate Discrete Distributions, 3rd ed., ch. 5); θ → ∞ is the Poisson model.
* :class:`NoResolution` -- a perfect detector (for checks).

Gaussian models (``kind = "gaussian"``) return σ in keVee via ``sigma_keVee(energy_keVee)``;
``scaled(s)`` widens them by s (the ±1σ "resolution" templates). FWHM = 2 sqrt(2 ln 2) σ ≈
2.3548 σ. Photo-electron counting models (``kind = "counting"``) give the distribution of the
integer number of PE through ``count_cdf(k, mean_pe)`` = P(N ≤ k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Self

import numpy as np
from scipy.special import betainc, gammaln, pdtr

from cevns_fit.errors import InputError

__all__ = [
    "SEED_FIG2_A",
    "SEED_FIG2_B",
    "SEED_FIG2_C",
    "FWHM_PER_SIGMA",
    "seed_fwhm_percent",
    "seed_threshold_keVee",
    "SeedPerovskiteResolution",
    "GermaniumResolution",
    "GaussianResolution",
    "PoissonPEResolution",
    "PolyaPEResolution",
    "NoResolution",
    "ResolutionModel",
]

# Seed Fig. 2 fit parameters (Jesús-Valls & Sánchez 2023, caption of Fig. 2).
SEED_FIG2_A = 4.95
SEED_FIG2_B = -1098.24
SEED_FIG2_C = 189690.18
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def seed_fwhm_percent(
    energy_keVee: np.ndarray,
    A: float = SEED_FIG2_A,
    B: float = SEED_FIG2_B,
    C: float = SEED_FIG2_C,
) -> np.ndarray:
    """FWHM energy resolution in percent, R(E) = sqrt(A + B/E + C/E²), E in keVee (seed Fig. 2)."""
    e = np.asarray(energy_keVee, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(np.clip(A + B / e + C / e**2, 0.0, None))


def seed_threshold_keVee(
    resolution_percent: float = 100.0,
    A: float = SEED_FIG2_A,
    B: float = SEED_FIG2_B,
    C: float = SEED_FIG2_C,
) -> float:
    """Energy (keVee) at which R(E) = ``resolution_percent``: the positive root of
    (A − R²) E² + B E + C = 0 (R decreasing in E below it). 4.30 keVee for R = 100 % (seed §5)."""
    a = A - resolution_percent**2
    if not resolution_percent > 0 or a >= 0:
        raise InputError(
            f"resolution level {resolution_percent!r} %: must exceed the asymptotic "
            f"resolution sqrt(A) = {np.sqrt(max(A, 0.0)):.3g} %"
        )
    disc = B * B - 4.0 * a * C
    # a < 0 and C > 0 make disc > B², so exactly one root is positive.
    return float((-B - np.sqrt(disc)) / (2.0 * a))


class _ScalableWidth:
    """Shared by the Gaussian models with a free width: ``relative_sigma`` is the 1σ relative
    uncertainty of σ(E), ``scale`` multiplies σ(E) (the ±1σ templates use ``scaled``), and
    ``to_dict`` lists every dataclass field after the model's name."""

    kind = "gaussian"
    model_name: str  # the ``model`` key of detector TOML files, set by each subclass

    @property
    def has_uncertainty(self) -> bool:
        return self.relative_sigma > 0

    def scaled(self, scale: float) -> Self:
        return replace(self, scale=self.scale * scale)

    def to_dict(self) -> dict:
        return {"model": self.model_name} | {f.name: getattr(self, f.name) for f in fields(self)}


class _FixedWidth:
    """Shared by the models without a free width (none, Poisson PE): no ±1σ template."""

    model_name: str

    @property
    def has_uncertainty(self) -> bool:
        return False

    def scaled(self, scale: float) -> Self:
        return self

    def to_dict(self) -> dict:
        return {"model": self.model_name}


@dataclass(frozen=True)
class SeedPerovskiteResolution(_ScalableWidth):
    """σ(E) = scale · R(E)/100 · E / 2.3548 with the seed's Fig. 2 R(E) (keVee)."""

    A: float = SEED_FIG2_A
    B: float = SEED_FIG2_B
    C: float = SEED_FIG2_C
    relative_sigma: float = 0.0
    scale: float = 1.0
    model_name = "seed_perovskite"

    def sigma_keVee(self, energy_keVee: np.ndarray) -> np.ndarray:
        e = np.asarray(energy_keVee, dtype=float)
        safe = np.where(e > 0, e, 1.0)
        sigma = (
            self.scale
            * seed_fwhm_percent(safe, self.A, self.B, self.C)
            / 100.0
            * safe
            / FWHM_PER_SIGMA
        )
        # R ~ sqrt(C)/E as E -> 0, so σ -> sqrt(C)/(100·2.3548) keVee: finite, use that limit.
        return np.where(e > 0, sigma, self.scale * np.sqrt(self.C) / 100.0 / FWHM_PER_SIGMA)


@dataclass(frozen=True)
class GermaniumResolution(_ScalableWidth):
    """HPGe: σ² = σ_noise² + F w E, with w in eV converted to keVee; times ``scale``."""

    fano: float = 0.11
    pair_energy_eV: float = 2.96
    noise_sigma_keVee: float = 0.15
    relative_sigma: float = 0.0
    scale: float = 1.0
    model_name = "germanium"

    def sigma_keVee(self, energy_keVee: np.ndarray) -> np.ndarray:
        e = np.clip(np.asarray(energy_keVee, dtype=float), 0.0, None)
        return self.scale * np.sqrt(
            self.noise_sigma_keVee**2 + self.fano * self.pair_energy_eV * 1e-3 * e
        )


@dataclass(frozen=True)
class GaussianResolution(_ScalableWidth):
    """σ² = σ₀² + s² E + (r E)² in keVee (noise, stochastic, constant terms); times ``scale``."""

    sigma0_keVee: float = 0.0
    stochastic_sqrt_keVee: float = 0.0
    relative: float = 0.0
    relative_sigma: float = 0.0
    scale: float = 1.0
    model_name = "gaussian"

    def sigma_keVee(self, energy_keVee: np.ndarray) -> np.ndarray:
        e = np.clip(np.asarray(energy_keVee, dtype=float), 0.0, None)
        return self.scale * np.sqrt(
            self.sigma0_keVee**2 + self.stochastic_sqrt_keVee**2 * e + (self.relative * e) ** 2
        )


@dataclass(frozen=True)
class NoResolution(_FixedWidth):
    """A perfect detector: σ = 0."""

    kind = "gaussian"
    relative_sigma: float = 0.0
    model_name = "none"

    def sigma_keVee(self, energy_keVee: np.ndarray) -> np.ndarray:
        return np.zeros_like(np.asarray(energy_keVee, dtype=float))


@dataclass(frozen=True)
class PoissonPEResolution(_FixedWidth):
    """Photo-electron counting: N_PE ~ Poisson(LY · E_ee). The light yield is the model's
    observable gain (PE/keVee); Poisson statistics have no free width, so no ±1σ template."""

    kind = "counting"
    relative_sigma: float = 0.0
    model_name = "poisson_pe"

    def count_cdf(self, k: np.ndarray, mean_pe: np.ndarray) -> np.ndarray:
        """P(N ≤ k) for integer k >= 0 and N ~ Poisson(mean_pe), broadcasting."""
        return pdtr(k, mean_pe)

    def count_pmf(self, n_max: int, mean_pe: np.ndarray) -> np.ndarray:
        """P(N = n) for n = 0..n_max in a new last axis: exp(n ln μ − μ − ln n!), with ln μ
        taken once per mean (not per count) and 0 ln 0 = 0."""
        mu = np.asarray(mean_pe, dtype=float)[..., None]
        n = np.arange(n_max + 1, dtype=float)
        with np.errstate(divide="ignore"):  # ln 0 = −inf: P(N ≥ 1) = e^−inf = 0 at μ = 0
            log_mu = np.log(mu)
        log_pmf = np.empty(mu.shape[:-1] + (n_max + 1,))
        log_pmf[..., 0] = 0.0
        np.multiply(n[1:], log_mu, out=log_pmf[..., 1:])
        log_pmf -= mu
        log_pmf -= gammaln(n + 1.0)
        return np.exp(log_pmf, out=log_pmf)


@dataclass(frozen=True)
class PolyaPEResolution(_FixedWidth):
    """Photo-electron counting with a gamma (Polya) single-PE gain of shape ``theta``: N_PE is
    negative-binomial with mean μ = LY · E_ee and variance μ (1 + 1/θ) (module docstring).
    θ is fixed (no ±1σ template); θ → ∞ gives :class:`PoissonPEResolution`."""

    theta: float = 1.0
    kind = "counting"
    relative_sigma: float = 0.0
    model_name = "polya_pe"

    def count_cdf(self, k: np.ndarray, mean_pe: np.ndarray) -> np.ndarray:
        """P(N ≤ k) for integer k >= 0: the negative-binomial CDF I_p(r, k + 1) (regularised
        incomplete beta; scipy.special.nbdtr's identity, here for real r = θ μ),
        p = θ/(1 + θ); 1 for μ = 0."""
        r = self.theta * np.asarray(mean_pe, dtype=float)
        return betainc(r, np.asarray(k, dtype=float) + 1.0, self.theta / (1.0 + self.theta))

    def count_pmf(self, n_max: int, mean_pe: np.ndarray) -> np.ndarray:
        """P(N = n) for n = 0..n_max in a new last axis: Γ(n + r)/(Γ(r) n!) pʳ (1 − p)ⁿ with
        r = θ μ, p = θ/(1 + θ), as running sums of ln((n − 1 + r)/n) + ln(1 − p) from ln pʳ
        (one logarithm per count, no gamma functions; exact also at r = 0)."""
        r = self.theta * np.asarray(mean_pe, dtype=float)[..., None]
        p = self.theta / (1.0 + self.theta)
        n = np.arange(1, n_max + 1, dtype=float)
        with np.errstate(divide="ignore"):  # ln 0 = −inf at r = 0: P(N ≥ 1) = 0 exactly
            steps = np.log((n - 1.0 + r) / n) + math.log1p(-p)
        log_p0 = r * math.log(p)
        log_pmf = np.concatenate([log_p0, log_p0 + np.cumsum(steps, axis=-1)], axis=-1)
        return np.exp(log_pmf)

    def to_dict(self) -> dict:
        return {"model": self.model_name, "theta": self.theta}


ResolutionModel = (
    SeedPerovskiteResolution
    | GermaniumResolution
    | GaussianResolution
    | NoResolution
    | PoissonPEResolution
    | PolyaPEResolution
)
