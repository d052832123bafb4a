"""``cevns-fit scan MODEL --vary NAME=START:STOP:N ...``: resumable sensitivity scans."""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag, int_at_least, positive_float
from cevns_fit.scan import VARY_NAMES, parse_vary, run_scan

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> dict:
    if args.sigma is None:
        args.sigma = [3.0, 5.0]
    axes = [parse_vary(text) for text in args.vary]
    result = run_scan(
        args.model,
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
    p = sub.add_parser("scan", help="scan Z and exposures needed over a grid of model parameters")
    p.add_argument("model", help="detector model TOML")
    p.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="NAME=START:STOP:N",
        help=f"parameter grid (repeatable); NAME one of {', '.join(VARY_NAMES)}",
    )
    p.add_argument(
        "--out", default=None, help="JSON-lines results file; re-running resumes from it"
    )
    p.add_argument("--executor", choices=["local", "dask"], default="local")
    p.add_argument(
        "--scheduler", default=None, help="dask scheduler address (default: a LocalCluster)"
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        help="worker processes (default: all cores)",
    )
    p.add_argument(
        "--sigma",
        type=positive_float,
        action="append",
        default=None,
        help="significance(s) for the exposure needed (default 3 and 5)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
