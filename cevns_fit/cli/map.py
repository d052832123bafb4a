"""``cevns-fit map MODEL_A MODEL_B --vary X=... --vary Y=...``: where does A beat B?"""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import (
    MODEL_HELP,
    add_executor_options,
    add_json_flag,
    add_progress_flag,
    save_figure,
)
from cevns_fit.errors import InputError

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> dict:
    from pathlib import Path

    from cevns_fit.mapping import exposure_ratio_map
    from cevns_fit.registry import detector_path
    from cevns_fit.scan import parse_vary

    if len(args.vary) != 2:
        raise InputError(f"--vary given {len(args.vary)} time(s): a map needs exactly two axes")
    x, y = (parse_vary(text) for text in args.vary)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    result = exposure_ratio_map(
        detector_path(args.model_a),
        detector_path(args.model_b),
        x,
        y,
        sigma=args.sigma,
        reference=args.reference,
        out_dir=out,
        executor=args.executor,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
    )
    payload = result.to_dict()
    payload["per"] = args.per
    if out is not None:
        import json

        from cevns_fit.cli._common import to_jsonable
        from cevns_fit.plots.map import ratio_map_figure

        figures = {}
        for per in ("kg", "dollar", "nucleus"):
            figures[per] = save_figure(ratio_map_figure(result, per), out / f"map_{per}.png")
        payload["figures"] = figures
        (out / "map.json").write_text(json.dumps(to_jsonable(payload), allow_nan=False) + "\n")
        payload["json"] = str(out / "map.json")
    return payload


def _text(result: dict) -> None:
    per = result["per"]
    print(
        f"{result['model_a']} vs {result['model_b']} ({result['reference']}), "
        f"median {result['sigma']:g}σ, ratio per {per} (< 1: {result['model_a']} needs less)"
    )
    x_name, y_name = result["axes"]
    print(f"{y_name:>12} \\ {x_name}: " + " ".join(f"{v:8.3g}" for v in result[x_name]))
    for y, row in zip(result[y_name], result["ratio"][per], strict=True):
        print(f"{y:>12.4g}    " + " ".join("       —" if v is None else f"{v:8.3g}" for v in row))
    edge = result["boundary"][per]
    if edge:
        print(f"boundary (ratio = 1), {x_name} at each {y_name}:")
        for bx, by in edge:
            print(f"  {y_name} {by:.4g}: {x_name} {bx:.4g}")
    for note in result["notes"]:
        print(f"note: {note}")
    for per_name, path in result.get("figures", {}).items():
        print(f"figure ({per_name}): {path}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "map",
        help="where model A beats model B: ratio of 5σ exposures over a 2-D grid of A's settings",
        description="Scan MODEL_A over two parameters (e.g. --vary threshold=5:30:26 --vary "
        "quenching=0.15:0.45:7) and compare the exposure each point needs for a median "
        "discovery with MODEL_B (as built, or at the same point with --reference same): ratios "
        "per kg, per dollar (the model files' cost assumptions) and per nucleus, and the "
        "boundary where they are equal. Resumable and Dask-capable like scan (--out DIR holds "
        "the scans, map.json and map_{kg,dollar,nucleus}.png).",
    )
    p.add_argument("model_a", metavar="MODEL_A", help=MODEL_HELP)
    p.add_argument("model_b", metavar="MODEL_B", help="the reference detector model")
    p.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="NAME=START:STOP:N",
        help="two grids of MODEL_A's parameters (as for scan): threshold [keVnr], quenching "
        "[the factor], mass [kg], background [scale], quenching_sigma [1σ units]",
    )
    p.add_argument(
        "--per",
        choices=("kg", "dollar", "nucleus"),
        default="kg",
        help="which ratio the text output shows (the JSON and figures hold all three)",
    )
    p.add_argument(
        "--reference",
        choices=("nominal", "same"),
        default="nominal",
        help="MODEL_B as built (default) or at the same grid point as MODEL_A",
    )
    p.add_argument(
        "--sigma", type=float, default=5.0, metavar="Z", help="discovery significance [sigma]"
    )
    p.add_argument("--out", metavar="DIR", help="folder for the scans (resumable), JSON and PNGs")
    add_executor_options(p)
    add_progress_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
