"""The binned-template interface: :class:`Sample`, :class:`BinAxis`, :class:`Channel`,
:class:`AnalysisTemplates`.

What the physics and detector layers fill and the likelihood layer reads (conventions in
:mod:`cevns_fit.templates`): expected counts per bin at a reference exposure, each sample
naming its modifiers, several axes flattened energy-major. Nothing here knows physics or pyhf.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

SIGNAL_POI = "mu"


@dataclass(frozen=True)
class Sample:
    """One contribution (signal or a background) to one channel, in expected counts per bin."""

    name: str
    counts: np.ndarray
    norm_factor: str | None = None
    norm_sys: dict[str, float | tuple[float, float]] = field(default_factory=dict)
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
class BinAxis:
    """One binned axis of a channel: ``name`` ("energy", "time", "psd"), ``edges`` and a
    human ``label`` with its unit (e.g. "PE", "arrival time (µs)", "F90")."""

    name: str
    edges: np.ndarray
    label: str

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1


@dataclass(frozen=True)
class Channel:
    """A binned observable and its samples.

    One axis: ``bin_edges`` are its edges. Several axes (energy × time × psd): ``axes`` lists
    them, every count array is the grid flattened energy-major (C order) and ``bin_edges`` is
    the flat bin index 0..n. :meth:`project` sums a flattened array onto one axis."""

    name: str
    bin_edges: np.ndarray
    observable: str
    samples: tuple[Sample, ...]
    data: np.ndarray | None = None
    axes: tuple[BinAxis, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        if self.axes:
            return tuple(a.n_bins for a in self.axes)
        return (len(self.bin_edges) - 1,)

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes) if self.axes else ("energy",)

    def axis(self, name: str) -> BinAxis:
        if not self.axes and name == "energy":
            return BinAxis("energy", self.bin_edges, self.observable)
        for a in self.axes:
            if a.name == name:
                return a
        raise KeyError(name)

    def project(self, values: np.ndarray, axis: str) -> np.ndarray:
        """A flattened per-bin array summed over every axis but ``axis``."""
        grid = np.asarray(values, dtype=float).reshape(self.shape)
        k = self.axis_names.index(axis)
        return grid.sum(axis=tuple(i for i in range(grid.ndim) if i != k))

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

    def projected(self, axis: str) -> AnalysisTemplates:
        """The same analysis with every channel summed onto ``axis`` (templates, variations and
        data alike), e.g. the energy-only analysis of an energy × time model. Channels without
        that axis are kept as they are."""
        channels = []
        for ch in self.channels:
            if len(ch.axis_names) == 1 or axis not in ch.axis_names:
                channels.append(ch)
                continue

            def p(values, _ch=ch):
                return None if values is None else _ch.project(values, axis)

            samples = tuple(
                replace(
                    s,
                    counts=p(s.counts),
                    shape_sys={k: (p(lo), p(hi)) for k, (lo, hi) in s.shape_sys.items()},
                    stat_error=None
                    if s.stat_error is None
                    else np.sqrt(p(np.asarray(s.stat_error) ** 2)),
                )
                for s in ch.samples
            )
            a = ch.axis(axis)
            channels.append(
                replace(
                    ch,
                    bin_edges=a.edges,
                    observable=a.label,
                    samples=samples,
                    data=p(ch.data),
                    axes=(),
                )
            )
        return replace(
            self,
            channels=tuple(channels),
            notes=self.notes + (f"projected onto the {axis} axis",),
        )

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
        """Expected background in the channels that hold the signal (control channels, which
        only measure a background, are not counted again)."""
        names = [{s.name for s in ch.samples} for ch in self.channels]
        return sum(
            s.total
            for ch, present in zip(self.channels, names, strict=True)
            if self.signal_sample in present
            for s in ch.samples
            if s.name != self.signal_sample
        )
