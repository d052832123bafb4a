"""The binned observables of an analysis beyond energy: arrival time and pulse shape.

An analysis has one to three binned axes, always in the order energy (keVee or PE), time
(µs), psd (a pulse-shape parameter such as F90); templates are arrays of that shape, flattened
energy-major (C order) for pyhf. This module holds the time and PSD axes and the per-bin
probabilities that spread an energy template over them:

* :class:`TimeAxis`: bin edges on the data's time axis (µs after the beam trigger), the
  offset ``t0_us`` at which the source's time zero (the centre of the proton pulse) falls on
  that axis, optional tabulated arrival-time PDFs per timing class (``prompt``, ``delayed``;
  a data release's own PDFs) that replace the source's analytic pulse model, and an optional
  timing efficiency, and ``t0_sigma_us``, the 1σ of the beam-timing offset (a ``timing``
  nuisance: every beam-timed template rebuilt with all arrivals ±1σ later).
  :meth:`TimeAxis.probabilities` gives, per bin, the fraction of a timing class's events that
  arrive in it (not renormalised: events outside the window are lost, as in a beam-window
  analysis).
* :class:`PSDAxis`: bin edges of the pulse-shape parameter and P(psd | energy) or P(psd) tables
  for nuclear recoils (CEvNS, neutrons) and, optionally, electron recoils;
  :meth:`PSDAxis.matrix` maps a table onto (energy bin, psd bin) probabilities.

A background's shape along an axis its table lacks is a :data:`Shape`: ``"flat"`` (uniform
over the window), ``"prompt"``/``"delayed"`` (time: the neutrinos' timing, e.g. neutrino-induced
neutrons), ``"nuclear"``/``"electron"`` (psd: the axis' recoil tables) or a 1-D/2-D
:class:`~cevns_fit.tables.Histogram`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.tables import Histogram, overlap_matrix

__all__ = ["TimeAxis", "PSDAxis", "Shape", "TIMING_CLASSES", "flat_probabilities"]

TIMING_CLASSES = ("prompt", "delayed")
Shape = str | Histogram
# Sub-samples per time bin for the bin-averaged timing efficiency.
_EFFICIENCY_SUBPOINTS = 16


def flat_probabilities(edges: np.ndarray) -> np.ndarray:
    """Per-bin fractions of a distribution uniform over the bins' range."""
    widths = np.diff(np.asarray(edges, dtype=float))
    return widths / widths.sum()


@dataclass(frozen=True)
class TimeAxis:
    """Arrival-time bins (µs after the beam trigger) and the arrival model of each timing class."""

    edges_us: np.ndarray
    t0_us: float = 0.0
    signal_pdfs: dict[str, Histogram] = field(default_factory=dict)
    efficiency_x_us: np.ndarray | None = None
    efficiency_values: np.ndarray | None = None
    t0_sigma_us: float = 0.0
    shift_us: float = 0.0

    def shifted(self, delta_us: float) -> TimeAxis:
        """The same axis with every arrival (pulse model and tabulated PDFs alike) ``delta_us``
        later on the data's time axis: the ``timing`` nuisance's ±1σ (the timing efficiency
        stays where it is, a property of the data's time axis)."""
        return replace(self, shift_us=self.shift_us + delta_us)

    @property
    def window_us(self) -> float:
        return float(self.edges_us[-1] - self.edges_us[0])

    @property
    def n_bins(self) -> int:
        return len(self.edges_us) - 1

    def efficiency(self) -> np.ndarray:
        """Timing efficiency averaged over each bin (1 without one); linear interpolation of
        the table, constant beyond its ends."""
        if self.efficiency_x_us is None:
            return np.ones(self.n_bins)
        frac = (np.arange(_EFFICIENCY_SUBPOINTS) + 0.5) / _EFFICIENCY_SUBPOINTS
        t = self.edges_us[:-1, None] + np.diff(self.edges_us)[:, None] * frac[None, :]
        return np.interp(t, self.efficiency_x_us, self.efficiency_values).mean(axis=1)

    def probabilities(self, timing: str | None, source_timing=None) -> np.ndarray:
        """Fraction of a timing class's events in each time bin, times the timing efficiency.

        From the tabulated PDF of that class if the model gives one, else from the source's
        pulse model (``source_timing``, a :class:`~cevns_fit.sources.PulseTiming`, whose time
        zero is the pulse centre, placed at ``t0_us``). A steady component (``timing`` None)
        is flat in time."""
        eff = self.efficiency()
        if timing is None or timing == "flat":
            return flat_probabilities(self.edges_us) * eff
        if timing in self.signal_pdfs:
            pdf = self.signal_pdfs[timing]
            edges = self.edges_us - self.shift_us
            return overlap_matrix(pdf.edges_of("time"), edges) @ pdf.values * eff
        if source_timing is None:
            raise InputError(
                f"timing class {timing!r}: the source has no pulse timing and the model gives no "
                f"arrival-time table for it ([analysis.time] signal_pdf.{timing})"
            )
        edges = self.edges_us - self.t0_us - self.shift_us
        return source_timing.bin_probabilities(timing, edges) * eff

    def to_dict(self) -> dict:
        return {
            "edges_us": self.edges_us,
            "t0_us": self.t0_us,
            "t0_sigma_us": self.t0_sigma_us,
            "window_us": self.window_us,
            "signal_pdfs": sorted(self.signal_pdfs),
            "efficiency": None
            if self.efficiency_x_us is None
            else {"x_us": self.efficiency_x_us, "values": self.efficiency_values},
        }


@dataclass(frozen=True)
class PSDAxis:
    """Pulse-shape bins and the recoil tables that give P(psd | energy) (or P(psd))."""

    name: str
    edges: np.ndarray
    nuclear: Histogram
    electron: Histogram | None = None

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    def table(self, which: str) -> Histogram:
        if which == "nuclear":
            return self.nuclear
        if which == "electron" and self.electron is not None:
            return self.electron
        raise InputError(
            f"psd axis {self.name!r}: no {which!r} recoil table (give [analysis.psd] {which})"
        )

    def matrix(self, table: Histogram, energy_edges: np.ndarray) -> np.ndarray:
        """(n_energy, n_psd): probability of each psd bin for an event in each energy bin.

        ``table`` holds P(psd) (axis psd) or P(psd | energy) (axes energy, psd); each row of the
        table is normalised over its own psd range, so the analysis' psd window acts as an
        acceptance (a cut keeps the fraction inside it). The energy bins must lie inside the
        table's energy range; a model energy bin spanning several table rows takes their
        width-weighted average."""
        psd_w = overlap_matrix(table.edges_of("psd"), self.edges)  # (n_psd, n_table_psd)
        values = np.asarray(table.values, dtype=float)
        if not table.has("energy"):
            row = values / values.sum() if values.sum() > 0 else values
            return np.tile(psd_w @ row, (len(energy_edges) - 1, 1))
        norms = values.sum(axis=1, keepdims=True)
        if np.any(norms <= 0):
            raise InputError(f"{table.source}: an energy row has no probability over psd")
        conditional = values / norms
        t_edges = table.edges_of("energy")
        e = np.asarray(energy_edges, dtype=float)
        if e[0] < t_edges[0] - 1e-9 or e[-1] > t_edges[-1] + 1e-9:
            raise InputError(
                f"{table.source}: covers energies {t_edges[0]:g}–{t_edges[-1]:g}, the analysis "
                f"needs {e[0]:g}–{e[-1]:g}"
            )
        w = overlap_matrix(t_edges, e) * np.diff(t_edges)[None, :]  # overlap lengths
        w = w / w.sum(axis=1, keepdims=True)
        return (w @ conditional) @ psd_w.T

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "edges": self.edges,
            "nuclear": self.nuclear.source,
            "electron": None if self.electron is None else self.electron.source,
        }
