"""Template builders: detector model -> :class:`~cevns_fit.templates.AnalysisTemplates`.

CEvNS per flux component (:mod:`cevns_fit.templates.signal`): counts_c[e, t, p] =
E_c[e] T_c[t] P[e, p], summed over components, with the ±1σ variations of the response, the
beam-timing offset and the physics nuisances; or a tabulated prediction in its place.
Backgrounds from :mod:`cevns_fit.templates.background`. :func:`build_templates` trims empty
outer energy bins, flattens the channels energy-major for pyhf, names each sample's modifiers
and adds the control channels of constrained backgrounds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cevns_fit.constants import DAYS_PER_YEAR
from cevns_fit.detector import DetectorModel
from cevns_fit.physics_templates import physics_energy_variations
from cevns_fit.templates.background import background_templates
from cevns_fit.templates.containers import SIGNAL_POI, AnalysisTemplates, BinAxis, Channel, Sample
from cevns_fit.templates.signal import (
    _kg_days,
    axis_spreads,
    beam_window_fractions,
    signal_templates_by_component,
)

_AXIS_LABELS = {"time": "arrival time (µs)"}


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
    # per control channel: the backgrounds it constrains, each free per energy bin or not
    constrained: dict[str, dict[str, bool]] = {}

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
                constrained.setdefault(bkg.constrained_by, {})[bkg.name] = index is not None
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
            + ", ".join(sorted(constrained[name]))
            + " (free normalisation"
            + (" per energy bin)" if any(constrained[name].values()) else ")")
        )
    return AnalysisTemplates(channels=tuple(channels), exposure_kg_yr=exposure, notes=tuple(notes))
