"""Detector model files: :func:`load_detector_model` reads a TOML model and validates it once.

This is the edge: every error is an :class:`~cevns_fit.errors.InputError` naming the file, the
key and what is allowed; everything downstream trusts the :class:`DetectorModel` it returns.
The top-level tables (target, source, array, cost, the energy axis) are read here; the response
tables in :mod:`cevns_fit.response_sections`, the analysis axes, backgrounds, observations and
tabulated signal in :mod:`cevns_fit.sections`, the physics in :mod:`cevns_fit.physics_model`.
The schema is in the docstring of :mod:`cevns_fit.detector`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np

from cevns_fit.config import ConfigTable
from cevns_fit.constants import DAYS_PER_YEAR, HOURS_PER_DAY
from cevns_fit.detector.model import CostModel, DetectorModel
from cevns_fit.errors import InputError
from cevns_fit.physics_model import read_physics
from cevns_fit.registry import shipped_models, source_file_for_model
from cevns_fit.response_checks import check_response
from cevns_fit.response_sections import read_efficiency, read_quenching, read_resolution
from cevns_fit.sections import (
    read_backgrounds,
    read_edges,
    read_observations,
    read_psd_axis,
    read_signal_table,
    read_time_axis,
)
from cevns_fit.sources import Source, load_source
from cevns_fit.targets import Target, make_target

__all__ = ["load_detector_model"]

OBSERVABLES = ("keVee", "PE")
FORM_FACTORS = ("helm", "klein-nystrand", "none")
# Largest relative 1σ of a normalisation (normsys): its "down" variation 1 − σ must stay > 0.
MAX_RELATIVE_SIGMA = 0.99


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
    _check_size(analysis, len(edges) - 1, fine, n_true, time_axis, psd_axis)
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


# Sizes the templates and the response may reach: ~100 MB of float64 each at most.
MAX_ANALYSIS_BINS = 1_000_000
MAX_RESPONSE_CELLS = 20_000_000


def _check_size(t: ConfigTable, n_energy: int, fine: int, n_true: int, time_axis, psd_axis):
    """Refuse an analysis whose templates (bins over all axes) or response matrix (true bins
    × fine observable bins) would not fit in memory, naming the keys that set it."""
    n_time = 0 if time_axis is None else len(time_axis.edges_us) - 1
    n_psd = 0 if psd_axis is None else len(psd_axis.edges) - 1
    total = n_energy * max(n_time, 1) * max(n_psd, 1)
    if total > MAX_ANALYSIS_BINS:
        key = "edges" if t.has("edges") else "bin_width"
        raise InputError(
            f"{t.where(key)}: {n_energy} energy × {max(n_time, 1)} time × {max(n_psd, 1)} "
            f"psd bins = {total}; at most {MAX_ANALYSIS_BINS} in all"
        )
    cells = n_true * n_energy * fine
    if cells > MAX_RESPONSE_CELLS:
        raise InputError(
            f"{t.where('true_bins')} × bins × fine_bins_per_bin = {n_true} × {n_energy} × "
            f"{fine} = {cells}: the response would not fit in memory (at most "
            f"{MAX_RESPONSE_CELLS})"
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
    fine = t.integer("fine_bins_per_bin", 1 if observable == "PE" else 4, maximum=1000)
    n_true = t.integer("true_bins", 300, minimum=50, maximum=100_000)
    return observable, gain, edges, form_factor, fine, n_true
