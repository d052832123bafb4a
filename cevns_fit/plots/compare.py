"""Detector-comparison figures: 5σ exposure (and cost) vs threshold, Z vs exposure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["exposure_vs_threshold_figure", "z_vs_exposure_figure"]


def _off_scale(values: np.ndarray, ceiling: float) -> np.ndarray:
    """Unreachable points (NaN) far above the axis, so a curve or band runs off the top
    instead of ending (or its edge dropping back) where the exposure stops being finite."""
    return np.where(np.isfinite(values), values, ceiling * 1e3)


def exposure_vs_threshold_figure(
    curves: list, summaries: list, crossovers: list = (), *, caption: str | None = None
) -> Figure:
    """5σ exposure (left) and cost of a 1-year 5σ array (right) vs recoil threshold.

    ``curves`` are :class:`cevns_fit.compare.ThresholdCurve`; models with a quenching band get
    the ±1σ curves as a shaded band; each model's nominal threshold is a dot. For the nominal
    crossovers (:class:`cevns_fit.compare.Crossover`) two different comparisons are drawn and
    named apart: × where the curves cross at equal thresholds, and a dashed level at the
    reference model's value at its own nominal threshold ("as built") with the threshold where
    the challenger meets it. Unreachable exposures run off the top of the axis."""
    fig, (ax_kg, ax_usd) = plt.subplots(1, 2, figsize=(12, 5.4), sharex=True, layout="constrained")
    names = list(dict.fromkeys(c.name for c in curves))
    colours = dict(zip(names, plt.cm.tab10(np.arange(len(names))), strict=True))
    by_name = {s.name: s for s in summaries}
    panels = ((ax_kg, lambda c: 1.0), (ax_usd, lambda c: c.cost_usd_per_kg))
    for ax, factor in panels:
        finite = np.concatenate(
            [
                c.exposure_kg_yr_5sigma[np.isfinite(c.exposure_kg_yr_5sigma)] * factor(c)
                for c in curves
            ]
        )
        low, high = (finite.min() / 3, finite.max() * 3) if finite.size else (1e-2, 1e3)
        ax.set_ylim(low, high)
        for name in names:
            mine = {c.label: c for c in curves if c.name == name}
            nominal, colour = mine["nominal"], colours[name]
            x = nominal.threshold_keVnr
            ax.plot(
                x,
                _off_scale(nominal.exposure_kg_yr_5sigma * factor(nominal), high),
                color=colour,
                label=name,
            )
            if "Q -1 sigma" in mine and "Q +1 sigma" in mine:
                lo = _off_scale(mine["Q -1 sigma"].exposure_kg_yr_5sigma * factor(nominal), high)
                hi = _off_scale(mine["Q +1 sigma"].exposure_kg_yr_5sigma * factor(nominal), high)
                ax.fill_between(
                    x,
                    np.fmin(lo, hi),
                    np.fmax(lo, hi),
                    color=colour,
                    alpha=0.22,
                    label=f"{name}: quenching ±1σ",
                )
            summary = by_name.get(name)
            if summary is not None and summary.exposure_kg_yr_5sigma is not None:
                value = summary.exposure_kg_yr_5sigma * (
                    1.0 if ax is ax_kg else summary.cost_usd_per_kg
                )
                ax.plot(
                    summary.threshold_keVnr,
                    value,
                    "o",
                    color=colour,
                    ms=7,
                    label=f"{name} nominal threshold ({summary.threshold_keVnr:.3g} keVnr)",
                )
    for cross in crossovers:
        if cross.quenching_label != "nominal":
            continue
        ref = by_name.get(cross.reference)
        ref_colour = colours.get(cross.reference, "k")
        items = (
            (ax_kg, 1.0, cross.per_kg_threshold_keVnr, cross.curves_cross_per_kg_keVnr),
            (ax_usd, None, cross.per_dollar_threshold_keVnr, cross.curves_cross_per_dollar_keVnr),
        )
        for ax, _, as_built_at, crossings in items:
            challenger = next(
                c for c in curves if c.name == cross.challenger and c.label == "nominal"
            )
            scale = 1.0 if ax is ax_kg else challenger.cost_usd_per_kg
            values = challenger.exposure_kg_yr_5sigma * scale
            if ref is not None and cross.reference_exposure_kg_yr_5sigma is not None:
                level = cross.reference_exposure_kg_yr_5sigma * (
                    1.0 if ax is ax_kg else ref.cost_usd_per_kg
                )
                ax.axhline(
                    level,
                    color=ref_colour,
                    ls="--",
                    lw=0.9,
                    label=f"{cross.reference} as built ({ref.threshold_keVnr:.3g} keVnr)",
                )
                if as_built_at is not None:
                    ax.plot(
                        as_built_at,
                        level,
                        "s",
                        mfc="none",
                        mec="k",
                        ms=8,
                        label=f"{cross.challenger} matches it: {as_built_at:.3g} keVnr",
                    )
            for t in crossings:
                y = float(
                    np.exp(
                        np.interp(
                            t,
                            challenger.threshold_keVnr,
                            np.log(np.where(values > 0, values, np.nan)),
                        )
                    )
                )
                ax.plot(t, y, "X", color="k", ms=9, label=f"curves cross: {t:.3g} keVnr")
    ax_kg.set_ylabel(r"exposure for a median $5\sigma$ [kg·yr]")
    ax_usd.set_ylabel(r"cost of an array reaching $5\sigma$ in 1 yr [USD, assumed costs]")
    for ax in (ax_kg, ax_usd):
        ax.set_yscale("log")
        ax.set_xlabel("nuclear-recoil threshold [keVnr, at nominal quenching]")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=7, loc="upper left")
    ax_kg.set_title("per kg", fontsize=10)
    ax_usd.set_title("per dollar", fontsize=10)
    if caption:
        fig.suptitle(caption, fontsize=9)
    return fig


def z_vs_exposure_figure(
    exposures_kg_yr: np.ndarray,
    z_by_model: dict[str, np.ndarray],
    *,
    labels: dict[str, str] | None = None,
    five_sigma_kg_yr: dict[str, float | None] | None = None,
    caption: str | None = None,
) -> Figure:
    """Median expected discovery significance vs exposure, one curve per model.

    ``labels`` (by model name) say what each curve assumes (threshold, quenching); the 3σ and
    5σ levels are labelled and each model's exposure for 5σ (``five_sigma_kg_yr``, as solved
    by :func:`cevns_fit.inference.exposure_needed`) is marked on its curve."""
    fig, ax = plt.subplots(figsize=(7.0, 5.0), layout="constrained")
    marks = [x for x in (five_sigma_kg_yr or {}).values() if x is not None]
    leftmost = min(marks, default=None)
    for i, (name, z) in enumerate(z_by_model.items()):
        colour = f"C{i}"
        ax.plot(exposures_kg_yr, z, color=colour, label=(labels or {}).get(name, name))
        x = (five_sigma_kg_yr or {}).get(name)
        if x is not None:
            ax.plot(x, 5.0, "o", color=colour, ms=5)
            ax.annotate(
                f"{x:.3g} kg·yr",
                (x, 5.0),
                # the leftmost mark labelled above-left, the others below-right: no overlap
                xytext=(-5, 6) if x == leftmost else (5, -13),
                ha="right" if x == leftmost else "left",
                textcoords="offset points",
                fontsize=7,
                color=colour,
            )
    for level in (3.0, 5.0):
        ax.axhline(level, ls="--", color="grey", lw=0.8)
        ax.annotate(
            f"{level:g}σ",
            (1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.3",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")  # Z ∝ sqrt(exposure) without systematics: a straight line
    ax.set_xlabel("exposure [kg·yr]")
    ax.set_ylabel(r"median expected discovery significance $Z$ [$\sigma$]")
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=7, loc="upper left")
    if caption:
        ax.set_title(caption, fontsize=9)
    return fig
