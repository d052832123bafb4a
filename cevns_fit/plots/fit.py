"""Post-fit figure: data, stacked post-fit signal and backgrounds, and pulls, per channel.

:func:`plot_postfit` takes a :class:`cevns_fit.fit.FitResult` (its ``postfit`` tables) and
returns a Figure; the caller saves it. A channel that flattens a 2-D observable (PE × time)
can be drawn as its two projections by passing ``grids={"beam_on": (pe_edges, t_edges)}``.
Samples whose names share a prefix in ``group_prefixes`` (per-bin background normalisations
such as ``steady_state_pe06``...) are stacked as one entry.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["plot_postfit"]

_COLOURS = {"cevns": "tab:red", "prompt_neutrons": "tab:green", "steady_state": "tab:gray"}


def _grouped(samples: dict[str, list], prefixes: tuple[str, ...]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, values in samples.items():
        key = next((p for p in prefixes if name.startswith(p)), name)
        out[key] = out.get(key, 0.0) + np.asarray(values, dtype=float)
    # the signal on top of the stack, as physicists expect to see it
    return dict(sorted(out.items(), key=lambda kv: kv[0] == "cevns"))


def _panel(ax_top, ax_pull, edges, data, stack, xlabel: str) -> None:
    edges = np.asarray(edges, dtype=float)
    bottom = np.zeros(len(edges) - 1)
    for name, values in stack.items():
        ax_top.stairs(
            bottom + values,
            edges,
            baseline=bottom,
            fill=True,
            alpha=0.8,
            color=_COLOURS.get(name),
            label="CEvNS" if name == "cevns" else name.replace("_", " "),
        )
        bottom = bottom + values
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax_top.errorbar(centres, data, yerr=np.sqrt(data), fmt="ko", ms=3, label="data")
    ax_top.set_ylabel("counts per bin")
    # legend in the order the eye meets the stack: data, then the top layer down to the bottom
    handles, names = ax_top.get_legend_handles_labels()
    order = [len(handles) - 1, *reversed(range(len(handles) - 1))]
    ax_top.legend([handles[i] for i in order], [names[i] for i in order], fontsize="small")
    with np.errstate(divide="ignore", invalid="ignore"):
        pulls = np.where(bottom > 0, (data - bottom) / np.sqrt(bottom), 0.0)
    ax_pull.bar(centres, pulls, width=np.diff(edges), color="tab:blue", alpha=0.7)
    ax_pull.axhline(0, color="k", lw=0.8)
    ax_pull.set_ylabel("(n − ν)/√ν")
    from cevns_fit.plots.captions import observable_label

    ax_pull.set_xlabel(observable_label(xlabel))  # "PE" alone names a unit, not a quantity


def plot_postfit(
    result,
    *,
    edges: dict[str, np.ndarray] | None = None,
    grids: dict[str, tuple[np.ndarray, ...]] | None = None,
    labels: dict[str, tuple[str, ...]] | None = None,
    group_prefixes: tuple[str, ...] = ("steady_state",),
    title: str | None = None,
) -> Figure:
    """Data and stacked post-fit samples with pulls, one column per channel (or projection).

    ``edges``: bin edges per channel for the x axis (default: bin index). ``grids``: for a
    flattened N-D channel, the edges of each axis (flattened C order); the channel is drawn as
    one projection per axis. ``labels``: x-axis labels per channel (one per projection).
    """
    edges, grids, labels = edges or {}, grids or {}, labels or {}
    panels = []  # (title, edges, data, stack, xlabel)
    for channel, table in result.postfit.items():
        data = np.asarray(table["data"], dtype=float)
        stack = _grouped(table["postfit"], group_prefixes)
        if channel in grids:
            axis_edges = [np.asarray(e, dtype=float) for e in grids[channel]]
            shape = tuple(len(e) - 1 for e in axis_edges)
            names = labels.get(channel, tuple(f"axis {i}" for i in range(len(shape))))
            for axis, (proj_edges, xlabel) in enumerate(zip(axis_edges, names, strict=True)):
                summed = tuple(i for i in range(len(shape)) if i != axis)
                panels.append(
                    (
                        f"{channel} ({xlabel.split(' (')[0]} projection)",
                        proj_edges,
                        data.reshape(shape).sum(axis=summed),
                        {k: v.reshape(shape).sum(axis=summed) for k, v in stack.items()},
                        xlabel,
                    )
                )
        else:
            ch_edges = edges.get(channel, np.arange(len(data) + 1, dtype=float))
            xlabel = labels.get(channel, ("bin",))[0]
            panels.append((channel, ch_edges, data, stack, xlabel))

    fig, axes = plt.subplots(
        2,
        len(panels),
        figsize=(4.8 * len(panels), 5.5),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
        sharex="col",
    )
    for k, (name, p_edges, data, stack, xlabel) in enumerate(panels):
        _panel(axes[0, k], axes[1, k], p_edges, data, stack, xlabel)
        axes[0, k].set_title(name, fontsize="medium")
    summary = (
        f"μ = {result.mu:.3f} ± {result.mu_err:.3f}, "
        f"signal {result.signal_events:.1f} ± {result.signal_events_err:.1f}, "
        f"Z = {result.Z_observed:.2f}, GOF p = {result.gof_p_value:.2f}"
        + ("" if result.converged else "  (NOT CONVERGED)")
    )
    fig.suptitle(summary if title is None else f"{title}\n{summary}", fontsize="medium")
    fig.tight_layout()
    return fig
