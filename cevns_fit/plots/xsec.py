"""Cross-section figures: the seed's Fig. 3 (σ·ε vs threshold) and Fig. 4 (ratio map)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cevns_fit.cross_section import sigma_eff  # noqa: E402
from cevns_fit.targets import Target  # noqa: E402

__all__ = ["sigma_vs_threshold_figure", "ratio_map_figure"]


def sigma_vs_threshold_figure(
    target: Target,
    reference: Target,
    enu_MeV: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0, 50.0),
    threshold_keVnr: np.ndarray | None = None,
    *,
    form_factor: str = "helm",
) -> Figure:
    """Seed Fig. 3: σ·ε per nucleus vs recoil threshold; ``target`` solid, ``reference`` dashed."""
    thr = np.linspace(0.0, 60.0, 241) if threshold_keVnr is None else np.asarray(threshold_keVnr)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(enu_MeV)))
    for enu, colour in zip(enu_MeV, colours, strict=True):
        for tgt, style in ((target, "-"), (reference, "--")):
            sig = sigma_eff(enu, thr, tgt, form_factor=form_factor)[0]
            shown = np.where(sig > 0, sig, np.nan)
            label = f"{enu:g} MeV" if tgt is target else None
            ax.plot(thr, shown, style, color=colour, label=label)
    ax.set_yscale("log")
    ax.set_xlabel(r"recoil threshold $E^{\rm recoil}_{\rm threshold}$ [keVnr]")
    ax.set_ylabel(r"$\sigma\cdot\epsilon$ per nucleus [cm$^2$]")
    ax.set_title(f"{target.name} (solid) vs {reference.name} (dashed)")
    ax.legend(title=r"$E_\nu$", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def ratio_map_figure(
    enu_MeV: np.ndarray,
    threshold_keVnr: np.ndarray,
    ratio: np.ndarray,
    *,
    target_name: str,
    reference_name: str,
) -> Figure:
    """Seed Fig. 4: colour map of σ_eff(target)/σ_eff(reference) over (E_ν, threshold).

    ``ratio`` has shape (n_enu, n_threshold); integer ratio contours are highlighted."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    mesh = ax.pcolormesh(enu_MeV, threshold_keVnr, ratio.T, shading="auto", cmap="magma")
    levels = [lv for lv in (1, 2, 3, 4, 5, 6) if lv <= np.nanmax(ratio)]
    if levels:
        cs = ax.contour(
            enu_MeV, threshold_keVnr, ratio.T, levels=levels, colors="cyan", linewidths=0.8
        )
        ax.clabel(cs, fmt="%g", fontsize=8)
    fig.colorbar(
        mesh,
        ax=ax,
        label=rf"$\sigma_{{\rm eff}}^{{\rm {target_name}}}"
        rf"/\sigma_{{\rm eff}}^{{\rm {reference_name}}}$",
    )
    ax.set_xlabel(r"$E_\nu$ [MeV]")
    ax.set_ylabel(r"recoil threshold [keVnr]")
    ax.set_title("0 = threshold above every recoil of " + target_name, fontsize=9)
    fig.tight_layout()
    return fig
