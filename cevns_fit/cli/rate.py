"""``cevns-fit rate MODEL``: expected signal and background counts of a detector model.

Builds the model's binned templates (quenching, smearing, efficiency) at its exposure, or at
``--exposure``, and prints the totals, the bins and the per-bin counts (flattened energy-major
for a multi-axis model, with its projections onto each axis under ``projections``); ``--out``
saves a plot of the templates (projected onto energy) and the signal's ±1σ variations.
"""

from __future__ import annotations

import argparse
import math

from cevns_fit.cli._common import MODEL_HELP, add_json_flag, positive_float, save_figure
from cevns_fit.cli.workspace import with_endpoint_note
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cevns_fit.registry import load_model
    from cevns_fit.templates import axis_spreads, build_templates, signal_templates_by_component

    if args.exposure is not None and not (math.isfinite(args.exposure) and args.exposure > 0):
        raise InputError(f"--exposure = {args.exposure!r}: must be a positive number (kg·yr)")
    model = load_model(args.model)
    templates = build_templates(model, args.exposure)
    main = templates.channels[0]
    signal = main.sample(templates.signal_sample)
    backgrounds = [s for s in main.samples if s.name != templates.signal_sample]
    background = sum((s.counts for s in backgrounds), 0.0 * signal.counts)
    by_component = signal_templates_by_component(model, exposure_kg_yr=templates.exposure_kg_yr)
    # as in build_templates: each component spread over time/psd (or its beam-window fraction)
    spreads = axis_spreads(model, model.bin_edges)
    inside = _in_main(model.bin_edges, main.bin_edges)
    result = {
        "model": model.name,
        "target": model.target.name,
        "source": model.source.name,
        "signal_events": signal.total,
        "background_events": float(background.sum()),
        "exposure_kg_yr": templates.exposure_kg_yr,
        "mass_kg": model.mass_kg,
        "channels": model.channels,
        "cost_usd": model.cost_usd,
        "cost_note": model.cost.note,
        "observable": model.observable,
        "threshold": model.threshold,
        "threshold_keVnr": model.threshold_keVnr,
        "bins": main.bin_edges,
        "signal": signal.counts,
        "background": background,
        "backgrounds": {s.name: s.counts for s in backgrounds},
        "background_events_by_name": {s.name: s.total for s in backgrounds},
        "signal_events_by_component": {
            k: float(
                np.sum(
                    v.nominal[inside].reshape((-1,) + (1,) * (spreads[k].ndim - 1))
                    * spreads[k][inside]
                )
            )
            for k, v in by_component.items()
        },
        "signal_variations": {
            k: {"down": float(lo.sum()), "up": float(hi.sum())}
            for k, (lo, hi) in signal.shape_sys.items()
        },
        "signal_norm_uncertainty": dict(signal.norm_sys),
        "protons_on_target": model.protons_on_target,
        "notes": list(templates.notes) + list(model.notes),
        "axes": list(main.axis_names),
    }
    if main.axes:
        result["projections"] = {
            a.name: {
                "label": a.label,
                "edges": a.edges,
                "signal": main.project(signal.counts, a.name),
                "background": main.project(background, a.name),
            }
            for a in main.axes
        }
    with_endpoint_note(result, model)
    if args.out:
        from cevns_fit.plots.captions import model_caption
        from cevns_fit.plots.templates import templates_figure

        fig = templates_figure(
            templates.projected("energy") if main.axes else templates,
            title=f"{model.name}: expected counts",
            subtitle=model_caption(model, templates.exposure_kg_yr),
            threshold=(model.threshold, *model.threshold_sigma),
        )
        result["plot"] = save_figure(fig, args.out)
    return result


def _in_main(model_edges, main_edges) -> slice:
    # build_templates may drop empty leading/trailing bins; line the full-range components up.
    import numpy as np

    start = int(np.searchsorted(model_edges, main_edges[0]))
    return slice(start, start + len(main_edges) - 1)


def _text(result: dict) -> None:
    print(
        f"{result['model']}: {result['target']} at {result['source']}, "
        f"{result['exposure_kg_yr']:.4g} kg·yr, threshold {result['threshold']:.4g} "
        f"{result['observable']} (≈ {result['threshold_keVnr']:.3g} keVnr)"
    )
    print(f"  CEvNS signal: {result['signal_events']:.4g} events")
    for name, n in result["signal_events_by_component"].items():
        print(f"    {name}: {n:.4g}")
    for name, v in result["signal_variations"].items():
        print(f"    {name} -1σ/+1σ: {v['down']:.4g} / {v['up']:.4g}")
    print(f"  background: {result['background_events']:.4g} events")
    for name, n in result["background_events_by_name"].items():
        print(f"    {name}: {n:.4g}")
    print(
        f"  mass {result['mass_kg']:g} kg, {result['channels']} channels, "
        f"cost {result['cost_usd']:.4g} USD ({result['cost_note']})"
    )
    for note in result["notes"]:
        print(f"  note: {note}")
    if "plot" in result:
        print(f"  plot: {result['plot']}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rate", help="expected CEvNS and background counts of a detector model")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument(
        "--exposure",
        type=positive_float,
        default=None,
        metavar="KG_YR",
        help="exposure [kg·yr] (default: the model's mass × live time)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PNG",
        help="write the templates (signal, backgrounds, ±1σ variations) to this image file",
    )
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
