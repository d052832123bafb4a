"""The seed's Fig. 2: FWHM energy resolution of CsPbBr3 versus energy, R(E) = sqrt(A + B/E + C/E²).

Only the fit is drawn: the data points of He et al., Nat. Photon. 15 (2021) 36 are not available
to this project, so the figure shows the seed's fitted curve, the 100 % line and the energy where
the curve crosses it (the seed's electron-equivalent threshold, ≈ 4.30 keVee).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cevns_fit.resolution import (  # noqa: E402
    SEED_FIG2_A,
    SEED_FIG2_B,
    SEED_FIG2_C,
    seed_fwhm_percent,
    seed_threshold_keVee,
)

__all__ = ["resolution_figure"]


def resolution_figure(
    A: float = SEED_FIG2_A,
    B: float = SEED_FIG2_B,
    C: float = SEED_FIG2_C,
    *,
    energy_range_keVee: tuple[float, float] = (2.0, 700.0),
    level_percent: float = 100.0,
) -> Figure:
    """R(E) (% FWHM) versus E (keVee, log axis) with the ``level_percent`` crossing marked."""
    energy = np.geomspace(*energy_range_keVee, 400)
    threshold = seed_threshold_keVee(level_percent, A, B, C)
    fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
    ax.plot(
        energy,
        seed_fwhm_percent(energy, A, B, C),
        color="C0",
        label=f"fit: A = {A:g}, B = {B:g}, C = {C:g}",
    )
    ax.axhline(level_percent, color="0.5", ls=":", lw=1)
    ax.axvline(
        threshold,
        color="C3",
        ls="--",
        lw=1,
        label=f"R = {level_percent:g} % at {threshold:.2f} keVee",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("photon energy E [keVee]")
    ax.set_ylabel("energy resolution R [% FWHM]")
    ax.set_title(
        "CsPbBr3 at room temperature (seed Fig. 2 fit; data: He et al. 2021, not shown)", fontsize=9
    )
    ax.legend(frameon=False, fontsize=8)
    return fig
