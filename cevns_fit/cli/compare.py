"""``cevns-fit compare MODEL MODEL...``: detector configurations side by side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cevns_fit.cli._common import (
    add_json_flag,
    add_progress_flag,
    atomic_output,
    int_at_least,
    positive_float,
    save_figure,
    to_jsonable,
)
from cevns_fit.errors import InputError
from cevns_fit.registry import load_model

__all__ = ["add_parser", "format_table"]

ROWS = [
    ("target", "target", "{}"),
    ("threshold [keVnr]", "threshold_keVnr", "{:.3g}"),
    ("mass [kg]", "mass_kg", "{:.4g}"),
    ("channels", "channels", "{:d}"),
    ("signal / kg·yr", "signal_events_per_kg_yr", "{:.4g}"),
    ("signal / nucleus·yr", "signal_events_per_nucleus_yr", "{:.3e}"),
    ("background / kg·yr", "background_events_per_kg_yr", "{:.4g}"),
    ("Z at reference exposure", "Z_at_reference_exposure", "{:.3f}"),
    ("exposure 3σ [kg·yr]", "exposure_kg_yr_3sigma", "{:.4g}"),
    ("exposure 5σ [kg·yr]", "exposure_kg_yr_5sigma", "{:.4g}"),
    ("cost of model array [USD]*", "cost_usd", "{:,.0f}"),
    ("cost per kg [USD]*", "cost_usd_per_kg", "{:,.0f}"),
    ("cost, 5σ in 1 yr [USD]*", "cost_usd_for_5sigma_in_1yr", "{:,.0f}"),
]


def format_table(result: dict) -> str:
    """The comparison as a plain-text table (one column per detector)."""
    detectors = result["detectors"]
    width = max(16, *(len(d["name"]) + 2 for d in detectors))
    lines = [f"{'':28}" + "".join(f"{d['name']:>{width}}" for d in detectors)]
    for label, key, fmt in ROWS:
        cells = []
        for d in detectors:
            value = d.get(key)
            if value is None and key == "Z_at_reference_exposure":
                cells.append("inf (no bkg)")  # background-free bins: p0 = 0 (JSON null)
            else:
                cells.append("unreachable" if value is None else fmt.format(value))
        lines.append(f"{label:28}" + "".join(f"{c:>{width}}" for c in cells))
    lines.append(f"reference exposure: {result['reference_exposure_kg_yr']:g} kg·yr")
    lines.append("* costs are assumptions of the model files:")
    for d in detectors:
        c = d["cost_assumptions"]
        lines.append(
            f"  {d['name']}: {c['material_usd_per_kg']:,.0f} USD/kg material, "
            f"{c['usd_per_channel']:,.0f} USD/channel ({c['note']})"
        )
    by_name = {d["name"]: d for d in detectors}
    for cross in result.get("crossover", []):
        kg, usd = cross["per_kg_threshold_keVnr"], cross["per_dollar_threshold_keVnr"]
        fmt = lambda v: "at no threshold" if v is None else f"below {v:.3g} keVnr"  # noqa: E731
        ref = by_name.get(cross["reference"], {})
        as_built = (
            f" as built ({ref['threshold_keVnr']:.3g} keVnr)" if "threshold_keVnr" in ref else ""
        )
        lines.append(
            f"{cross['challenger']} ({cross['quenching_label']}) beats {cross['reference']}"
            f"{as_built}: per kg {fmt(kg)}, per dollar {fmt(usd)}"
            + (f"  [{cross['note']}]" if cross.get("note") else "")
        )
        if cross["quenching_label"] == "nominal" and "curves_cross_per_kg_keVnr" in cross:
            kg_x, usd_x = (
                "at " + ", ".join(f"{x:.3g}" for x in cross[key]) + " keVnr"
                if cross[key]
                else "nowhere"
                for key in ("curves_cross_per_kg_keVnr", "curves_cross_per_dollar_keVnr")
            )
            lines.append(
                f"  at equal thresholds the 5σ curves cross {kg_x} per kg, {usd_x} per dollar"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cevns_fit.compare import (
        summarize,
        threshold_crossover,
        threshold_curves_of,
        z_vs_exposure,
    )
    from cevns_fit.scan import parse_vary

    if args.reference_exposure <= 0:
        raise InputError(f"--reference-exposure {args.reference_exposure}: must be > 0 kg·yr")
    models = [load_model(path) for path in args.models]
    # checked now, not after the long computation
    grid = np.array(parse_vary(f"threshold={args.thresholds}").values) if args.thresholds else None
    # checked before the long computation (cli.main: check_output), created only at the end
    # so that a failed or interrupted run leaves no empty folder behind
    out = Path(args.out) if args.out else None
    summaries = []
    for model in models:
        print(f"compare: {model.name}: significance and exposures", file=sys.stderr)
        summaries.append(summarize(model, args.reference_exposure))
    result: dict = {
        "reference_exposure_kg_yr": args.reference_exposure,
        "detectors": [s.to_dict() for s in summaries],
    }
    curves, crossovers = [], []
    if args.thresholds and len(models) >= 2:
        names = ", ".join(model.name for model in models)
        print(f"compare: {names}: 5 sigma exposure vs threshold", file=sys.stderr)
        curves += threshold_curves_of(
            models, grid, workers=args.workers, progress=not args.no_progress
        )
        challenger = [c for c in curves if c.name == models[0].name]
        for ref in summaries[1:]:
            ref_curves = [c for c in curves if c.name == ref.name]
            crossovers += threshold_crossover(challenger, ref, ref_curves)
        result["threshold_curves"] = [c.to_dict() for c in curves]
        result["crossover"] = [c.to_dict() for c in crossovers]
    if out is not None:
        from cevns_fit.plots.captions import comparison_caption, model_label
        from cevns_fit.plots.compare import exposure_vs_threshold_figure, z_vs_exposure_figure

        caption = comparison_caption(models)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot create the output folder ({exc})") from None
        exposures = np.geomspace(1e-2, 1e3, 31)
        z_by_model = {m.name: z_vs_exposure(m, exposures) for m in models}
        labels = {m.name: model_label(m) for m in models}
        fig = z_vs_exposure_figure(
            exposures,
            z_by_model,
            labels=labels,
            five_sigma_kg_yr={s.name: s.exposure_kg_yr_5sigma for s in summaries},
            caption=caption,
        )
        save_figure(fig, out / "z_vs_exposure.png")
        if curves:
            fig = exposure_vs_threshold_figure(curves, summaries, crossovers, caption=caption)
            save_figure(fig, out / "exposure_vs_threshold.png")
        for name, text in (
            ("compare.json", json.dumps(to_jsonable(result), indent=1)),
            ("compare.txt", format_table(to_jsonable(result))),
        ):
            with atomic_output(out / name) as tmp:
                tmp.write_text(text + "\n", encoding="utf-8")
        result["outputs"] = sorted(str(p) for p in out.iterdir())
        print(f"compare: wrote {len(result['outputs'])} files to {out}", file=sys.stderr)
    return result


def _text(result: dict) -> None:
    print(format_table(to_jsonable(result)))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare detector models per kg, per channel and per dollar")
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="detector models, TOML files or shipped names (the first is the challenger)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for the table, the JSON and the figures (created if missing)",
    )
    p.add_argument(
        "--reference-exposure",
        type=positive_float,
        default=1.0,
        metavar="KG_YR",
        help="exposure at which Z is quoted [kg·yr] (default 1)",
    )
    p.add_argument(
        "--thresholds",
        default="2:40:20",
        metavar="START:STOP:N",
        help="nuclear-recoil threshold grid [keVnr] of the 5σ-exposure curves and crossovers "
        "(default 2:40:20; '' to skip)",
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="worker processes for the threshold scans (default: all cores)",
    )
    add_progress_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
