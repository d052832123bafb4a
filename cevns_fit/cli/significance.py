"""``cevns-fit significance MODEL [--exposure KG_YR] [--data FILE]``: discovery significance.

Median expected Z from Asimov data generated at μ = 1 and tested at μ = 0 with q0 (pyhf #1810
explains why not the pyhf default); with ``--data`` also the observed Z. ``--method auto``
(default) uses toys, or the exact Poisson tail for single-bin counting, when fewer than five
background events are expected; the output's ``method`` says which was used.
"""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag, int_at_least, plain_text
from cevns_fit.cli.workspace import (
    add_model_options,
    model_and_templates_from_args,
    with_endpoint_note,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "significance",
        help="median expected (and observed) CEvNS discovery significance",
        description=plain_text(__doc__.split("\n\n")[0]),
    )
    add_model_options(parser)
    parser.add_argument(
        "--method",
        choices=("auto", "asymptotic", "toys", "exact"),
        default="auto",
        help="asymptotic formulae, seeded toys, exact Poisson (single bin) or auto (default)",
    )
    parser.add_argument(
        "--toys",
        type=int_at_least(10),
        default=2000,
        metavar="N",
        help="toys per hypothesis (default 2000)",
    )
    parser.add_argument(
        "--seed",
        type=int_at_least(0),
        default=0,
        metavar="N",
        help="seed of the toys' generator (default 0)",
    )
    parser.add_argument(
        "--impacts",
        action="store_true",
        help="also rank the nuisance parameters by the significance each one costs",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.inference import expected_significance, significance_impacts

    model, templates = model_and_templates_from_args(args)
    result = expected_significance(
        templates,
        method=args.method,
        systematics=not args.no_systematics,
        n_toys=args.toys,
        seed=args.seed,
    ).to_dict()
    if args.impacts:
        result["impacts"] = significance_impacts(templates).to_dict()
    return with_endpoint_note(result, model)


def _print_text(result: dict) -> None:
    print(
        f"exposure {result['exposure_kg_yr']:.6g} kg·yr: {result['signal_events']:.4g} CEvNS "
        f"and {result['background_events']:.4g} background events expected"
    )
    print(
        f"median expected Z = {result['Z_expected']:.3f} (p0 = {result['p0_expected']:.3g}, "
        f"{result['method']}{'' if result['systematics'] else ', no systematics'})"
    )
    if "Z_observed" in result:
        print(f"observed Z = {result['Z_observed']:.3f} (p0 = {result['p0_observed']:.3g})")
    if "impacts" in result:
        imp = result["impacts"]
        print(f"statistics-only Z = {imp['Z_stat_only']:.3f}; Z with one parameter fixed:")
        for row in imp["impacts"]:
            print(f"  {row['parameter']:<28s} Z = {row['Z_fixed']:.3f} ({row['delta_Z']:+.3f})")
    for note in result["notes"]:
        print(f"note: {note}")
