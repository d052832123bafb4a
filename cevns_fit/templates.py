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
  e.g. ``{"flux": 0.10}``, i.e. factors 1 ∓ σ) or to explicit (down, up) factors (a
  log-normal (1/(1 + σ), 1 + σ) for σ >= 1); ``shape_sys`` maps a parameter name to the
  (down, up) templates rebuilt at ∓1σ/±1σ of that parameter (histosys, e.g.
  ``"quenching"``, ``"threshold"``, ``"resolution"``); ``stat_error`` is an absolute per-bin
  template uncertainty (staterror).
* Every count scales linearly with exposure (signal and backgrounds are per kg per unit
  time), so :meth:`AnalysisTemplates.scaled_to` rescales a model without rebuilding it.
  Observed data are never rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

__all__ = ["Sample", "BinAxis", "Channel", "AnalysisTemplates", "SIGNAL_POI"]

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


# ================================================================================================
# Template builders: detector model -> expected counts per bin (nominal and ±1σ variations).
#
# CEvNS per flux component: true-recoil rates (rates.py) through the response matrix
# (response.py) give an energy template E_c; with a time axis it is spread by the component's
# arrival-time probabilities T_c (axes.py: the source's pulse model shifted by t0, or the
# model's tabulated PDFs) and with a PSD axis by the nuclear-recoil P(psd | energy bin):
# counts_c[e, t, p] = E_c[e] T_c[t] P[e, p]. Backgrounds come from their tables or flat rates
# (backgrounds.py). Channels are flattened energy-major for pyhf.
# ================================================================================================

import math  # noqa: E402  (builders below the interface dataclasses, see the note above)

from cevns_fit.constants import DAYS_PER_YEAR  # noqa: E402
from cevns_fit.detector import DetectorModel  # noqa: E402
from cevns_fit.errors import InputError  # noqa: E402
from cevns_fit.physics_templates import physics_energy_variations  # noqa: E402
from cevns_fit.response import (  # noqa: E402
    fine_edges,
    rebin,
    recoil_counts_per_kg_day,
    response_matrix,
    response_variations,
    true_recoil_edges_keVnr,
    variation_settings,
)

__all__ += [
    "SignalTemplate",
    "true_recoil_edges_keVnr",
    "recoil_counts_per_kg_day",
    "response_matrix",
    "response_variations",
    "signal_templates_by_component",
    "background_templates",
    "beam_window_fractions",
    "axis_spreads",
    "build_templates",
]

_AXIS_LABELS = {"time": "arrival time (µs)"}


@dataclass(frozen=True)
class SignalTemplate:
    """CEvNS counts of one flux component per analysis bin at ``exposure_kg_yr``.

    ``variations`` maps "quenching", "threshold", "resolution" (those with a 1σ) to the
    (down, up) templates at −1σ/+1σ of that parameter; ``timing`` is the component's
    "prompt"/"delayed"/None, for energy × arrival-time analyses."""

    component: str
    timing: str | None
    bin_edges: np.ndarray
    nominal: np.ndarray
    variations: dict[str, tuple[np.ndarray, np.ndarray]]
    exposure_kg_yr: float

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "timing": self.timing,
            "bin_edges": self.bin_edges,
            "nominal": self.nominal,
            "variations": {k: {"down": lo, "up": hi} for k, (lo, hi) in self.variations.items()},
            "exposure_kg_yr": self.exposure_kg_yr,
        }


def _kg_days(model: DetectorModel, exposure_kg_yr: float | None) -> tuple[float, float]:
    exposure = model.exposure_kg_yr if exposure_kg_yr is None else float(exposure_kg_yr)
    if not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"exposure_kg_yr = {exposure_kg_yr!r}: must be a positive finite number")
    return exposure, exposure * DAYS_PER_YEAR


def signal_templates_by_component(
    model: DetectorModel,
    *,
    exposure_kg_yr: float | None = None,
    bin_edges: np.ndarray | None = None,
) -> dict[str, SignalTemplate]:
    """Nominal and ±1σ CEvNS templates per flux component (e.g. prompt ν_μ, delayed ν_e,
    delayed ν̄_μ), in the model's observable bins or ``bin_edges``, at ``exposure_kg_yr``
    (default: the model's). Counts are events per bin after quenching, smearing and efficiency."""
    exposure, kg_days = _kg_days(model, exposure_kg_yr)
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    true_edges = true_recoil_edges_keVnr(model)
    recoils = recoil_counts_per_kg_day(model, true_edges)
    nominal_m, variation_m = response_variations(model, true_edges, edges)
    timing = {c.name: c.timing for c in model.source.components}
    out = {}
    for name, r in recoils.items():
        out[name] = SignalTemplate(
            component=name,
            timing=timing[name],
            bin_edges=edges,
            nominal=kg_days * (r @ nominal_m),
            variations={
                k: (kg_days * (r @ lo), kg_days * (r @ hi)) for k, (lo, hi) in variation_m.items()
            },
            exposure_kg_yr=exposure,
        )
    return out


def _discrete(model: DetectorModel) -> bool:
    return model.resolution.kind == "counting"


def background_templates(
    model: DetectorModel,
    *,
    exposure_kg_yr: float | None = None,
    bin_edges: np.ndarray | None = None,
    backgrounds: tuple | None = None,
) -> dict[str, tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """Expected background counts per analysis bin on every axis (energy[, time][, psd]),
    {name: (nominal, {"threshold": (down, up), <table systematics>: (down, up)})}.

    Backgrounds are given in the observable, so only the efficiency (and its threshold
    variation) acts on them, on the same fine bins as the signal's. ``target_events``
    rescales a background to that many events at the model's exposure. ``backgrounds``
    defaults to the model's (a tabulated signal is binned the same way)."""
    exposure, kg_days = _kg_days(model, exposure_kg_yr)
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    thr = variation_settings(model).get("threshold")
    efficiencies = {"nominal": model.efficiency}
    if thr is not None:
        efficiencies.update(down=thr[0]["efficiency"], up=thr[1]["efficiency"])
    axes = {"time_axis": model.time_axis, "psd_axis": model.psd_axis}

    def binned(bkg, eff, time_shift_us: float = 0.0) -> np.ndarray:
        fine, index = fine_edges(
            edges, eff, n_fine=model.fine_bins_per_bin, discrete=_discrete(model)
        )
        per_fine = bkg.fine_energy_counts(fine, **axes)
        if eff is not None:
            e = eff(0.5 * (fine[1:] + fine[:-1]))
            per_fine = per_fine * e.reshape((-1,) + (1,) * (per_fine.ndim - 1))
        energy = np.moveaxis(rebin(np.moveaxis(per_fine, 0, -1), index), -1, 0)
        time_axis = axes["time_axis"]
        if time_shift_us and time_axis is not None:
            time_axis = time_axis.shifted(time_shift_us)
        full = bkg.spread(
            energy,
            edges,
            source_timing=model.source.timing,
            time_axis=time_axis,
            psd_axis=axes["psd_axis"],
        )
        return kg_days * full

    out = {}
    for bkg in model.backgrounds if backgrounds is None else backgrounds:
        nominal_eff = efficiencies["nominal"] if bkg.apply_efficiency else None
        nominal = binned(bkg, nominal_eff)
        variations = {}
        if thr is not None and bkg.apply_efficiency:
            variations["threshold"] = (
                binned(bkg, efficiencies["down"]),
                binned(bkg, efficiencies["up"]),
            )
        sigma_t = 0.0 if model.time_axis is None else model.time_axis.t0_sigma_us
        if sigma_t > 0 and bkg.beam_timed:
            variations["timing"] = (
                binned(bkg, nominal_eff, -sigma_t),
                binned(bkg, nominal_eff, +sigma_t),
            )
        for name, (down, up) in bkg.systematics.items():
            variations[name] = (
                binned(bkg.with_table(down), nominal_eff),
                binned(bkg.with_table(up), nominal_eff),
            )
        if bkg.target_events is not None:
            at_model = nominal.sum() * model.exposure_kg_yr / exposure
            if at_model <= 0:
                raise InputError(
                    f"{model.path}: background {bkg.name!r} has no events in the analysis "
                    "range to rescale to target_events"
                )
            factor = bkg.target_events / at_model
            nominal = nominal * factor
            variations = {k: (lo * factor, hi * factor) for k, (lo, hi) in variations.items()}
        out[bkg.name] = (nominal, variations)
    return out


def beam_window_fractions(model: DetectorModel) -> dict[str, float]:
    """Fraction of each flux component's CEvNS events inside the source's beam window.

    A pulsed source with a signal window (e.g. SNS: 6 µs after each pulse) reduces the
    steady-state background by its duty factor; the same window keeps only the neutrinos that
    arrive in it (SNS: all prompt ν_μ, ~93 % of the delayed ν_e, ν̄_μ). Steady sources and
    components without timing keep everything. (With a time axis the axis is the window:
    see :func:`axis_spreads`.)"""
    timing = model.source.timing
    return {
        c.name: 1.0 if timing is None or c.timing is None else _window_fraction(timing, c.timing)
        for c in model.source.components
    }


@lru_cache(maxsize=64)
def _window_fraction(timing, timing_class: str) -> float:
    """``timing.window_fraction`` once per (frozen, hashable) pulse timing and class: it
    integrates the pulse shape over the window (~0.5 ms), and a scan asks at every point."""
    return timing.window_fraction(timing_class)


def axis_spreads(
    model: DetectorModel, edges: np.ndarray, *, time_shift_us: float = 0.0
) -> dict[str, np.ndarray]:
    """Per flux component, the array that spreads its energy template over the other axes:
    shape (n_energy, [n_time], [n_psd]) — the arrival-time probabilities in each time bin and
    the nuclear-recoil P(psd | energy bin). Without time and psd axes it is the beam-window
    fraction, constant in energy."""
    kept = beam_window_fractions(model)
    n_e = len(edges) - 1
    psd = None
    if model.psd_axis is not None:
        psd = model.psd_axis.matrix(model.psd_axis.nuclear, edges)
    out = {}
    for c in model.source.components:
        spread = np.ones(n_e)
        if model.time_axis is not None:
            axis = model.time_axis.shifted(time_shift_us)
            t = axis.probabilities(c.timing, model.source.timing)
            spread = spread[:, None] * t[None, :]
        elif model.psd_axis is None:
            spread = spread * kept[c.name]
        if psd is not None:
            spread = spread[..., None] * (psd[:, None, :] if spread.ndim == 2 else psd)
        out[c.name] = spread
    return out


def _trim_slice(total: np.ndarray) -> slice:
    """Drop leading and trailing energy bins with no expected events (they carry no
    information and give zero-yield bins in the likelihood); interior empty bins are kept."""
    nonzero = np.flatnonzero(total > 0)
    if nonzero.size == 0:
        return slice(0, len(total))
    return slice(int(nonzero[0]), int(nonzero[-1]) + 1)


def _computed_signal(model: DetectorModel, exposure: float):
    """CEvNS from the cross-section and the response: (counts on every axis, variations)."""
    components = signal_templates_by_component(model, exposure_kg_yr=exposure)
    names = list(components)
    spreads = axis_spreads(model, model.bin_edges)
    signal = sum(_expand(components[n].nominal, spreads[n]) for n in names)
    var_names = list(components[names[0]].variations)
    signal_sys = {
        k: tuple(
            sum(_expand(components[n].variations[k][side], spreads[n]) for n in names)
            for side in (0, 1)
        )
        for k in var_names
    }
    # the beam-timing offset's ±1σ: every arrival earlier/later by t0_sigma_us
    sigma_t = 0.0 if model.time_axis is None else model.time_axis.t0_sigma_us
    if sigma_t > 0:
        shifted = [
            axis_spreads(model, model.bin_edges, time_shift_us=shift)
            for shift in (-sigma_t, sigma_t)
        ]
        signal_sys["timing"] = tuple(
            sum(_expand(components[n].nominal, s[n]) for n in names) for s in shifted
        )
    # [physics.nuisances]: templates recomputed at central ∓ 1σ of each physics parameter
    for k, sides in physics_energy_variations(model, exposure * DAYS_PER_YEAR).items():
        signal_sys[k] = tuple(sum(_expand(side[n], spreads[n]) for n in names) for side in sides)
    return signal, signal_sys


def _expand(energy: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """An energy template (n_energy,) times its spread over the other axes."""
    return energy.reshape((-1,) + (1,) * (spread.ndim - 1)) * spread


def build_templates(model: DetectorModel, exposure_kg_yr: float | None = None) -> AnalysisTemplates:
    """The analysis of a detector model as :class:`AnalysisTemplates` (at the model's exposure
    unless ``exposure_kg_yr`` is given).

    Main channel (``model.channel``), on the model's axes (energy[, time][, psd], flattened
    energy-major): sample "cevns" (norm_factor "mu", norm_sys {"flux": the source's relative
    1σ}, shape_sys "quenching"/"threshold"/"resolution" for those with a 1σ) and one sample
    per background (norm_sys "<name>_norm"; or, ``constrained_by`` a control measurement, a
    free norm_factor "<name>_norm" — one per energy bin, "<name>_bin<i>", with
    ``free_per_energy_bin`` — shared with a control channel of that name, which holds the
    constrained backgrounds × ``control_ratio`` summed over time; shape_sys "threshold" when
    the efficiency acts on it, and any ±1σ tables). Leading/trailing energy bins with no
    expected events are dropped (a note says so); with nothing expected at all every bin is
    kept, all zero, with a note (legal but empty)."""
    exposure, _ = _kg_days(model, exposure_kg_yr)
    if model.signal_table is not None:  # a tabulated prediction replaces the computed one
        signal, signal_sys = background_templates(
            model, exposure_kg_yr=exposure, backgrounds=(model.signal_table,)
        )["cevns"]
    else:
        signal, signal_sys = _computed_signal(model, exposure)
    backgrounds = background_templates(model, exposure_kg_yr=exposure)

    total = signal + sum((b[0] for b in backgrounds.values()), np.zeros_like(signal))
    energy_total = total.reshape(total.shape[0], -1).sum(axis=1)
    keep = _trim_slice(energy_total)
    notes = [
        f"model {model.name}: {model.target.name}, {model.mass_kg:g} kg, "
        f"{exposure:.6g} kg·yr, threshold {model.threshold:g} {model.observable} "
        f"(≈ {model.threshold_keVnr:.3g} keVnr)"
    ]
    if model.time_axis is not None:
        t = model.time_axis
        notes.append(
            f"arrival time {t.edges_us[0]:g}–{t.edges_us[-1]:g} µs in {t.n_bins} bins "
            f"(source time zero at {t.t0_us:g} µs)"
        )
    else:
        kept = beam_window_fractions(model)
        if any(f < 1.0 for f in kept.values()):
            window = model.source.timing.window_us
            notes.append(
                f"CEvNS counted in the {window:g} µs beam window: "
                + ", ".join(f"{n} {f:.3f}" for n, f in kept.items())
            )
    if not np.any(total > 0):
        notes.append("no events expected in the analysis range (threshold above every recoil?)")
    elif keep != slice(0, len(energy_total)):
        notes.append(
            f"dropped empty bins outside {model.bin_edges[keep.start]:g}–"
            f"{model.bin_edges[keep.stop]:g} {model.observable}"
        )
    edges = model.bin_edges[keep.start : keep.stop + 1]
    axes = [BinAxis("energy", edges, model.observable)]
    if model.time_axis is not None:
        axes.append(BinAxis("time", model.time_axis.edges_us, _AXIS_LABELS["time"]))
    if model.psd_axis is not None:
        axes.append(BinAxis("psd", model.psd_axis.edges, model.psd_axis.name))

    def cut(a: np.ndarray) -> np.ndarray:
        return np.asarray(a[keep], dtype=float)

    def flat(a: np.ndarray) -> np.ndarray:
        return cut(a).ravel()

    flux_unc = model.source.flux_uncertainty
    samples = [
        Sample(
            name="cevns",
            counts=flat(signal),
            norm_factor=SIGNAL_POI,
            norm_sys={"flux": flux_unc} if flux_unc > 0 else {},
            shape_sys={k: (flat(lo), flat(hi)) for k, (lo, hi) in signal_sys.items()},
        )
    ]
    control: dict[str, list[Sample]] = {}

    def to_control(sample_nd: Sample, ratio: float) -> Sample:
        """The same background summed over time (a control window has no beam timing)."""
        if model.time_axis is None:
            return sample_nd.scaled(ratio)
        shape = tuple(a.n_bins for a in axes)

        def t_sum(v):
            return np.asarray(v).reshape(shape).sum(axis=1).ravel() * ratio

        return replace(
            sample_nd,
            counts=t_sum(sample_nd.counts),
            shape_sys={k: (t_sum(lo), t_sum(hi)) for k, (lo, hi) in sample_nd.shape_sys.items()},
        )

    for bkg in model.backgrounds:
        nominal, variations = backgrounds[bkg.name]
        norm_name = f"{bkg.name}_norm"
        norm_sys = {} if bkg.norm_sys is None else {norm_name: bkg.norm_sys}
        if bkg.norm_model == "linear" and bkg.norm_sys is not None:
            norm_sys = {norm_name: bkg.norm_uncertainty}
        parts = [(bkg.name, norm_name if bkg.constrained_by else None, None)]
        if bkg.free_per_energy_bin:
            parts = [
                (f"{bkg.name}_bin{i:02d}", f"{bkg.name}_bin{i:02d}", i)
                for i in range(len(edges) - 1)
            ]
        for sample_name, factor, index in parts:
            if index is None:
                counts, var = (
                    cut(nominal),
                    {k: (cut(lo), cut(hi)) for k, (lo, hi) in variations.items()},
                )
            else:
                mask = np.zeros(len(edges) - 1)
                mask[index] = 1.0

                def only(a, _m=mask):
                    return cut(a) * _m.reshape((-1,) + (1,) * (a.ndim - 1))

                counts, var = (
                    only(nominal),
                    {k: (only(lo), only(hi)) for k, (lo, hi) in variations.items()},
                )
                if counts.sum() <= 0:
                    notes.append(
                        f"{bkg.name}: no expected counts in energy bin {index}; its free "
                        "normalisation is dropped (the background is zero there)"
                    )
                    continue
            sample = Sample(
                name=sample_name,
                counts=counts.ravel(),
                norm_factor=factor,
                norm_sys=norm_sys if not bkg.constrained_by else {},
                shape_sys={k: (lo.ravel(), hi.ravel()) for k, (lo, hi) in var.items()},
            )
            samples.append(sample)
            if bkg.constrained_by:
                control.setdefault(bkg.constrained_by, []).append(
                    to_control(sample, bkg.control_ratio)
                )
    multi = len(axes) > 1
    channels = [
        Channel(
            name=model.channel,
            bin_edges=np.arange(int(np.prod([a.n_bins for a in axes])) + 1.0) if multi else edges,
            observable=" x ".join(a.label for a in axes) + " (flattened)"
            if multi
            else model.observable,
            samples=tuple(samples),
            axes=tuple(axes) if multi else (),
        )
    ]
    control_axes = [a for a in axes if a.name != "time"]
    for name, ctrl_samples in control.items():
        c_multi = len(control_axes) > 1
        channels.append(
            Channel(
                name=name,
                bin_edges=np.arange(int(np.prod([a.n_bins for a in control_axes])) + 1.0)
                if c_multi
                else edges,
                observable=" x ".join(a.label for a in control_axes) + " (flattened)"
                if c_multi
                else model.observable,
                samples=tuple(ctrl_samples),
                axes=tuple(control_axes) if c_multi else (),
            )
        )
        notes.append(
            f"control channel {name!r} constrains "
            + ", ".join(sorted({s.name.rsplit("_bin", 1)[0] for s in ctrl_samples}))
            + " (free normalisation"
            + (" per energy bin)" if any("_bin" in s.name for s in ctrl_samples) else ")")
        )
    return AnalysisTemplates(channels=tuple(channels), exposure_kg_yr=exposure, notes=tuple(notes))
