"""Binned templates: the expected counts per sample and the signal's ±1σ variations.

``templates_figure`` draws one channel of an :class:`~cevns_fit.templates.AnalysisTemplates`:
top, the backgrounds stacked with the CEvNS signal on top (nominal); bottom, the ratio to the
nominal signal of each (down, up) variation (quenching, threshold, resolution), so a reader sees
at once which systematic moves which bins.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cevns_fit.templates import AnalysisTemplates  # noqa: E402

__all__ = ["templates_figure"]


def templates_figure(
    templates: AnalysisTemplates, channel: str | None = None, *, title: str | None = None
) -> Figure:
    """Stacked nominal templates of ``channel`` (default: the first) and the signal variations."""
    ch = (
        templates.channels[0]
        if channel is None
        else next(c for c in templates.channels if c.name == channel)
    )
    edges = np.asarray(ch.bin_edges, dtype=float)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 5.6), sharex=True, height_ratios=(3, 1.4), layout="constrained"
    )
    signal = next((s for s in ch.samples if s.name == templates.signal_sample), None)
    # Backgrounds stacked first, the CEvNS signal on top of them.
    layers = [(s, f"C{i + 1}", 0.5, s.name) for i, s in enumerate(ch.samples) if s is not signal]
    if signal is not None:
        layers.append((signal, "C0", 0.6, "CEvNS"))
    bottom_stack = np.zeros(ch.n_bins)
    for sample, colour, alpha, label in layers:
        top.stairs(
            bottom_stack + sample.counts,
            edges,
            baseline=bottom_stack,
            fill=True,
            alpha=alpha,
            color=colour,
            label=f"{label} ({sample.total:.4g})",
        )
        bottom_stack = bottom_stack + sample.counts
    if signal is not None:
        # Ratios only where the signal matters: in bins with a negligible nominal signal a
        # variation can be many orders of magnitude above it and would hide everything else.
        shown = signal.counts > 1e-3 * max(signal.counts.max(), 0.0)
        safe = np.where(shown, signal.counts, 1.0)
        for j, (name, (down, up)) in enumerate(signal.shape_sys.items()):
            colour = f"C{j + 4}"
            bottom.stairs(
                np.where(shown, up / safe, np.nan),
                edges,
                color=colour,
                label=f"{name} +1σ ({up.sum():.4g})",
            )
            bottom.stairs(
                np.where(shown, down / safe, np.nan),
                edges,
                color=colour,
                ls="--",
                label=f"{name} −1σ ({down.sum():.4g})",
            )
    bottom.axhline(1.0, color="0.4", lw=0.8)
    top.set_ylabel(f"expected counts / bin ({templates.exposure_kg_yr:.3g} kg·yr)")
    top.legend(frameon=False, fontsize=8)
    bottom.set_ylabel("variation / nominal")
    bottom.set_xlabel(ch.observable)
    bottom.legend(frameon=False, fontsize=7, ncol=2)
    top.set_title(title or f"channel {ch.name}", fontsize=10)
    return fig
