"""Detector-comparison figures: 5σ exposure (and cost) vs threshold, Z vs exposure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["exposure_vs_threshold_figure", "z_vs_exposure_figure"]


def exposure_vs_threshold_figure(curves: list, summaries: list, crossovers: list = ()) -> Figure:
    """5σ exposure (left) and cost of a 1-year 5σ array (right) vs recoil threshold.

    ``curves`` are :class:`cevns_fit.compare.ThresholdCurve`; models with a quenching band get
    the ±1σ curves as a shaded band; each model's nominal threshold is marked; crossover
    thresholds are drawn as vertical lines."""
    fig, (ax_kg, ax_usd) = plt.subplots(1, 2, figsize=(11, 4.6), sharex=True)
    names = list(dict.fromkeys(c.name for c in curves))
    colours = dict(zip(names, plt.cm.tab10(np.arange(len(names))), strict=True))
    for name in names:
        mine = {c.label: c for c in curves if c.name == name}
        nominal = mine["nominal"]
        colour = colours[name]
        for ax, factor in ((ax_kg, 1.0), (ax_usd, nominal.cost_usd_per_kg)):
            ax.plot(
                nominal.threshold_keVnr,
                nominal.exposure_kg_yr_5sigma * factor,
                color=colour,
                label=name,
            )
            if "Q -1 sigma" in mine and "Q +1 sigma" in mine:
                lo = mine["Q -1 sigma"].exposure_kg_yr_5sigma * factor
                hi = mine["Q +1 sigma"].exposure_kg_yr_5sigma * factor
                ax.fill_between(
                    nominal.threshold_keVnr,
                    np.fmin(lo, hi),
                    np.fmax(lo, hi),
                    color=colour,
                    alpha=0.25,
                    label=f"{name}: quenching ±1σ",
                )
    for summary in summaries:
        colour = colours.get(summary.name, "k")
        if summary.exposure_kg_yr_5sigma is not None:
            ax_kg.plot(summary.threshold_keVnr, summary.exposure_kg_yr_5sigma, "o", color=colour)
            ax_usd.plot(
                summary.threshold_keVnr,
                summary.exposure_kg_yr_5sigma * summary.cost_usd_per_kg,
                "o",
                color=colour,
            )
    for cross in crossovers:
        if cross.quenching_label != "nominal":
            continue
        if cross.per_kg_threshold_keVnr is not None:
            ax_kg.axvline(cross.per_kg_threshold_keVnr, ls=":", color="grey")
        if cross.per_dollar_threshold_keVnr is not None:
            ax_usd.axvline(cross.per_dollar_threshold_keVnr, ls=":", color="grey")
    ax_kg.set_ylabel(r"exposure for median $5\sigma$ [kg·yr]")
    ax_usd.set_ylabel(r"cost of an array reaching $5\sigma$ in 1 yr [USD, assumed costs]")
    for ax in (ax_kg, ax_usd):
        ax.set_yscale("log")
        ax.set_xlabel("recoil threshold [keVnr, at nominal quenching]")
        ax.grid(alpha=0.3, which="both")
    ax_kg.legend(fontsize=8)
    ax_kg.set_title("per kg (dots: nominal thresholds)", fontsize=10)
    ax_usd.set_title("per dollar (dotted: crossover)", fontsize=10)
    fig.tight_layout()
    return fig


def z_vs_exposure_figure(exposures_kg_yr: np.ndarray, z_by_model: dict[str, np.ndarray]) -> Figure:
    """Median expected discovery significance vs exposure, one curve per model."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name, z in z_by_model.items():
        ax.plot(exposures_kg_yr, z, label=name)
    for level in (3.0, 5.0):
        ax.axhline(level, ls="--", color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")  # Z ∝ sqrt(exposure) without systematics: a straight line
    ax.set_xlabel("exposure [kg·yr]")
    ax.set_ylabel(r"median expected $Z$ [$\sigma$]")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
