"""Detector models: a TOML file describing an array, its response, backgrounds and binning.

:func:`load_detector_model` reads and validates a model once (every error names the file, the
key and what is allowed); everything downstream trusts the :class:`DetectorModel` it returns.
Paths inside a model (source model, data tables) are relative to the model file.

Schema (see ``models/detectors/*.toml`` for complete, commented examples)::

    name, description, target (chemical formula), composition (optional {El = {"A" = f}}), notes
    [source]      file; optional overrides distance_m, nu_per_flavour_per_proton, flux_uncertainty
    [array]       n_sensors, sensor_mass_kg (or mass_kg), channels_per_sensor,
                  live_time_yr  or  beam_exposure_GWhr (π-DAR: live time at the source's power)
    [cost]        material_usd_per_kg, usd_per_channel, note     (always assumptions)
    [quenching]   model = constant (value, sigma) | lindhard (k, sigma_k, Z, A) |
                  polynomial (coefficients, lowest order first, keVnr; relative_sigma, or
                  sigmas = 1σ per coefficient + optional correlation = [[...]]: one nuisance
                  per eigen-direction, "quenching_0", ...) | tabulated (energy_keVnr/values
                  or files, relative_sigma, use_point_errors)
    [resolution]  model = seed_perovskite | germanium | gaussian | poisson_pe | none |
                  polya_pe (theta: gamma shape of the single-PE gain, Var N = μ (1 + 1/θ))
    [efficiency]  model = step | erf | logistic (a, k, x0, optional offset, heaviside) |
                  tabulated (in the observable);
                  threshold_sigma or threshold_sigma_lo/_hi (observable units)
    [analysis]    the energy axis: observable = keVee | PE, light_yield_PE_per_keVee (PE),
                  bins: edges = [...] or bin_min/bin_max/bin_width; form_factor, channel (name
                  of the main channel); fine_bins_per_bin (start of the self-refining sampling)
    [analysis.time]  an arrival-time axis: edges (µs), t0_us, signal_pdf.prompt/.delayed
                  (tables), efficiency = {x_us, values}                      (optional)
    [analysis.psd]   a pulse-shape axis: name, edges, nuclear (P(psd | energy) table),
                  electron                                                   (optional)
    [[backgrounds]] name, kind = steady_state | beam | neutrino_induced | tabulated;
                  rate_per_kg_day (flat) or a table (file, columns, layout) with file_units =
                  counts | per_GWhr | per_kg_day; time and psd shapes; duty_factor;
                  norm_uncertainty (+ norm_model linear | lognormal) or constrained_by
                  (+ control_ratio, free_per_energy_bin); target_events; apply_efficiency;
                  [[backgrounds.systematics]] name, down, up (±1σ tables); note
    [signal]      optional tabulated CEvNS prediction (file, columns, file_units, shapes,
                  systematics) replacing the computed one; μ and the flux uncertainty stay
    [[observations]] channel, file, columns: measured counts shipped with the model

The analysis sections are documented key by key in :mod:`cevns_fit.sections`, the table
layouts in :mod:`cevns_fit.tables`; ``models/detectors/coherent_csi_2017.toml`` (energy × time
from a data release) and ``examples/lar_like_3d.py`` (energy × time × pulse shape) use them.

Physics sanity (:mod:`cevns_fit.response_checks`, after everything is read): 0 < Q <= 1 for
the nominal and every ±1σ quenching model and 0 <= ε <= 1 at the nominal and ±1σ thresholds,
over the analysis range.

Exposure bookkeeping: mass = n_sensors × sensor_mass; channels = n_sensors × channels_per_sensor;
exposure (kg·yr) = mass × live time. For a π-DAR source the live time is measured at the source's
nominal beam power, so a beam exposure E (GW·hr) is E / P live hours, and the protons on target
are E / E_p (1 GeV protons: 7.47594 GW·hr = 1.68e23 POT). Costs are assumptions, always.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cevns_fit.axes import PSDAxis, TimeAxis
from cevns_fit.backgrounds import Background
from cevns_fit.config import ConfigTable
from cevns_fit.constants import DAYS_PER_YEAR, HOURS_PER_DAY, MEV_PER_JOULE
from cevns_fit.efficiency import (
    EfficiencyModel,
)
from cevns_fit.errors import InputError
from cevns_fit.physics import PhysicsParameters
from cevns_fit.physics_model import read_physics
from cevns_fit.quenching import (
    ConstantQuenching,
    QuenchingModel,
    electron_equivalent_keVee,
)
from cevns_fit.registry import shipped_models, source_file_for_model
from cevns_fit.resolution import (
    ResolutionModel,
)
from cevns_fit.response_checks import check_response
from cevns_fit.response_sections import read_efficiency, read_quenching, read_resolution
from cevns_fit.sections import (
    Observation,
    read_backgrounds,
    read_edges,
    read_observations,
    read_psd_axis,
    read_signal_table,
    read_time_axis,
)
from cevns_fit.sources import Source, load_source
from cevns_fit.targets import Target, make_target

__all__ = [
    "DetectorModel",
    "CostModel",
    "load_detector_model",
    "protons_on_target",
    "recoil_endpoint_note",
]

OBSERVABLES = ("keVee", "PE")
FORM_FACTORS = ("helm", "klein-nystrand", "none")
# Largest relative 1σ of a normalisation (normsys): its "down" variation 1 − σ must stay > 0.
MAX_RELATIVE_SIGMA = 0.99


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
    """A validated detector model (see the module docstring for the TOML schema).

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


# ------------------------------------------------------------------------------------------------
# Loading and validation: the edge. Every error names the file, the key and what is allowed.
# ------------------------------------------------------------------------------------------------


def load_detector_model(path: str | Path) -> DetectorModel:
    """Read and validate a detector model (TOML). Errors: :class:`InputError`, one line naming
    the file, the key and what is allowed (missing files and malformed TOML included)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"detector model {path}: file not found")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"detector model {path}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"detector model {path}: not a UTF-8 text file") from None
    top = ConfigTable(path, data)
    top.allow(
        (
            "name",
            "description",
            "target",
            "composition",
            "notes",
            "source",
            "array",
            "cost",
            "quenching",
            "resolution",
            "efficiency",
            "analysis",
            "backgrounds",
            "observations",
            "signal",
            "physics",
        )
    )
    name = top.string("name", path.stem)
    target = _read_target(top)
    source, source_path = _read_source(top.table("source"))
    analysis = top.table("analysis")
    observable, gain, edges, form_factor, fine, n_true = _read_analysis(analysis)
    time_t, psd_t = analysis.optional_table("time"), analysis.optional_table("psd")
    time_axis = None if time_t is None else read_time_axis(time_t)
    psd_axis = None if psd_t is None else read_psd_axis(psd_t)
    channel = analysis.string("channel", "signal")
    n_sensors, sensor_mass, channels_per_sensor, mass, live_yr, gwhr = _read_array(
        top.table("array"), source
    )
    quenching = read_quenching(top.table("quenching"), target)
    resolution = read_resolution(top.table("resolution"), observable)
    efficiency, thr_sigma = read_efficiency(top.table("efficiency"))
    cost = _read_cost(top.optional_table("cost"))
    backgrounds = read_backgrounds(
        top,
        source,
        mass,
        live_yr,
        time_axis=time_axis,
        psd_axis=psd_axis,
        main_channel=channel,
    )
    observations = read_observations(top)
    channels = {channel} | {b.constrained_by for b in backgrounds if b.constrained_by}
    for k, obs in enumerate(observations):
        if obs.channel not in channels:
            raise InputError(
                f"{path}: key 'observations[{k}].channel' = {obs.channel!r}: the model's "
                f"channels are {sorted(channels)}"
            )
    physics, physics_nuisances = read_physics(top)
    signal_table = read_signal_table(
        top, source, mass, live_yr, time_axis=time_axis, psd_axis=psd_axis
    )
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise InputError(f"{top.where('notes')}: must be a list of strings")
    model = DetectorModel(
        name=name,
        path=path,
        description=top.string("description", ""),
        target=target,
        source=source,
        n_sensors=n_sensors,
        sensor_mass_kg=sensor_mass,
        channels_per_sensor=channels_per_sensor,
        mass_kg=mass,
        live_time_yr=live_yr,
        cost=cost,
        quenching=quenching,
        resolution=resolution,
        efficiency=efficiency,
        threshold_sigma=thr_sigma,
        observable=observable,
        gain=gain,
        bin_edges=edges,
        form_factor=form_factor,
        channel=channel,
        backgrounds=backgrounds,
        fine_bins_per_bin=fine,
        n_true_bins=n_true,
        beam_exposure_GWhr=gwhr,
        notes=tuple(notes),
        source_path=source_path,
        time_axis=time_axis,
        psd_axis=psd_axis,
        observations=observations,
        signal_table=signal_table,
        physics=physics,
        physics_nuisances=physics_nuisances,
    )
    check_response(model)  # physics sanity of quenching/efficiency over the analysis range
    return model


def _read_target(top: ConfigTable) -> Target:
    formula = top.string("target")
    composition = None
    comp = top.optional_table("composition")
    if comp is not None:
        composition = {}
        for element in comp.data:
            sub = comp.table(element)
            fractions = {}
            for a_text in sub.data:
                if not a_text.isdigit():
                    raise InputError(
                        f'{sub.where(a_text)}: isotope keys must be mass numbers, e.g. "76"'
                    )
                fractions[int(a_text)] = sub.number(a_text, nonneg=True)
            composition[element] = fractions
    try:
        return make_target(formula, composition)
    except InputError as exc:
        raise InputError(f"{top.where('target')}: {exc}") from None


def _source_file(t: ConfigTable) -> Path:
    """``[source] file``: a path relative to the model file, a shipped source's name ("sns") or
    a shipped source's file name (a model copied to another folder keeps finding it)."""
    text = t.string("file")
    path = source_file_for_model(text, t.path)
    if path is None:
        shipped = ", ".join(m.name for m in shipped_models("source"))
        raise InputError(
            f"{t.where('file')} = {text!r}: no such file next to the model and no shipped "
            f"source of that name (shipped: {shipped})"
        )
    return path


def _read_source(t: ConfigTable) -> tuple[Source, Path]:
    t.allow(("file", "distance_m", "nu_per_flavour_per_proton", "flux_uncertainty"))
    source_path = _source_file(t)
    try:
        source = load_source(source_path)
    except InputError as exc:  # name the model's key that points at the bad source file
        raise InputError(f"{t.where('file')}: {exc}") from None
    if t.has("distance_m"):
        source = source.at_distance(t.number("distance_m", positive=True))
    if t.has("nu_per_flavour_per_proton"):
        r_new = t.number("nu_per_flavour_per_proton", positive=True)
        r_old = source.parameters.get("nu_per_flavour_per_proton")
        if r_old is None:
            raise InputError(
                f"{t.where('nu_per_flavour_per_proton')}: the source "
                f"{source_path.name} is not a pion_dar source"
            )
        params = dict(source.parameters, nu_per_flavour_per_proton=r_new)
        source = replace(source.scaled(r_new / r_old), parameters=params)
    if t.has("flux_uncertainty"):
        # a relative 1σ of 100 % would make pyhf's normsys "down" variation zero (NaN, pyhf #2379)
        unc = t.number("flux_uncertainty", nonneg=True, maximum=MAX_RELATIVE_SIGMA)
        source = replace(source, flux_uncertainty=unc)
    return source, source_path


def _read_array(
    t: ConfigTable, source: Source
) -> tuple[int, float, int, float, float, float | None]:
    t.allow(
        (
            "n_sensors",
            "sensor_mass_kg",
            "mass_kg",
            "channels_per_sensor",
            "live_time_yr",
            "beam_exposure_GWhr",
        )
    )
    n = t.integer("n_sensors", 1)
    if t.has("sensor_mass_kg"):
        sensor = t.number("sensor_mass_kg", positive=True)
        mass = n * sensor
        if t.has("mass_kg") and not math.isclose(
            t.number("mass_kg", positive=True), mass, rel_tol=1e-6
        ):
            raise InputError(
                f"{t.where('mass_kg')}: must equal n_sensors × sensor_mass_kg = {mass:g} "
                "(give one of mass_kg, sensor_mass_kg)"
            )
    else:
        mass = t.number("mass_kg", positive=True)
        sensor = mass / n
    channels_per_sensor = t.integer("channels_per_sensor", 1)
    if t.has("live_time_yr") == t.has("beam_exposure_GWhr"):
        raise InputError(
            f"{t.where('live_time_yr')}: give exactly one of live_time_yr (years) and "
            "beam_exposure_GWhr (GW·hr of beam, π-DAR sources)"
        )
    gwhr = None
    if t.has("live_time_yr"):
        live_yr = t.number("live_time_yr", positive=True)
    else:
        gwhr = t.number("beam_exposure_GWhr", positive=True)
        power = source.parameters.get("power_MW")
        if power is None:
            raise InputError(
                f"{t.where('beam_exposure_GWhr')}: needs a source with a beam power "
                f"(power_MW); source {source.name!r} has none, give live_time_yr"
            )
        # Live time at the source's nominal power that delivers this beam energy.
        live_yr = gwhr * 1e3 / power / HOURS_PER_DAY / DAYS_PER_YEAR
    return n, sensor, channels_per_sensor, mass, live_yr, gwhr


def _read_cost(t: ConfigTable | None) -> CostModel:
    if t is None:
        return CostModel(note="no cost given")
    t.allow(("material_usd_per_kg", "usd_per_channel", "note"))
    return CostModel(
        material_usd_per_kg=t.number("material_usd_per_kg", 0.0, nonneg=True),
        usd_per_channel=t.number("usd_per_channel", 0.0, nonneg=True),
        note="assumption: " + t.string("note", "no source given"),
    )


def _read_analysis(t: ConfigTable) -> tuple[str, float, np.ndarray, str, int, int]:
    t.allow(
        (
            "observable",
            "light_yield_PE_per_keVee",
            "edges",
            "bin_min",
            "bin_max",
            "bin_width",
            "form_factor",
            "fine_bins_per_bin",
            "true_bins",
            "channel",
            "time",
            "psd",
        )
    )
    observable = t.string("observable", allowed=OBSERVABLES)
    gain = 1.0
    if observable == "PE":
        gain = t.number("light_yield_PE_per_keVee", positive=True)
    elif t.has("light_yield_PE_per_keVee"):
        raise InputError(f"{t.where('light_yield_PE_per_keVee')}: only for observable = 'PE'")
    edges = read_edges(t)
    form_factor = t.string("form_factor", "helm", allowed=FORM_FACTORS)
    # Poisson PE counts are integers: sub-dividing a 1-PE bin adds nothing.
    fine = t.integer("fine_bins_per_bin", 1 if observable == "PE" else 4)
    n_true = t.integer("true_bins", 300, minimum=50)
    return observable, gain, edges, form_factor, fine, n_true


def recoil_endpoint_note(model) -> str | None:
    """A note when the model's threshold lies above the largest nuclear recoil its source can
    give (e.g. a Ge detector with a 19 keVnr threshold at a reactor, E_ν ≤ 10 MeV: at most
    ≈ 3 keVnr): whatever signal is left comes from resolution tails only, so Z ≈ 0 is not a
    statement about the detector's sensitivity but about its threshold."""
    from cevns_fit.cross_section import recoil_max_keVnr

    if not all(hasattr(model, a) for a in ("source", "target", "threshold_keVnr")):
        return None  # a stand-in model (tests) or one without a recoil threshold
    enu_max = max(
        (float(np.max(c.enu_MeV[c.weights > 0])) for c in model.source.components),
        default=0.0,
    )
    if enu_max <= 0:
        return None
    endpoint = float(np.max(recoil_max_keVnr(enu_max, model.target.mass_GeV)))
    threshold = float(model.threshold_keVnr)
    if threshold <= endpoint:
        return None
    return (
        f"threshold {threshold:.4g} keVnr is above the largest recoil {endpoint:.4g} keVnr of "
        f"{model.target.name} from {model.source.name} (E_nu up to {enu_max:.4g} MeV): "
        "any signal left comes from resolution tails only"
    )
