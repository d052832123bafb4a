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
    ax.set_xlabel(r"nuclear-recoil threshold $E^{\rm recoil}_{\rm threshold}$ [keVnr]")
    ax.set_ylabel(r"$\sigma\cdot\epsilon$ per nucleus [cm$^2$]")
    ax.set_title(
        f"{target.name} (solid) vs {reference.name} (dashed), per nucleus; "
        f"form factor {form_factor}",
        fontsize=9,
    )
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
    per_kg_factor: float | None = None,
) -> Figure:
    """Seed Fig. 4: colour map of σ_eff(target)/σ_eff(reference) **per nucleus** over
    (E_ν, threshold).

    ``ratio`` has shape (n_enu, n_threshold). Where the target sees no recoil above the
    threshold the ratio is 0 and drawn hatched grey, not as part of the colour scale.
    Contours at 0.5, 1 (thick: equal cross-sections), 2, 3, 4 ... carry outlined labels.
    ``per_kg_factor`` (nuclei per kg of target / of reference) is stated in the title: per kg
    the ratio is the map times it (≈ 0.5 for CsPbI3 vs Ge)."""
    import matplotlib.patheffects as pe

    fig, ax = plt.subplots(figsize=(7.0, 5.0), layout="constrained")
    shown = np.where(ratio > 0, ratio, np.nan)
    ax.set_facecolor("0.85")
    ax.fill_between(
        [enu_MeV[0], enu_MeV[-1]],
        threshold_keVnr[0],
        threshold_keVnr[-1],
        hatch="//",
        facecolor="none",
        edgecolor="0.7",
        lw=0,
        zorder=0,
    )
    mesh = ax.pcolormesh(
        enu_MeV, threshold_keVnr, shown.T, shading="auto", cmap="viridis", vmin=0.0, zorder=1
    )
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 0.0
    levels = [lv for lv in (0.5, 1, 2, 3, 4, 5, 6) if lv <= top]
    if levels:
        widths = [2.2 if lv == 1 else 1.0 for lv in levels]
        cs = ax.contour(
            enu_MeV,
            threshold_keVnr,
            shown.T,
            levels=levels,
            colors="white",
            linewidths=widths,
            zorder=2,
        )
        labels = ax.clabel(cs, fmt=lambda v: f"{v:g}×", fontsize=10, inline_spacing=6)
        for text in labels:
            text.set_path_effects([pe.withStroke(linewidth=2.5, foreground="black")])
            text.set_color("white")
    fig.colorbar(
        mesh,
        ax=ax,
        label=rf"$\sigma_{{\rm eff}}^{{\rm {target_name}}}"
        rf"/\sigma_{{\rm eff}}^{{\rm {reference_name}}}$ per nucleus",
    )
    ax.set_xlabel(r"neutrino energy $E_\nu$ [MeV]")
    ax.set_ylabel(r"nuclear-recoil threshold [keVnr]")
    title = f"σ_eff({target_name}) / σ_eff({reference_name}), per nucleus"
    note = f"hatched: no {target_name} recoil above the threshold"
    if per_kg_factor is not None:
        note = f"per kg multiply by {per_kg_factor:.3g} (nuclei per kg); " + note
    ax.set_title(f"{title}\n{note}", fontsize=9)
    return fig
