"""Backgrounds on the analysis axes (energy, and arrival time and pulse shape if the analysis
has them), as rates per kg per live day.

A background is either flat in energy (``flat_rate``: counts per observable unit per kg per
live day) or a table (:class:`~cevns_fit.tables.Histogram`) over one to three axes, read from a
file and converted on load into counts per table bin per kg per live day (the model file states
its units: counts as measured at the model's exposure, per GW·hr of beam, or per kg·day). A table
is a piecewise-constant density on its own bins, so any analysis binning integrates it exactly.
Along an analysis axis the table lacks, the background has a :data:`~cevns_fit.axes.Shape`
(flat, the neutrinos' prompt/delayed timing, a recoil-type PSD table, or a 1-D/2-D table).

Kinds (what the background is; they set defaults, nothing else):

* ``steady_state`` -- cosmic and radioactive, present with and without beam. At a pulsed
  source only the fraction of live time inside the beam window counts (``duty_factor``: the
  source's repetition rate × the analysis time window), unless the rate was measured in an
  equivalent window (beam-off or anticoincidence data, ``file_units = "counts"``). Flat in time.
* ``beam`` -- beam-related (prompt) neutrons: scale with beam exposure; prompt in time.
* ``neutrino_induced`` -- neutrino-induced neutrons: prompt/delayed like the neutrinos.
* ``tabulated`` -- any other component given as a table.

Normalisation: ``norm_uncertainty`` (a normsys: ``linear`` 1 ± σ for σ < 1, or ``lognormal``
factors (1 + σ)^±1 that stay positive for any σ, the default from σ = 1 on), or
``constrained_by`` a control measurement (a free normfactor shared with a control channel whose
expected counts are ``control_ratio`` times the signal-window counts summed over time),
optionally one free normalisation per energy bin (``free_per_energy_bin``: the bin-by-bin
on − off subtraction of a measured background). ``target_events`` rescales the background to N
events at the model's exposure in the analysis window. ``systematics`` holds ±1σ tables of the
same layout (histosys).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cevns_fit.axes import PSDAxis, Shape, TimeAxis, flat_probabilities
from cevns_fit.errors import InputError
from cevns_fit.tables import Histogram

__all__ = [
    "Background",
    "BACKGROUND_KINDS",
    "NORM_MODELS",
    "norm_factors",
    "default_time_shape",
]

BACKGROUND_KINDS = ("steady_state", "beam", "neutrino_induced", "tabulated")
NORM_MODELS = ("linear", "lognormal")


def norm_factors(sigma: float, model: str) -> tuple[float, float]:
    """(down, up) normalisation factors at ∓1σ: linear 1 ∓ σ (σ < 1), or lognormal
    1/(1 + σ), 1 + σ, which pyhf's normsys (code 4, exponential beyond ±1σ) keeps positive for
    every α and any σ."""
    if model == "lognormal":
        return 1.0 / (1.0 + sigma), 1.0 + sigma
    if not 0 <= sigma < 1:
        raise InputError(f"a linear normalisation uncertainty must be in [0, 1), got {sigma:g}")
    return 1.0 - sigma, 1.0 + sigma


def default_time_shape(kind: str) -> str:
    """The arrival-time shape of a background kind when its table has no time column."""
    return {"beam": "prompt", "neutrino_induced": "prompt"}.get(kind, "flat")


@dataclass(frozen=True)
class Background:
    """A background: ``flat_rate`` (counts / observable unit / kg / live day, flat in energy)
    or ``table`` (counts per table bin per kg per live day), with shapes along the analysis
    axes the table lacks and its normalisation model (module docstring)."""

    name: str
    kind: str
    flat_rate: float | None = None
    table: Histogram | None = None
    time_shape: Shape = "flat"
    psd_shape: Shape = "flat"
    time_window_us: tuple[float, float] | None = None
    norm_uncertainty: float = 0.0
    norm_model: str = "linear"
    constrained_by: str | None = None
    control_ratio: float = 1.0
    free_per_energy_bin: bool = False
    apply_efficiency: bool = True
    target_events: float | None = None
    systematics: dict[str, tuple[Histogram, Histogram]] = field(default_factory=dict)
    note: str = ""

    @property
    def density(self) -> np.ndarray:
        """Flat backgrounds: the rate per observable unit per kg per day, as a 1-element array."""
        if self.flat_rate is None:
            raise AttributeError(f"background {self.name!r} is tabulated, not flat")
        return np.array([self.flat_rate])

    @property
    def norm_sys(self) -> tuple[float, float] | None:
        """(down, up) normalisation factors, or None without a normalisation uncertainty."""
        if self.norm_uncertainty <= 0 or self.constrained_by:
            return None
        return norm_factors(self.norm_uncertainty, self.norm_model)

    def scaled(self, factor: float) -> Background:
        if self.flat_rate is not None:
            return replace(self, flat_rate=self.flat_rate * factor)
        return replace(
            self,
            table=self.table.scaled(factor),
            systematics={
                k: (lo.scaled(factor), hi.scaled(factor))
                for k, (lo, hi) in self.systematics.items()
            },
            target_events=None if self.target_events is None else self.target_events * factor,
        )

    def with_table(self, table: Histogram) -> Background:
        return replace(self, table=table, systematics={})

    # ---- binning ------------------------------------------------------------------------------
    def fine_energy_counts(
        self,
        fine_edges: np.ndarray,
        *,
        time_axis: TimeAxis | None,
        psd_axis: PSDAxis | None,
    ) -> np.ndarray:
        """Counts per kg per live day on fine energy bins, before any efficiency: shape
        (n_fine, [n_time if the table has a time column and the analysis a time axis],
        [n_psd likewise])."""
        fine_edges = np.asarray(fine_edges, dtype=float)
        if self.table is None:
            return self.flat_rate * np.diff(fine_edges)
        target = {"energy": fine_edges}
        order = ["energy"]
        if self.table.has("time"):
            if time_axis is not None and self.time_shape == "table":
                target["time"] = time_axis.edges_us
                order.append("time")
            elif time_axis is not None:  # averaged over the analysis window, then re-shaped
                target["time"] = time_axis.edges_us[[0, -1]]
            elif self.time_window_us is not None:
                target["time"] = np.asarray(self.time_window_us, dtype=float)
            else:
                target["time"] = self.table.edges_of("time")[[0, -1]]
        if self.table.has("psd"):
            if psd_axis is None:
                target["psd"] = self.table.edges_of("psd")[[0, -1]]
            elif self.psd_shape == "table":
                target["psd"] = psd_axis.edges
                order.append("psd")
            else:
                target["psd"] = psd_axis.edges[[0, -1]]
        return self.table.on_bins(target, tuple(order))

    def spread(
        self,
        energy_counts: np.ndarray,
        analysis_edges: np.ndarray,
        *,
        time_axis: TimeAxis | None,
        psd_axis: PSDAxis | None,
        source_timing=None,
    ) -> np.ndarray:
        """Complete an (n_energy[, n_time][, n_psd]) array from :meth:`fine_energy_counts`
        (rebinned to the analysis energy bins) to every analysis axis with this background's
        shapes; the timing efficiency acts only if ``apply_efficiency``."""
        out = np.asarray(energy_counts, dtype=float)
        has_time = self.table is not None and self.table.has("time") and self.time_shape == "table"
        has_psd = self.table is not None and self.table.has("psd") and self.psd_shape == "table"
        if time_axis is not None:
            eff = time_axis.efficiency() if self.apply_efficiency else np.ones(time_axis.n_bins)
            # the analysis' time axis (its t0 and any timing-nuisance shift) without its
            # efficiency, which acts below only if apply_efficiency
            bare = replace(time_axis, efficiency_x_us=None, efficiency_values=None)
            if has_time:
                probs = eff
            elif isinstance(self.time_shape, Histogram):
                probs = replace(bare, signal_pdfs={"x": self.time_shape}).probabilities("x") * eff
            elif self.time_shape in ("prompt", "delayed"):
                probs = bare.probabilities(self.time_shape, source_timing) * eff
            else:
                probs = flat_probabilities(time_axis.edges_us) * eff
            if has_time:  # the table's own time bins: only the timing efficiency acts
                out = out * probs.reshape((1, -1) + (1,) * (out.ndim - 2))
            else:
                out = out[:, None, ...] * probs.reshape((1, -1) + (1,) * (out.ndim - 1))
        if psd_axis is not None and not has_psd:
            if isinstance(self.psd_shape, Histogram):
                matrix = psd_axis.matrix(self.psd_shape, analysis_edges)
            elif self.psd_shape in ("nuclear", "electron"):
                matrix = psd_axis.matrix(psd_axis.table(self.psd_shape), analysis_edges)
            else:
                matrix = np.tile(flat_probabilities(psd_axis.edges), (len(analysis_edges) - 1, 1))
            if out.ndim == 1:
                out = out[:, None] * matrix
            else:
                out = out[..., None] * matrix[:, None, :]
        return out

    @property
    def beam_timed(self) -> bool:
        """Whether its arrival times follow the beam (a tabulated or prompt/delayed time shape):
        then the beam-timing nuisance moves it."""
        return isinstance(self.time_shape, Histogram) or self.time_shape in ("prompt", "delayed")

    def to_dict(self) -> dict:
        def shape(s):
            return s if isinstance(s, str) else s.source

        return {
            "name": self.name,
            "kind": self.kind,
            "flat": self.flat_rate is not None,
            "table": None if self.table is None else self.table.source,
            "table_axes": None if self.table is None else list(self.table.axes),
            "time_shape": shape(self.time_shape),
            "psd_shape": shape(self.psd_shape),
            "norm_uncertainty": self.norm_uncertainty,
            "norm_model": self.norm_model,
            "constrained_by": self.constrained_by,
            "control_ratio": self.control_ratio,
            "free_per_energy_bin": self.free_per_energy_bin,
            "apply_efficiency": self.apply_efficiency,
            "target_events": self.target_events,
            "systematics": sorted(self.systematics),
            "note": self.note,
        }
