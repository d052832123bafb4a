"""Figures of :func:`cevns_fit.measure.measure`: the −2Δln L curve of one parameter with its
68/90/95 % CL intervals, and the 2-D confidence regions of two parameters with the model's own
(Standard-Model) point."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["curve_figure", "contour_figure"]

_COLOURS = ("#1b9e77", "#7570b3", "#d95f02")
_LABELS = {
    "sin2_theta_w": r"$\sin^2\theta_W$",
    "quenching": "quenching factor Q",
    "eps_u_ee": r"$\varepsilon^{u}_{ee}$",
    "eps_d_ee": r"$\varepsilon^{d}_{ee}$",
    "eps_u_mumu": r"$\varepsilon^{u}_{\mu\mu}$",
    "eps_d_mumu": r"$\varepsilon^{d}_{\mu\mu}$",
}


def _label(name: str) -> str:
    if name.startswith("neutron_rms_radius_fm."):
        return f"neutron rms radius of {name.split('.', 1)[1]} [fm]"
    if name.startswith("neutron_skin_fm."):
        return f"neutron skin of {name.split('.', 1)[1]} [fm]"
    return _LABELS.get(name, name)


def _cl_name(cl: float) -> str:
    return f"{100 * cl:.0f} % CL" if abs(cl - 0.6827) > 1e-3 else "68 % CL"


def curve_figure(result: dict) -> Figure:
    """−2Δln L against the parameter: the grid points, the Wilks thresholds and the intervals
    as bands, the best fit and the model's own value."""
    name = result["poi"][0]
    x = np.asarray(result["curve"]["values"], float)
    y = np.asarray(result["curve"]["delta_chi2"], float)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for entry, colour in zip(reversed(result["intervals"]), reversed(_COLOURS), strict=True):
        for lo, hi in entry["segments"]:
            ax.axvspan(lo, hi, color=colour, alpha=0.18, lw=0)
        ax.axhline(entry["delta_chi2"], color=colour, lw=0.8, ls="--", label=_cl_name(entry["cl"]))
    ax.plot(x, y, "o-", color="k", ms=3, lw=1.2, label="profile likelihood")
    ax.axvline(result["best_fit"], color="k", lw=0.8, label=f"best fit {result['best_fit']:.4g}")
    sm = result["standard_model"].get(name)
    if sm is not None:
        ax.axvline(sm, color="#e7298a", lw=1.0, ls=":", label=f"model value {sm:.4g}")
    top = max(5.0, 1.3 * result["intervals"][-1]["delta_chi2"])
    ax.set_ylim(0.0, min(top, float(np.nanmax(y)) * 1.05 if np.isfinite(y).any() else top))
    ax.set_xlabel(_label(name))
    ax.set_ylabel(r"$-2\Delta\ln L$")
    ax.set_title(f"{result['model']}: {result['data']}", fontsize=9)
    ax.legend(fontsize=8, loc="upper center")
    fig.tight_layout()
    return fig


def contour_figure(result: dict) -> Figure:
    """The 68/90/95 % CL regions (Wilks, two parameters) on the −2Δln L grid, the best fit and
    the model's own point."""
    nx, ny = result["poi"]
    x = np.asarray(result["grid"][nx], float)
    y = np.asarray(result["grid"][ny], float)
    z = np.asarray(result["grid"]["delta_chi2"], float)
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    levels = [e["delta_chi2"] for e in result["intervals"]]
    filled = np.where(np.isfinite(z), z, np.nanmax(z))
    ax.contourf(x, y, filled.T, levels=[0.0, *levels], colors=_COLOURS, alpha=0.35)
    cs = ax.contour(x, y, filled.T, levels=levels, colors=_COLOURS, linewidths=1.0)
    ax.clabel(
        cs,
        fmt={lv: _cl_name(e["cl"]) for lv, e in zip(levels, result["intervals"], strict=True)},
        fontsize=7,
    )
    best = result["best_fit"]
    ax.plot(best[nx], best[ny], "k+", ms=10, label="best fit")
    sm = result["standard_model"]
    if sm.get(nx) is not None and sm.get(ny) is not None:
        ax.plot(sm[nx], sm[ny], "*", color="#e7298a", ms=10, label="model value (SM)")
    elif sm.get(nx) is not None:  # e.g. sin²θ_W beside a radius that has no single default
        ax.axvline(sm[nx], color="#e7298a", ls=":", label=f"model value {sm[nx]:.4g}")
    elif sm.get(ny) is not None:
        ax.axhline(sm[ny], color="#e7298a", ls=":", label=f"model value {sm[ny]:.4g}")
    ax.set_xlabel(_label(nx))
    ax.set_ylabel(_label(ny))
    ax.set_title(f"{result['model']}: {result['data']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
