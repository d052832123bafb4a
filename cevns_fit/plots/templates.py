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
    templates: AnalysisTemplates,
    channel: str | None = None,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    threshold: tuple[float, float, float] | None = None,
) -> Figure:
    """Stacked nominal templates of ``channel`` (default: the first) and the signal variations.

    ``threshold`` = (value, 1σ down, 1σ up) in the observable draws the threshold and its
    ±1σ band on both panels; ``subtitle`` is a caption line (source, exposure, assumptions).
    The legend lists the stack top first, as it is drawn."""
    from cevns_fit.plots.captions import observable_label, wrap_caption

    ch = (
        templates.channels[0]
        if channel is None
        else next(c for c in templates.channels if c.name == channel)
    )
    edges = np.asarray(ch.bin_edges, dtype=float)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8.0, 5.8), sharex=True, height_ratios=(3, 1.6), layout="constrained"
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
            label=f"{label.replace('_', ' ')} ({sample.total:.4g})",
        )
        bottom_stack = bottom_stack + sample.counts
    largest_ratio = 1.0
    if signal is not None:
        # Ratios only where the signal matters: in bins with a negligible nominal signal a
        # variation can be many orders of magnitude above it and would hide everything else.
        shown = signal.counts > 1e-3 * max(signal.counts.max(), 0.0)
        safe = np.where(shown, signal.counts, 1.0)
        for j, (name, (down, up)) in enumerate(signal.shape_sys.items()):
            colour = f"C{j + 4}"
            for values, style, sign in ((up, "-", "+"), (down, "--", "−")):
                ratio = np.where(shown, values / safe, np.nan)
                # baseline=None: no vertical drop to 0 at the ends of the drawn range
                bottom.stairs(
                    ratio,
                    edges,
                    baseline=None,
                    color=colour,
                    ls=style,
                    label=f"{name} {sign}1σ ({values.sum():.4g})",
                )
                if np.any(np.isfinite(ratio)):
                    largest_ratio = max(largest_ratio, float(np.nanmax(ratio)))
    bottom.axhline(1.0, color="0.4", lw=0.8)
    if largest_ratio > 3.0:  # a factor of 10 and a few per cent on one linear axis: go log
        bottom.set_yscale("log")
        bottom.set_ylim(0.05, 2.0 * largest_ratio)
    if threshold is not None:
        value, lo, hi = threshold
        for ax in (top, bottom):
            ax.axvspan(value - lo, value + hi, color="0.85", zorder=0)
            ax.axvline(value, color="0.3", ls=":", lw=1.0)
        unit = ch.observable
        top.plot([], [], color="0.85", lw=6, label=f"threshold {value:.3g} {unit} ±1σ")
    handles, labels = top.get_legend_handles_labels()
    n_stack = len(layers)
    order = list(reversed(range(n_stack))) + list(range(n_stack, len(handles)))
    top.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        frameon=False,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="expected (total)",
        title_fontsize=8,
    )
    top.set_ylabel(f"expected counts / bin ({templates.exposure_kg_yr:.3g} kg·yr)")
    bottom.set_ylabel("signal variation / nominal")
    bottom.set_xlabel(observable_label(ch.observable))
    bottom.legend(
        frameon=False,
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="CEvNS (total)",
        title_fontsize=8,
    )
    heading = title or f"channel {ch.name}"
    top.set_title(heading + (f"\n{wrap_caption(subtitle)}" if subtitle else ""), fontsize=9)
    return fig
