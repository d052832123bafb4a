"""``cevns-fit rate MODEL``: expected signal and background counts of a detector model.

Builds the model's binned templates (quenching, smearing, efficiency) at its exposure, or at
``--exposure``, and prints the totals, the bins and the per-bin counts; ``--out`` saves a plot
of the templates and the signal's ±1σ variations.
"""

from __future__ import annotations

import argparse
import math

from cevns_fit.cli._common import add_json_flag, positive_float, save_figure
from cevns_fit.cli.workspace import with_endpoint_note
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import (
        beam_window_fractions,
        build_templates,
        signal_templates_by_component,
    )

    if args.exposure is not None and not (math.isfinite(args.exposure) and args.exposure > 0):
        raise InputError(f"--exposure = {args.exposure!r}: must be a positive number (kg·yr)")
    model = load_detector_model(args.model)
    templates = build_templates(model, args.exposure)
    main = templates.channels[0]
    signal = main.sample(templates.signal_sample)
    backgrounds = [s for s in main.samples if s.name != templates.signal_sample]
    background = sum((s.counts for s in backgrounds), 0.0 * signal.counts)
    by_component = signal_templates_by_component(model, exposure_kg_yr=templates.exposure_kg_yr)
    kept = beam_window_fractions(model)  # as in build_templates: events inside the beam window
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
            k: kept[k] * float(v.nominal[_in_main(model.bin_edges, main.bin_edges)].sum())
            for k, v in by_component.items()
        },
        "signal_variations": {
            k: {"down": float(lo.sum()), "up": float(hi.sum())}
            for k, (lo, hi) in signal.shape_sys.items()
        },
        "signal_norm_uncertainty": dict(signal.norm_sys),
        "protons_on_target": model.protons_on_target,
        "notes": list(templates.notes) + list(model.notes),
    }
    with_endpoint_note(result, model)
    if args.out:
        from cevns_fit.plots.templates import templates_figure

        fig = templates_figure(
            templates,
            title=f"{model.name}: {model.target.name}, {templates.exposure_kg_yr:.3g} kg·yr",
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
    p.add_argument("model", help="detector model (TOML), e.g. models/detectors/cspbi3_array.toml")
    p.add_argument(
        "--exposure",
        type=positive_float,
        default=None,
        help="exposure [kg·yr] (default: the model's mass × live time)",
    )
    p.add_argument("--out", default=None, help="write a plot of the templates to this PNG")
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
