"""The validated detector model: :class:`DetectorModel` (array, source, response, binning,
backgrounds) and its exposure bookkeeping, the cost assumptions (:class:`CostModel`) and the
variations scans ask for (:meth:`DetectorModel.with_overrides`: threshold, quenching, mass,
exposure, background scale).

Exposure bookkeeping (mass, channels, kg·yr, beam GW·hr and protons on target) as described
in :mod:`cevns_fit.detector`. Costs are assumptions, always.

Nothing here reads files or validates input beyond the overrides' arguments: models come from
:func:`cevns_fit.detector.loading.load_detector_model`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cevns_fit.axes import PSDAxis, TimeAxis
from cevns_fit.backgrounds import Background
from cevns_fit.constants import DAYS_PER_YEAR, HOURS_PER_DAY, MEV_PER_JOULE
from cevns_fit.efficiency import EfficiencyModel
from cevns_fit.errors import InputError
from cevns_fit.physics import PhysicsParameters
from cevns_fit.quenching import ConstantQuenching, QuenchingModel, electron_equivalent_keVee
from cevns_fit.resolution import ResolutionModel
from cevns_fit.sections import Observation
from cevns_fit.sources import Source
from cevns_fit.targets import Target

__all__ = ["DetectorModel", "CostModel", "protons_on_target"]


def protons_on_target(beam_exposure_GWhr: float, proton_energy_GeV: float) -> float:
    """Protons on target for a beam exposure E (GW·hr) at proton energy E_p: E / E_p."""
    joules = beam_exposure_GWhr * 1e9 * 3600.0
    return joules * MEV_PER_JOULE / (proton_energy_GeV * 1e3)


@dataclass(frozen=True)
class CostModel:
    """Cost assumptions: material per kg and electronics per channel (US dollars)."""

    material_usd_per_kg: float = 0.0
    usd_per_channel: float = 0.0
    note: str = "assumption"

    def total_usd(self, mass_kg: float, channels: int) -> float:
        return self.material_usd_per_kg * mass_kg + self.usd_per_channel * channels

    def to_dict(self) -> dict:
        return {
            "material_usd_per_kg": self.material_usd_per_kg,
            "usd_per_channel": self.usd_per_channel,
            "note": self.note,
            "is_assumption": True,
        }


@dataclass(frozen=True)
class DetectorModel:
    """A validated detector model (see :mod:`cevns_fit.detector` for the TOML schema).

    Thresholds, bins and backgrounds live in the observable (``observable``: keVee or PE;
    PE = ``gain`` × keVee). ``threshold_sigma`` is the (down, up) 1σ of the efficiency
    threshold in observable units. Backgrounds are densities per observable unit per kg per
    live day (converted from the file's units on load).
    """

    name: str
    path: Path
    description: str
    target: Target
    source: Source
    n_sensors: int
    sensor_mass_kg: float
    channels_per_sensor: int
    mass_kg: float
    live_time_yr: float
    cost: CostModel
    quenching: QuenchingModel
    resolution: ResolutionModel
    efficiency: EfficiencyModel
    threshold_sigma: tuple[float, float]
    observable: str
    gain: float
    bin_edges: np.ndarray
    form_factor: str = "helm"
    channel: str = "signal"
    backgrounds: tuple[Background, ...] = ()
    fine_bins_per_bin: int = 4
    n_true_bins: int = 300
    beam_exposure_GWhr: float | None = None
    notes: tuple[str, ...] = ()
    source_path: Path | None = None
    overrides: Mapping[str, float] = field(default_factory=dict)
    time_axis: TimeAxis | None = None
    psd_axis: PSDAxis | None = None
    observations: tuple[Observation, ...] = ()
    signal_table: Background | None = None
    physics: PhysicsParameters = field(default_factory=PhysicsParameters)
    physics_nuisances: tuple[tuple[str, float], ...] = ()

    @property
    def axis_edges(self) -> dict[str, np.ndarray]:
        """Bin edges of every analysis axis (energy in the observable, time in µs, psd)."""
        out = {"energy": self.bin_edges}
        if self.time_axis is not None:
            out["time"] = self.time_axis.edges_us
        if self.psd_axis is not None:
            out["psd"] = self.psd_axis.edges
        return out

    @property
    def axis_names(self) -> tuple[str, ...]:
        """The binned axes of the analysis, in template order: energy[, time][, psd]."""
        return (
            ("energy",)
            + (("time",) if self.time_axis is not None else ())
            + (("psd",) if self.psd_axis is not None else ())
        )

    # ---- bookkeeping -------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        return self.n_sensors * self.channels_per_sensor

    @property
    def exposure_kg_yr(self) -> float:
        return self.mass_kg * self.live_time_yr

    @property
    def live_days(self) -> float:
        return self.live_time_yr * DAYS_PER_YEAR

    @property
    def cost_usd(self) -> float:
        return self.cost.total_usd(self.mass_kg, self.channels)

    @property
    def threshold(self) -> float:
        """Nominal threshold in observable units (keVee or PE)."""
        return float(self.efficiency.threshold)

    @property
    def threshold_keVnr(self) -> float:
        """The nominal threshold as a nuclear-recoil energy, via the nominal quenching."""
        grid = np.geomspace(1e-3, 1e4, 4000)
        obs = self.gain * electron_equivalent_keVee(self.quenching, grid)
        return float(np.interp(self.threshold, obs, grid))

    @property
    def protons_on_target(self) -> float | None:
        energy = self.source.parameters.get("proton_energy_GeV")
        power = self.source.parameters.get("power_MW")
        if energy is None or power is None:
            return None
        gwhr = power * 1e-3 * self.live_days * HOURS_PER_DAY
        return protons_on_target(gwhr, energy)

    def observable_from_keVnr(self, energy_keVnr: np.ndarray) -> np.ndarray:
        """Mean observable (keVee or PE) of a nuclear recoil, with the nominal quenching."""
        return self.gain * electron_equivalent_keVee(self.quenching, energy_keVnr)

    # ---- variations used by scans ------------------------------------------------------------
    def with_overrides(
        self,
        *,
        threshold_keVnr: float | None = None,
        quenching_scale: float | None = None,
        quenching: float | None = None,
        quenching_sigma: float | None = None,
        mass_kg: float | None = None,
        exposure_kg_yr: float | None = None,
        background_scale: float | None = None,
    ) -> DetectorModel:
        """The same model with one or more settings replaced (used by ``--vary`` scans).

        ``threshold_keVnr`` moves the efficiency threshold to the observable value of that recoil
        under the *nominal* quenching (E_obs = gain · Q(E_nr) · E_nr); the threshold's 1σ stays;
        the analysis bins are extended downwards (first bin's width) to reach a lower threshold.
        The threshold is a cut on the observable (electronics), so it is converted with the
        quenching as loaded, whatever ``quenching``/``quenching_scale`` are scanned with it.
        ``quenching`` replaces the model by a constant Q with the model's relative 1σ;
        ``quenching_scale`` multiplies Q(E_nr) and its 1σ; ``quenching_sigma`` moves the
        model's own quenching by that many of its 1σ (Q ± σ_Q, Lindhard k ± σ_k, tabulated
        points ± their errors), as the ``quenching`` nuisance parameter of the likelihood does.
        ``mass_kg`` keeps the sensor mass (n_sensors = ceil(mass / sensor mass)) and the live
        time; ``exposure_kg_yr`` keeps the mass and changes the live time;
        ``background_scale`` multiplies every background rate.
        """
        model = self
        changes: dict[str, float] = dict(self.overrides)
        if threshold_keVnr is not None:
            _check_positive(threshold_keVnr, "threshold_keVnr")
            new_thr = float(self.observable_from_keVnr(np.array([threshold_keVnr]))[0])
            model = replace(
                model,
                efficiency=model.efficiency.shifted(new_thr - self.threshold),
                bin_edges=_edges_cut_at(_edges_down_to(model.bin_edges, new_thr), new_thr),
            )
            changes["threshold_keVnr"] = threshold_keVnr
        if quenching is not None:
            _check_positive(quenching, "quenching")
            if quenching > 1:
                raise InputError(f"quenching = {quenching!r}: a quenching factor must be in (0, 1]")
            rel = self.quenching.relative_sigma
            model = replace(
                model, quenching=ConstantQuenching(quenching, rel * quenching, note="scan override")
            )
            changes["quenching"] = quenching
        if quenching_sigma is not None:
            if not math.isfinite(quenching_sigma):
                raise InputError(f"quenching_sigma = {quenching_sigma!r}: must be finite")
            model = replace(model, quenching=model.quenching.varied(quenching_sigma))
            changes["quenching_sigma"] = quenching_sigma
        if quenching_scale is not None:
            _check_positive(quenching_scale, "quenching_scale")
            model = replace(model, quenching=model.quenching.scaled(quenching_scale))
            changes["quenching_scale"] = quenching_scale
        if mass_kg is not None:
            _check_positive(mass_kg, "mass_kg")
            n = max(1, math.ceil(mass_kg / self.sensor_mass_kg - 1e-9))
            model = replace(model, mass_kg=float(mass_kg), n_sensors=n)
            changes["mass_kg"] = mass_kg
        if exposure_kg_yr is not None:
            _check_positive(exposure_kg_yr, "exposure_kg_yr")
            live_yr = exposure_kg_yr / model.mass_kg
            gwhr = model.beam_exposure_GWhr
            model = replace(
                model,
                live_time_yr=live_yr,
                beam_exposure_GWhr=None if gwhr is None else gwhr * live_yr / model.live_time_yr,
            )
            changes["exposure_kg_yr"] = exposure_kg_yr
        if background_scale is not None:
            if not (math.isfinite(background_scale) and background_scale >= 0):
                raise InputError(f"background_scale = {background_scale!r}: must be >= 0")
            model = replace(
                model, backgrounds=tuple(b.scaled(background_scale) for b in model.backgrounds)
            )
            changes["background_scale"] = background_scale
        return replace(model, overrides=changes)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "target": self.target.name,
            "source": self.source.name,
            "mass_kg": self.mass_kg,
            "n_sensors": self.n_sensors,
            "sensor_mass_kg": self.sensor_mass_kg,
            "channels": self.channels,
            "live_time_yr": self.live_time_yr,
            "exposure_kg_yr": self.exposure_kg_yr,
            "beam_exposure_GWhr": self.beam_exposure_GWhr,
            "protons_on_target": self.protons_on_target,
            "cost_usd": self.cost_usd,
            "cost": self.cost.to_dict(),
            "observable": self.observable,
            "gain": self.gain,
            "threshold": self.threshold,
            "threshold_keVnr": self.threshold_keVnr,
            "threshold_sigma": list(self.threshold_sigma),
            "bins": self.bin_edges,
            "quenching": self.quenching.to_dict(),
            "resolution": self.resolution.to_dict(),
            "efficiency": self.efficiency.to_dict(),
            "backgrounds": [b.to_dict() for b in self.backgrounds],
            "form_factor": self.form_factor,
            "axes": list(self.axis_names),
            "time_axis": None if self.time_axis is None else self.time_axis.to_dict(),
            "psd_axis": None if self.psd_axis is None else self.psd_axis.to_dict(),
            "observations": [o.to_dict() for o in self.observations],
            "overrides": dict(self.overrides),
            "notes": list(self.notes),
        }


def _edges_down_to(edges: np.ndarray, threshold: float) -> np.ndarray:
    """Bin edges extended downwards with the first bin's width to reach ``threshold``, so a
    lowered threshold is not silently cut off by the analysis range; never below zero."""
    if threshold >= edges[0]:
        return edges
    width = edges[1] - edges[0]
    n_new = math.ceil((edges[0] - threshold) / width - 1e-9)
    lower = edges[0] - width * np.arange(n_new, 0, -1)
    lower = np.unique(np.clip(lower, 0.0, None))
    return np.concatenate([lower[lower < edges[0]], edges])


def _edges_cut_at(edges: np.ndarray, threshold: float) -> np.ndarray:
    """Analysis bins of a scanned threshold: anchored at the threshold, with the width of the
    model's bin that holds it, up to the model's top edge (a last sliver narrower than half a
    bin joins its neighbour). The bins then move continuously with the threshold: bins fixed in
    the observable would be cut into slivers that empty within ±1σ of the threshold nuisance,
    and the templates' linear interpolation makes the sensitivity jump each time the threshold
    crosses a bin edge (ragged exposure-vs-threshold curves)."""
    if threshold <= edges[0] or threshold >= edges[-1]:
        return edges
    k = int(np.searchsorted(edges, threshold, side="right"))  # edges[k-1] < thr <= edges[k]
    width = edges[k] - edges[k - 1]
    top = edges[-1]
    n = max(1, math.floor((top - threshold) / width + 1e-9))
    grid = threshold + width * np.arange(n + 1)
    if top - grid[-1] > 0.5 * width:
        grid = np.append(grid, top)
    else:
        grid[-1] = top
    return grid


def _check_positive(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{name} = {value!r}: must be a positive finite number")
