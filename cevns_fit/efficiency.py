"""Detection efficiency as a function of the reconstructed observable (keVee or PE).

Efficiencies act after smearing, on the observable a detector actually records; the template
builder evaluates them at the centres of fine observable bins (for 1-PE bins: at the bin
centre, as the COHERENT 2017 release prescribes). Which model to use:

* :class:`StepEfficiency` -- a hard threshold: ``plateau`` above, 0 below.
* :class:`ErfEfficiency` -- a smooth trigger turn-on, ε = plateau/2 · (1 + erf((x − x_thr)/(√2 w))).
* :class:`LogisticEfficiency` -- COHERENT CsI[Na] 2017 acceptance (arXiv:1804.09459):
  f(x) = a / (1 + exp(−k (x − x₀))) · H(x), with the modified Heaviside H = 0 for x < 5,
  1/2 for 5 ≤ x < 6, 1 for x ≥ 6 (x in PE); a = 0.6655, k = 0.4942, x₀ = 10.8507.
  With a constant term (``offset`` d), the form of the COHERENT CsI[Na] 2021 data release
  (Akimov et al., PRL 129 (2022) 081801, arXiv:2110.07730; release file of the energy
  efficiency, x = reconstructed PE): ε(x) = a / (1 + exp(−k (x − x₀))) + d with
  a = 1.32045, k = 0.285979, x₀ = 10.8646, d = −0.333322. That formula is negative below
  x ≈ 7.07 PE, so ε is clipped at 0 there (no acceptance); it is not clipped at 1: a curve
  above 1 in the analysis range is an error at load (:mod:`cevns_fit.response_checks`).
* :class:`TabulatedEfficiency` -- measured points, linear interpolation, clamped at the ends.

Each model has a ``threshold`` (the step, the erf midpoint, the logistic x₀, the table's
half-plateau point) and ``shifted(delta)`` that moves that threshold by ``delta`` observable
units: the ±1σ "threshold" templates and threshold scans use it. For the logistic the
Heaviside cut is an analysis cut in PE and stays where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import erf

__all__ = [
    "StepEfficiency",
    "ErfEfficiency",
    "LogisticEfficiency",
    "TabulatedEfficiency",
    "EfficiencyModel",
    "modified_heaviside",
]


def modified_heaviside(x: np.ndarray, lower: float = 5.0, upper: float = 6.0) -> np.ndarray:
    """COHERENT 2017 modified Heaviside: 0 below ``lower``, 1/2 in [lower, upper), 1 above."""
    x = np.asarray(x, dtype=float)
    return np.where(x < lower, 0.0, np.where(x < upper, 0.5, 1.0))


@dataclass(frozen=True)
class StepEfficiency:
    """ε(x) = plateau for x ≥ threshold, else 0 (x in observable units)."""

    threshold: float
    plateau: float = 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(x, dtype=float) >= self.threshold, self.plateau, 0.0)

    def shifted(self, delta: float) -> StepEfficiency:
        return replace(self, threshold=self.threshold + delta)

    def to_dict(self) -> dict:
        return {"model": "step", "threshold": self.threshold, "plateau": self.plateau}


@dataclass(frozen=True)
class ErfEfficiency:
    """ε(x) = plateau/2 · (1 + erf((x − threshold)/(√2 width)))."""

    threshold: float
    width: float
    plateau: float = 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=float) - self.threshold) / (np.sqrt(2.0) * self.width)
        return 0.5 * self.plateau * (1.0 + erf(z))

    def shifted(self, delta: float) -> ErfEfficiency:
        return replace(self, threshold=self.threshold + delta)

    def to_dict(self) -> dict:
        return {
            "model": "erf",
            "threshold": self.threshold,
            "width": self.width,
            "plateau": self.plateau,
        }


@dataclass(frozen=True)
class LogisticEfficiency:
    """ε(x) = max(a / (1 + exp(−k (x − x0))) + offset, 0) · H(x), H an optional modified
    Heaviside cut (``heaviside`` = (lower, upper) or None); ``threshold`` is x0."""

    a: float
    k: float
    x0: float
    heaviside: tuple[float, float] | None = (5.0, 6.0)
    offset: float = 0.0

    @property
    def threshold(self) -> float:
        return self.x0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        # exp overflows harmlessly to inf (-> 0) for very low x; silence that only.
        with np.errstate(over="ignore"):
            eff = self.a / (1.0 + np.exp(-self.k * (x - self.x0)))
        if self.offset != 0.0:
            # A negative constant term makes the fitted formula < 0 at low x: no acceptance.
            eff = np.maximum(eff + self.offset, 0.0)
        if self.heaviside is not None:
            eff = eff * modified_heaviside(x, *self.heaviside)
        return eff

    def shifted(self, delta: float) -> LogisticEfficiency:
        return replace(self, x0=self.x0 + delta)

    def to_dict(self) -> dict:
        return {
            "model": "logistic",
            "a": self.a,
            "k": self.k,
            "x0": self.x0,
            "offset": self.offset,
            "heaviside": None if self.heaviside is None else list(self.heaviside),
        }


@dataclass(frozen=True)
class TabulatedEfficiency:
    """Efficiency points (observable, ε) interpolated linearly; ``shift`` moves the curve."""

    x: tuple[float, ...]
    values: tuple[float, ...]
    shift: float = 0.0

    @property
    def threshold(self) -> float:
        """Where the curve first reaches half its maximum (observable units)."""
        values = np.asarray(self.values)
        idx = int(np.argmax(values >= 0.5 * values.max()))
        return float(self.x[idx]) + self.shift

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=float) - self.shift, self.x, self.values)

    def shifted(self, delta: float) -> TabulatedEfficiency:
        return replace(self, shift=self.shift + delta)

    def to_dict(self) -> dict:
        return {
            "model": "tabulated",
            "x": list(self.x),
            "values": list(self.values),
            "shift": self.shift,
        }


EfficiencyModel = StepEfficiency | ErfEfficiency | LogisticEfficiency | TabulatedEfficiency
