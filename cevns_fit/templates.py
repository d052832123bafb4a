"""Binned templates: expected counts per bin of the observable, nominal and ±1σ variations.

These dataclasses are the interface between the physics/detector layers (which fill them) and
the likelihood layer (which turns them into a pyhf workspace). They know nothing of pyhf.

Conventions
-----------
* ``counts`` are expected events per bin at the exposure ``AnalysisTemplates.exposure_kg_yr``.
* A :class:`Sample` names its modifiers explicitly, so the likelihood layer needs no knowledge
  of physics: ``norm_factor`` is a free multiplicative parameter (``"mu"`` for the CEvNS
  signal, e.g. ``"steady_state_norm"`` for a background measured in a control channel);
  ``norm_sys`` maps a parameter name to a relative 1σ normalisation uncertainty (normsys,
  e.g. ``{"flux": 0.10}``); ``shape_sys`` maps a parameter name to the (down, up) templates
  rebuilt at ∓1σ/±1σ of that parameter (histosys, e.g. ``"quenching"``, ``"threshold"``,
  ``"resolution"``); ``stat_error`` is an absolute per-bin template uncertainty (staterror).
* Every count scales linearly with exposure (signal and backgrounds are per kg per unit
  time), so :meth:`AnalysisTemplates.scaled_to` rescales a model without rebuilding it.
  Observed data are never rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Sample", "Channel", "AnalysisTemplates", "SIGNAL_POI"]

SIGNAL_POI = "mu"


@dataclass(frozen=True)
class Sample:
    """One contribution (signal or a background) to one channel, in expected counts per bin."""

    name: str
    counts: np.ndarray
    norm_factor: str | None = None
    norm_sys: dict[str, float] = field(default_factory=dict)
    shape_sys: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    stat_error: np.ndarray | None = None

    def scaled(self, factor: float) -> Sample:
        """The same sample with every expected count (and its variations) times ``factor``."""
        return replace(
            self,
            counts=self.counts * factor,
            shape_sys={k: (lo * factor, hi * factor) for k, (lo, hi) in self.shape_sys.items()},
            stat_error=None if self.stat_error is None else self.stat_error * factor,
        )

    @property
    def total(self) -> float:
        return float(np.sum(self.counts))


@dataclass(frozen=True)
class Channel:
    """A binned observable (keVee, PE, or a flattened PE × time grid) and its samples."""

    name: str
    bin_edges: np.ndarray
    observable: str
    samples: tuple[Sample, ...]
    data: np.ndarray | None = None

    @property
    def n_bins(self) -> int:
        return len(self.samples[0].counts)

    def sample(self, name: str) -> Sample:
        for s in self.samples:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class AnalysisTemplates:
    """All channels of one analysis at a reference exposure (kg·yr)."""

    channels: tuple[Channel, ...]
    exposure_kg_yr: float
    signal_sample: str = "cevns"
    notes: tuple[str, ...] = ()

    def scaled_to(self, exposure_kg_yr: float) -> AnalysisTemplates:
        """The same analysis at another exposure: all expected counts scale linearly."""
        factor = exposure_kg_yr / self.exposure_kg_yr
        channels = tuple(
            replace(ch, samples=tuple(s.scaled(factor) for s in ch.samples)) for ch in self.channels
        )
        return replace(self, channels=channels, exposure_kg_yr=exposure_kg_yr)

    def with_data(self, data: dict[str, np.ndarray]) -> AnalysisTemplates:
        """Attach observed counts per channel name."""
        channels = tuple(replace(ch, data=np.asarray(data[ch.name], float)) for ch in self.channels)
        return replace(self, channels=channels)

    def total(self, sample_name: str) -> float:
        """Expected counts of one sample summed over channels."""
        return sum(s.total for ch in self.channels for s in ch.samples if s.name == sample_name)

    @property
    def signal_total(self) -> float:
        return self.total(self.signal_sample)

    @property
    def background_total(self) -> float:
        return sum(
            s.total for ch in self.channels for s in ch.samples if s.name != self.signal_sample
        )
