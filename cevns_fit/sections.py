"""The analysis sections of a detector model file: time and PSD axes, backgrounds, observations.

Read once at the edge by :func:`cevns_fit.detector.load_detector_model`; every error names the
file and the key. The keys (all optional unless marked)::

    [analysis.time]            an arrival-time axis (µs on the data's time axis)
      edges = [...]  or  bin_min, bin_max, bin_width          (required)
      t0_us                    where the source's time zero (pulse centre) falls (default 0)
      t0_sigma_us              1σ of that offset: a "timing" nuisance moving every beam-timed
                               template (signal, beam and neutrino-induced backgrounds)
      signal_pdf.prompt        arrival-time table of prompt neutrinos, a table entry (below);
      signal_pdf.delayed       ... delayed; without them the source's pulse model is used
      efficiency = {x_us = [...], values = [...]}   timing efficiency (linear interpolation)

    [analysis.psd]             a pulse-shape axis
      name                     e.g. "F90" (labels only)
      edges = [...] or bin_min, bin_max, bin_width            (required)
      nuclear                  P(psd | energy) or P(psd) of nuclear recoils (required)
      electron                 the same for electron recoils (backgrounds with psd = "electron")

    [[backgrounds]]
      name, kind = steady_state | beam | neutrino_induced | tabulated    (required)
      rate_per_kg_day          flat in energy: counts / observable unit / kg / live day, or
      file, columns, layout, matrix_axes, matrix_edges               a table entry (below)
      file_units = counts | per_GWhr | per_kg_day                    (with a file)
      time = flat | prompt | delayed | table | {table entry}   shape in time (default: the
                               table's time column, else prompt for beam/neutrino_induced, flat)
      psd = flat | nuclear | electron | table | {table entry}  shape in psd (default: the table's
                               psd column, else nuclear for beam/neutrino_induced, else flat)
      time_window_us = [lo, hi]  a time column summed over this window (analysis without time)
      time_max_us              the same as [first edge, time_max_us]
      duty_factor              number or "source" (repetition rate × the time window)
      norm_uncertainty, norm_model = linear | lognormal           normsys (σ >= 1: lognormal)
      target_events            rescale to this many events at the model's exposure
      constrained_by, control_ratio, free_per_energy_bin          a control channel
      apply_efficiency, note
      [[backgrounds.systematics]]  name, down, up: ±1σ tables (file names or table entries)
                               of the same layout and units as the nominal (histosys)

    [signal]                   a tabulated CEvNS prediction replacing the computed one
      file, columns, file_units, time, psd, apply_efficiency (default false), systematics
                               as for a background; μ and the flux uncertainty still apply

    [[observations]]           measured data shipped with the model
      channel, file, columns, layout, ...                         a table entry of counts

A *table entry* is a file name, or a table ``{file = "...", columns = [...], layout = "rows" |
"matrix", matrix_axes = [...], matrix_edges = {axis = [...]}}`` (formats in
:mod:`cevns_fit.tables`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cevns_fit.axes import TIMING_CLASSES, PSDAxis, TimeAxis
from cevns_fit.backgrounds import BACKGROUND_KINDS, NORM_MODELS, Background, default_time_shape
from cevns_fit.config import ConfigTable
from cevns_fit.constants import DAYS_PER_YEAR, HOURS_PER_DAY
from cevns_fit.errors import InputError
from cevns_fit.tables import AXIS_NAMES, Histogram, read_matrix, read_table

__all__ = [
    "Observation",
    "read_edges",
    "read_table_entry",
    "read_time_axis",
    "read_psd_axis",
    "read_backgrounds",
    "read_signal_table",
    "read_observations",
]

_TABLE_KEYS = ("file", "columns", "layout", "matrix_axes", "matrix_edges")


# Bins per analysis axis: far more than any spectrum needs, few enough that the response
# (true bins × fine bins) stays in memory; a typo such as bin_max = 1.7e9 is refused, not
# allocated (hypothesis found 3.4e9 bins, 25 GiB).
MAX_BINS = 20_000


def read_edges(t: ConfigTable, *, nonneg: bool = True) -> np.ndarray:
    """Bin edges from ``edges = [...]`` or ``bin_min``/``bin_max``/``bin_width``."""
    if t.has("edges"):
        if any(t.has(k) for k in ("bin_min", "bin_max", "bin_width")):
            raise InputError(
                f"{t.where('edges')}: give edges or bin_min/bin_max/bin_width, not both"
            )
        edges = t.numbers("edges", min_length=2, increasing=True)
        if len(edges) - 1 > MAX_BINS:
            raise InputError(
                f"{t.where('edges')}: {len(edges) - 1} bins; at most {MAX_BINS} bins per axis"
            )
    else:
        lo = t.number("bin_min", nonneg=nonneg)
        hi = t.number("bin_max")
        width = t.number("bin_width", positive=True)
        if hi <= lo:
            raise InputError(f"{t.where('bin_max')} = {hi}: must be > bin_min = {lo}")
        n = round((hi - lo) / width)
        if n < 1 or not math.isclose(n * width, hi - lo, rel_tol=1e-9):
            raise InputError(f"{t.where('bin_width')} = {width}: must divide bin_max - bin_min")
        if n > MAX_BINS:
            raise InputError(
                f"{t.where('bin_width')} = {width}: gives {n} bins from {lo:g} to {hi:g}; "
                f"at most {MAX_BINS} bins per axis"
            )
        edges = np.linspace(lo, hi, n + 1)
    if nonneg and edges[0] < 0:
        raise InputError(f"{t.where('edges')}: must be >= 0")
    return edges


def read_table_entry(
    parent: ConfigTable,
    key: str | None,
    *,
    what: str,
    value_range: tuple[float, float] = (0.0, math.inf),
) -> Histogram:
    """A table from ``parent[key]`` (a file name or a table entry), or from the table keys of
    ``parent`` itself when ``key`` is None."""
    if key is not None and isinstance(parent.data.get(key), str):
        return read_table(parent.file(key), None, what=what, value_range=value_range)
    t = parent if key is None else parent.table(key)
    if key is not None:
        t.allow(_TABLE_KEYS)
    path = t.file("file")
    layout = t.string("layout", "rows", allowed=("rows", "matrix"))
    if layout == "matrix":
        axes = t.data.get("matrix_axes")
        if not (isinstance(axes, list) and len(axes) == 2 and all(a in AXIS_NAMES for a in axes)):
            raise InputError(
                f"{t.where('matrix_axes')}: a matrix needs two axes out of {list(AXIS_NAMES)} "
                "(rows first)"
            )
        me = t.table("matrix_edges")
        edges = tuple(me.numbers(a, min_length=2, increasing=True) for a in axes)
        return read_matrix(path, tuple(axes), edges, what=what, value_range=value_range)
    columns = None
    if t.has("columns"):
        columns = t.data["columns"]
        if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
            raise InputError(f"{t.where('columns')}: must be a list of column names")
        columns = [c.strip().lower() for c in columns]
    return read_table(path, columns, what=what, value_range=value_range)


def _check_axes(hist: Histogram, allowed: tuple[str, ...], where: str) -> Histogram:
    extra = [a for a in hist.axes if a not in allowed]
    if extra:
        raise InputError(f"{where}: a column {extra[0]!r} is not allowed here (allowed: {allowed})")
    return hist


def read_time_axis(t: ConfigTable) -> TimeAxis:
    """``[analysis.time]`` (module docstring)."""
    t.allow(
        (
            "edges",
            "bin_min",
            "bin_max",
            "bin_width",
            "t0_us",
            "t0_sigma_us",
            "signal_pdf",
            "efficiency",
        )
    )
    edges = read_edges(t, nonneg=False)
    pdfs = {}
    spec = t.optional_table("signal_pdf")
    if spec is not None:
        spec.allow(TIMING_CLASSES)
        for timing in TIMING_CLASSES:
            if spec.has(timing):
                hist = read_table_entry(
                    spec, timing, what=f"arrival-time table ({timing})", value_range=(0, 1)
                )
                _check_axes(hist, ("time",), spec.where(timing))
                total = hist.total
                if not 0.5 < total < 1.5:
                    raise InputError(
                        f"{spec.where(timing)}: probabilities sum to {total:.3g}; an arrival-time "
                        "PDF gives the probability per time bin (sum about 1)"
                    )
                pdfs[timing] = hist
    eff_x = eff_v = None
    eff = t.optional_table("efficiency")
    if eff is not None:
        eff.allow(("x_us", "values"))
        eff_x = eff.numbers("x_us", min_length=2, increasing=True)
        eff_v = eff.numbers("values", min_length=2)
        if len(eff_v) != len(eff_x) or np.any(eff_v < 0) or np.any(eff_v > 1):
            raise InputError(f"{eff.where('values')}: one efficiency in [0, 1] per x_us entry")
    return TimeAxis(
        edges_us=edges,
        t0_us=t.number("t0_us", 0.0),
        t0_sigma_us=t.number("t0_sigma_us", 0.0, nonneg=True),
        signal_pdfs=pdfs,
        efficiency_x_us=eff_x,
        efficiency_values=eff_v,
    )


def read_psd_axis(t: ConfigTable) -> PSDAxis:
    """``[analysis.psd]`` (module docstring)."""
    t.allow(("name", "edges", "bin_min", "bin_max", "bin_width", "nuclear", "electron"))
    edges = read_edges(t, nonneg=False)
    tables = {}
    for which in ("nuclear", "electron"):
        if which == "nuclear" or t.has(which):
            hist = read_table_entry(t, which, what=f"psd table ({which} recoils)")
            tables[which] = _check_axes(hist, ("energy", "psd"), t.where(which))
            if not hist.has("psd"):
                raise InputError(f"{t.where(which)}: the table needs a 'psd' column")
    axis = PSDAxis(
        name=t.string("name", "psd"),
        edges=edges,
        nuclear=tables["nuclear"],
        electron=tables.get("electron"),
    )
    return axis


def _shape(t: ConfigTable, key: str, allowed: tuple[str, ...], default, what: str):
    if not t.has(key):
        return default
    if isinstance(t.data[key], dict):
        return read_table_entry(t, key, what=what)
    return t.string(key, allowed=allowed)


def _units_factor(t: ConfigTable, units: str, source, mass_kg: float, live_days: float) -> float:
    """Factor turning a table in ``units`` into counts per kg per live day."""
    if units == "counts":  # measured at this model's exposure
        return 1.0 / (mass_kg * live_days)
    if units == "per_GWhr":
        power = source.parameters.get("power_MW")
        if power is None:
            raise InputError(f"{t.where('file_units')} = 'per_GWhr': the source has no power_MW")
        return power * 1e-3 * HOURS_PER_DAY / mass_kg
    return 1.0  # per_kg_day


def read_backgrounds(
    top: ConfigTable,
    source,
    mass_kg: float,
    live_yr: float,
    *,
    time_axis: TimeAxis | None,
    psd_axis: PSDAxis | None,
    main_channel: str,
) -> tuple[Background, ...]:
    """``[[backgrounds]]`` (module docstring), converted to counts per kg per live day."""
    raw = top.data.get("backgrounds", [])
    if not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        raise InputError(
            f"{top.where('backgrounds')}: must be an array of tables ([[backgrounds]])"
        )
    out, names = [], set()
    for i, entry in enumerate(raw):
        t = ConfigTable(top.path, entry, f"backgrounds[{i}].")
        bkg = _read_one_background(
            t, source, mass_kg, live_yr, time_axis=time_axis, psd_axis=psd_axis
        )
        if bkg.name in names or bkg.name == "cevns":
            raise InputError(
                f"{t.where('name')} = {bkg.name!r}: background names must be unique and not 'cevns'"
            )
        names.add(bkg.name)
        if bkg.constrained_by == main_channel:
            raise InputError(
                f"{t.where('constrained_by')} = {bkg.constrained_by!r}: a control channel "
                "needs its own name, not the main channel's"
            )
        out.append(bkg)
    return tuple(out)


def read_signal_table(
    top: ConfigTable,
    source,
    mass_kg: float,
    live_yr: float,
    *,
    time_axis: TimeAxis | None,
    psd_axis: PSDAxis | None,
) -> Background | None:
    """``[signal]``: an optional tabulated CEvNS prediction (e.g. a data release's own) that
    replaces the computed one; keys as a tabulated background's (file, columns, file_units,
    time, psd, apply_efficiency (default false), systematics), no normalisation keys: the
    signal keeps μ and the source's flux uncertainty."""
    t = top.optional_table("signal")
    if t is None:
        return None
    allowed = (*_TABLE_KEYS, "file_units", "time", "psd", "time_window_us", "time_max_us")
    t.allow((*allowed, "apply_efficiency", "systematics", "note"))
    if not t.has("file"):
        raise InputError(f"{t.where('file')}: [signal] needs a table file")
    data = dict(t.data, name="cevns", kind="tabulated")
    data.setdefault("apply_efficiency", False)
    inner = ConfigTable(t.path, data, t.prefix)
    return _read_one_background(
        inner, source, mass_kg, live_yr, time_axis=time_axis, psd_axis=psd_axis, signal=True
    )


def _read_systematics(
    t: ConfigTable, table: Histogram, factor: float, what: str
) -> dict[str, tuple[Histogram, Histogram]]:
    """``[[backgrounds.systematics]]``: ±1σ tables with the nominal table's axes and bins, in
    its units (scaled by the same ``factor``)."""
    raw = t.data.get("systematics", [])
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise InputError(f"{t.where('systematics')}: must be an array of tables")
    out = {}
    for k, entry in enumerate(raw):
        s = ConfigTable(t.path, entry, f"{t.prefix}systematics[{k}].")
        s.allow(("name", "down", "up"))
        name = s.string("name")
        pair = []
        for side in ("down", "up"):
            hist = read_table_entry(s, side, what=f"{what} ({name} {side})").scaled(factor)
            if hist.axes != table.axes or not all(
                np.allclose(a, b) for a, b in zip(hist.edges, table.edges, strict=True)
            ):
                raise InputError(f"{s.where(side)}: must have the nominal table's axes and bins")
            pair.append(hist)
        out[name] = (pair[0], pair[1])
    return out


def _read_one_background(
    t: ConfigTable,
    source,
    mass_kg: float,
    live_yr: float,
    *,
    time_axis: TimeAxis | None,
    psd_axis: PSDAxis | None,
    signal: bool = False,
) -> Background:
    """One ``[[backgrounds]]`` entry (or the ``[signal]`` table)."""
    live_days = live_yr * DAYS_PER_YEAR
    t.allow(
        (
            "name",
            "kind",
            "rate_per_kg_day",
            *_TABLE_KEYS,
            "file_units",
            "time",
            "psd",
            "time_window_us",
            "time_max_us",
            "duty_factor",
            "norm_uncertainty",
            "norm_model",
            "target_events",
            "constrained_by",
            "control_ratio",
            "free_per_energy_bin",
            "apply_efficiency",
            "systematics",
            "note",
        )
    )
    name = t.string("name")
    kind = t.string("kind", allowed=BACKGROUND_KINDS)
    if t.has("rate_per_kg_day") == t.has("file"):
        raise InputError(
            f"{t.where('rate_per_kg_day')}: give exactly one of rate_per_kg_day "
            "(flat, counts per observable unit per kg per day) and file"
        )
    flat_rate, table, systematics = None, None, {}
    if t.has("rate_per_kg_day") and t.has("systematics"):
        raise InputError(f"{t.where('systematics')}: needs a tabulated background (file)")
    if t.has("rate_per_kg_day"):
        flat_rate = t.number("rate_per_kg_day", nonneg=True)
    else:
        what = "signal table" if signal else f"background {name!r} table"
        table = read_table_entry(t, None, what=what)
        if not table.has("energy"):
            raise InputError(f"{t.where('columns')}: a background table needs an energy column")
        if table.has("psd") and psd_axis is None:
            raise InputError(f"{t.where('columns')}: a psd column needs [analysis.psd]")
        units = t.string("file_units", allowed=("counts", "per_GWhr", "per_kg_day"))
        factor = _units_factor(t, units, source, mass_kg, live_days)
        table = table.scaled(factor)
        systematics = _read_systematics(t, table, factor, what)
    # Shapes along the axes the table lacks.
    has_time = table is not None and table.has("time")
    has_psd = table is not None and table.has("psd")
    time_shape = _shape(
        t,
        "time",
        ("flat", "prompt", "delayed", "table"),
        "table" if has_time else default_time_shape(kind),
        f"background {name!r} time shape",
    )
    if time_shape == "table" and not has_time:
        raise InputError(f"{t.where('time')} = 'table': the table has no time column")
    psd_default = "table" if has_psd else ("nuclear" if kind != "steady_state" else "flat")
    psd_shape = _shape(
        t, "psd", ("flat", "nuclear", "electron", "table"), psd_default, f"{name} psd shape"
    )
    if psd_shape == "table" and not has_psd:
        raise InputError(f"{t.where('psd')} = 'table': the table has no psd column")
    if psd_axis is not None and isinstance(psd_shape, str) and psd_shape == "electron":
        psd_axis.table("electron")  # exists, or a clear error now
    if psd_axis is None and t.has("psd"):
        raise InputError(f"{t.where('psd')}: the analysis has no [analysis.psd] axis")
    if time_axis is None and t.has("time") and not isinstance(time_shape, str):
        raise InputError(f"{t.where('time')}: the analysis has no [analysis.time] axis")
    window = None
    if t.has("time_window_us") or t.has("time_max_us"):
        if not has_time:
            raise InputError(f"{t.where('time_window_us')}: the table has no time column")
        if t.has("time_window_us"):
            w = t.numbers("time_window_us", min_length=2, increasing=True)
            window = (float(w[0]), float(w[1]))
        else:
            window = (float(table.edges_of("time")[0]), t.number("time_max_us", positive=True))
    duty = 1.0
    if t.has("duty_factor"):
        if t.data["duty_factor"] == "source":
            rate = getattr(source.timing, "repetition_rate_Hz", None)
            if source.duty_factor is None and not (rate and time_axis is not None):
                raise InputError(
                    f"{t.where('duty_factor')} = 'source': the source has no "
                    "timing window; give a number"
                )
            # With a time axis the analysis window is the axis; else the source's window.
            duty = rate * time_axis.window_us * 1e-6 if time_axis else source.duty_factor
        else:
            duty = t.number("duty_factor", positive=True, maximum=1.0)
    if t.has("norm_uncertainty") and t.has("constrained_by"):
        raise InputError(
            f"{t.where('constrained_by')}: give norm_uncertainty or constrained_by, not both"
        )
    sigma = t.number("norm_uncertainty", 0.0, nonneg=True)
    norm_model = t.string(
        "norm_model", "lognormal" if sigma >= 1 else "linear", allowed=NORM_MODELS
    )
    if norm_model == "linear" and sigma >= 1:
        raise InputError(
            f"{t.where('norm_uncertainty')} = {sigma:g}: a linear 1 ± σ normalisation "
            "goes negative; use norm_model = 'lognormal' for σ >= 1"
        )
    constrained = t.string("constrained_by") if t.has("constrained_by") else None
    per_bin = t.boolean("free_per_energy_bin", False)
    if per_bin and constrained is None:
        raise InputError(f"{t.where('free_per_energy_bin')}: needs constrained_by (a control)")
    target = t.number("target_events", positive=True) if t.has("target_events") else None
    bkg = Background(
        name=name,
        kind=kind,
        flat_rate=flat_rate,
        table=table,
        time_shape=time_shape,
        psd_shape=psd_shape,
        time_window_us=window,
        norm_uncertainty=sigma,
        norm_model=norm_model,
        constrained_by=constrained,
        control_ratio=t.number("control_ratio", 1.0, positive=True),
        free_per_energy_bin=per_bin,
        apply_efficiency=t.boolean("apply_efficiency", True),
        target_events=target,
        systematics=systematics,
        note=t.string("note", ""),
    )
    return bkg.scaled(duty) if duty != 1.0 else bkg


@dataclass(frozen=True)
class Observation:
    """Measured counts of one channel, as read from the model's ``[[observations]]``."""

    channel: str
    table: Histogram
    path: Path

    def to_dict(self) -> dict:
        return {"channel": self.channel, "file": str(self.path), "axes": list(self.table.axes)}


def read_observations(top: ConfigTable) -> tuple[Observation, ...]:
    """``[[observations]]``: measured data files per channel (module docstring)."""
    raw = top.data.get("observations", [])
    if not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        raise InputError(f"{top.where('observations')}: must be an array of tables")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        t = ConfigTable(top.path, entry, f"observations[{i}].")
        t.allow(("channel", *_TABLE_KEYS))
        channel = t.string("channel")
        if channel in seen:
            raise InputError(f"{t.where('channel')} = {channel!r}: given twice")
        seen.add(channel)
        hist = read_table_entry(t, None, what=f"observed data ({channel})")
        if np.any(hist.values != np.round(hist.values)):
            raise InputError(f"{t.where('file')}: observed counts must be whole numbers")
        out.append(Observation(channel, hist, t.file("file")))
    return tuple(out)
