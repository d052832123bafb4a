"""Figure of :func:`cevns_fit.mapping.exposure_ratio_map`: where detector A beats detector B."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["ratio_map_figure"]

_LABELS = {
    "threshold": "threshold of A [keVnr at A's nominal Q; the cut is in keVee]",
    "quenching": "quenching factor of A",
    "mass": "mass of A [kg]",
    "background": "background scale of A",
    "quenching_sigma": "quenching shift of A [σ]",
}
_PER = {
    "kg": "5σ exposure per kg",
    "dollar": "cost of a 5σ-in-1-yr array",
    "nucleus": "5σ exposure per nucleus",
}


def ratio_map_figure(result, per: str = "kg", *, subtitle: str | None = None) -> Figure:
    """The A/B ratio ``per`` kg, dollar or nucleus over the grid (log colour scale centred on
    1), the boundary where A and B are equal, A's nominal point and its quenching ±1σ band."""
    x, y = np.asarray(result.x.values, float), np.asarray(result.y.values, float)
    ratio = np.asarray(result.ratio[per], float)
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    finite = ratio[np.isfinite(ratio) & (ratio > 0)]
    # ±2 decades around 1 at most: the interesting region is near the boundary
    span = min(max(abs(np.log10(finite)).max(), 0.1), 2.0) if finite.size else 1.0
    mesh = ax.pcolormesh(
        x,
        y,
        np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan),
        shading="nearest",
        cmap="RdBu_r",
        norm=LogNorm(10**-span, 10**span),
    )
    cbar = fig.colorbar(mesh, ax=ax, extend="both")
    cbar.set_label(f"{result.model_a} / {result.model_b}: {_PER[per]}")
    if finite.size and finite.min() < 1 < finite.max():
        ax.contour(x, y, np.log(np.where(ratio > 0, ratio, np.nan)), levels=[0.0], colors="k")
        ax.plot([], [], "k-", label=f"equal ({result.model_a} better to the lower side)")
    nominal = result.nominal_a
    if result.x.name in nominal and result.y.name in nominal:
        ax.plot(nominal[result.x.name], nominal[result.y.name], "k*", ms=14, label="A nominal")
    if result.y.name == "quenching" and "quenching_sigma" in nominal:
        q, s = nominal["quenching"], nominal["quenching_sigma"]
        ax.axhspan(q - s, q + s, color="k", alpha=0.08, label="A's quenching ±1σ (assumed)")
    ax.set_xlabel(_LABELS.get(result.x.name, result.x.name))
    ax.set_ylabel(_LABELS.get(result.y.name, result.y.name))
    ref = "as built" if result.reference == "nominal" else "at the same grid point"
    ax.set_title(
        f"{result.model_a} vs {result.model_b} ({ref}), median {result.sigma:g}σ\n"
        f"{_PER[per]} (blue: {result.model_a} needs less)",
        fontsize="medium",
    )
    if subtitle:
        fig.text(0.01, 0.01, subtitle, fontsize="x-small", va="bottom")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout(rect=(0, 0.05 if subtitle else 0, 1, 1))
    return fig
