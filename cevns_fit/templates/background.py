"""Background templates: expected background counts per analysis bin on every axis.

Backgrounds are given in the observable (:mod:`cevns_fit.backgrounds`: tables or flat rates),
so only the efficiency and its threshold variation act on them, on the signal's fine bins;
then their spread over the time and PSD axes, the beam-timing shift, table systematics and
``target_events`` rescaling (:func:`background_templates`).
"""

from __future__ import annotations

import numpy as np

from cevns_fit.detector import DetectorModel
from cevns_fit.errors import InputError
from cevns_fit.response import cached_fine_edges, rebin, variation_settings
from cevns_fit.templates.signal import _kg_days


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
        fine, index = cached_fine_edges(edges, eff, model.fine_bins_per_bin, _discrete(model))
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
