"""Recoil-spectrum figures: dR/dE_R per kg per day for several targets and sources.

``recoil_spectra_figure`` draws one panel per source (e.g. the SNS and a reactor) with one curve
per target (e.g. CsPbI3, Ge, CsI), total over flavours; ``component_spectra_figure`` splits one
target and source into its flux components (prompt vs delayed at a π-DAR source).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cevns_fit.cross_section import recoil_max_keVnr  # noqa: E402
from cevns_fit.rates import differential_rate, sum_components  # noqa: E402
from cevns_fit.sources import Source  # noqa: E402
from cevns_fit.targets import Target  # noqa: E402

__all__ = ["recoil_spectra_figure", "component_spectra_figure", "recoil_energy_grid_keVnr"]


def recoil_energy_grid_keVnr(targets: Sequence[Target], source: Source, n: int = 300) -> np.ndarray:
    """Recoil energies (keVnr) from 0 to the largest recoil any target's nucleus can get."""
    enu_max = max(float(c.enu_MeV.max()) for c in source.components)
    e_max = max(float(np.max(recoil_max_keVnr(enu_max, t.mass_GeV))) for t in targets)
    return np.linspace(0.0, e_max, n)


def recoil_spectra_figure(
    targets: Sequence[Target],
    sources: Sequence[Source],
    *,
    form_factor: str = "helm",
    n_points: int = 300,
) -> Figure:
    """dR/dE_R (events / kg / day / keVnr, all flavours) vs E_R.

    One panel per source, one curve per target."""
    fig, axes = plt.subplots(1, len(sources), figsize=(5.2 * len(sources), 4.4), squeeze=False)
    for ax, source in zip(axes[0], sources, strict=True):
        energies = recoil_energy_grid_keVnr(targets, source, n_points)
        for target in targets:
            rate = sum_components(
                differential_rate(energies, target, source, form_factor=form_factor)
            )
            ax.plot(energies, np.where(rate > 0, rate, np.nan), label=target.name)
        ax.set_yscale("log")
        peak = max((line.get_ydata() for line in ax.get_lines()), key=np.nanmax)
        _log_range(ax, float(np.nanmax(peak)), 4.0)
        ax.set_xlabel(r"nuclear recoil energy $E_R$ [keVnr]")
        ax.set_ylabel(r"$dR/dE_R$ [events kg$^{-1}$ day$^{-1}$ keVnr$^{-1}$]")
        where = "" if source.distance_m is None else f" at {source.distance_m:g} m"
        ax.set_title(f"{source.name}{where}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _log_range(ax, peak: float, decades: float) -> None:
    """A log y axis spanning ``decades`` below the peak: the kinematic endpoint's fall to
    1e-12 is not information a reader needs, and it squeezes the spectrum into the top."""
    if peak > 0:
        ax.set_ylim(peak / 10**decades, 2.0 * peak)


def component_spectra_figure(
    target: Target,
    source: Source,
    *,
    form_factor: str = "helm",
    n_points: int = 300,
    threshold_keVnr: float = 0.0,
    events_per_kg_day: float | None = None,
    decades: float = 4.0,
) -> Figure:
    """dR/dE_R of one target and source, one curve per flux component and their sum.

    A threshold > 0 is drawn as a line with the region below it shaded; ``events_per_kg_day``
    (the total above the threshold) goes in the subtitle. The y axis spans ``decades``
    decades below the peak."""
    from cevns_fit.plots.captions import flux_label, source_text

    energies = recoil_energy_grid_keVnr([target], source, n_points)
    rates = differential_rate(energies, target, source, form_factor=form_factor)
    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    for name, rate in rates.items():
        ax.plot(energies, np.where(rate > 0, rate, np.nan), label=flux_label(name))
    total = sum_components(rates)
    ax.plot(energies, np.where(total > 0, total, np.nan), "k-", lw=1.5, label="total")
    ax.set_yscale("log")
    _log_range(ax, float(np.max(total)), decades)
    if threshold_keVnr > 0:
        ax.axvspan(0.0, threshold_keVnr, color="0.85", zorder=0)
        ax.axvline(threshold_keVnr, color="0.3", ls="--", lw=1.0)
        ax.annotate(
            f"threshold\n{threshold_keVnr:g} keVnr",
            (threshold_keVnr, 0.04),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlim(0.0, energies[-1])
    ax.set_xlabel(r"nuclear recoil energy $E_R$ [keVnr]")
    ax.set_ylabel(r"$dR/dE_R$ [events kg$^{-1}$ day$^{-1}$ keVnr$^{-1}$]")
    sub = f"true recoil energy, no detector response; form factor {form_factor}"
    if events_per_kg_day is not None:
        sub += f"\n{events_per_kg_day:.3g} events/kg/day above {threshold_keVnr:g} keVnr"
    ax.set_title(f"CEvNS in {target.name}, {source_text(source)}\n{sub}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="flux component", title_fontsize=8)
    return fig
