"""``cevns-fit scan MODEL --vary NAME=START:STOP:N ...``: resumable sensitivity scans."""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import (
    MODEL_HELP,
    add_executor_options,
    add_json_flag,
    add_progress_flag,
    positive_float,
)
from cevns_fit.registry import detector_path

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.scan import parse_vary, run_scan

    if args.sigma is None:
        args.sigma = [3.0, 5.0]
    axes = [parse_vary(text) for text in args.vary]
    result = run_scan(
        detector_path(args.model),
        axes,
        out=args.out,
        executor=args.executor,
        scheduler=args.scheduler,
        workers=args.workers,
        sigmas=tuple(args.sigma),
        progress=not args.no_progress,
    )
    return result.to_dict()


def _text(result: dict) -> None:
    names = list(result["vary"])
    header = (
        names + ["Z_expected"] + [k for k in result["points"][0] if k.startswith("exposure_kg_yr_")]
    )
    print("  ".join(f"{h:>22}" for h in header))
    for point in result["points"]:
        row = [point.get(h) for h in header]
        print("  ".join(f"{v:>22.5g}" if isinstance(v, float) else f"{v!s:>22}" for v in row))
    print(f"{result['computed']} point(s) computed, {result['resumed']} resumed")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="scan Z and exposures needed over a grid of model parameters",
        description="Median expected Z and the exposures needed for each --sigma over a grid "
        "of model parameters. Each finished point is one JSON line in --out: the varied values "
        "under their names (threshold, exposure, ...), Z_expected and p0_expected at "
        "at_exposure_kg_yr, and the exposure needed as exposure_kg_yr_3sigma, "
        "exposure_kg_yr_5sigma (null with reason_5sigma when unreachable).",
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="NAME=START:STOP:N",
        help="parameter grid, linear (or NAME=v1,v2,...), repeatable: threshold [keVnr, "
        "nuclear recoil; converted to the model's observable at nominal quenching], quenching "
        "[the factor for a constant model, else a scale on Q(E)], mass [kg], exposure [kg·yr], "
        "background [scale on every rate], quenching_sigma [shift in the model's 1σ]",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="JSON-lines results file; re-running with the same file resumes",
    )
    add_executor_options(p)
    p.add_argument(
        "--sigma",
        type=positive_float,
        action="append",
        default=None,
        metavar="Z",
        help="significance for the exposure needed, repeatable [sigma] (default 3 and 5)",
    )
    add_progress_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
