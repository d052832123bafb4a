"""``cevns-fit exposure MODEL [--sigma 5]``: exposure needed for a median expected Z.

Solves Z(exposure) = sigma by bracketing on ln(exposure) (the model is compiled once and
rescaled). Prints ``exposure_kg_yr`` = null with a ``reason`` when systematics cap the
significance below the target.
"""

from __future__ import annotations

import argparse
import math

from cevns_fit.cli._common import add_json_flag, plain_text
from cevns_fit.cli.workspace import (
    add_model_options,
    model_and_templates_from_args,
    with_endpoint_note,
)
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "exposure",
        help="exposure (kg·yr) for a median expected discovery significance",
        description=plain_text(__doc__.split("\n\n")[0]),
    )
    add_model_options(parser, data=False)
    parser.add_argument(
        "--sigma",
        type=float,
        default=5.0,
        metavar="Z",
        help="median expected discovery significance to reach [sigma] (default 5)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.inference import exposure_needed

    if not (math.isfinite(args.sigma) and args.sigma > 0):
        raise InputError(f"--sigma {args.sigma!r}: must be a positive number")
    model, templates = model_and_templates_from_args(args)
    result = exposure_needed(templates, args.sigma, systematics=not args.no_systematics)
    return with_endpoint_note(result.to_dict(), model)


def _print_text(result: dict) -> None:
    if result["exposure_kg_yr"] is None:
        print(f"{result['sigma']:g}σ is not reachable: {result['reason']}")
    else:
        print(
            f"{result['sigma']:g}σ (median expected) needs {result['exposure_kg_yr']:.4g} kg·yr "
            f"({result['n_fits']} fits)"
        )
    print(
        f"Z = {result['Z_at_reference']:.3f} at the reference "
        f"{result['reference_exposure_kg_yr']:.4g} kg·yr"
    )
    for note in result.get("notes", ()):
        print(f"note: {note}")
