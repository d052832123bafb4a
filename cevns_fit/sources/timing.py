"""Arrival times of a pulsed π-DAR source: which fraction of each timing class lands in a time bin.

:class:`PulseTiming` gives the probability of each timing class ("prompt", "delayed") per time
bin in µs: prompt = proton pulse ⊗ exp(τ_π), delayed = pulse ⊗ exp(τ_π) ⊗ exp(τ_μ), closed
forms, no numerical convolution. It also gives the signal window and the duty factor by which a
beam-window analysis reduces steady-state backgrounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cevns_fit.constants import MUON_LIFETIME_us
from cevns_fit.errors import InputError

__all__ = ["PION_LIFETIME_us", "PulseTiming"]

# Charged-pion mean life 26.033 ns (PDG 2024), in µs.
PION_LIFETIME_us = 0.026033


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
