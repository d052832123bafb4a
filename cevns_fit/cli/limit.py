"""``cevns-fit limit MODEL [--cl 0.9] [--data FILE]``: CLs upper limit on the signal strength μ.

Asymptotic CLs with the q̃_μ test statistic (Cowan et al., arXiv:1007.1727). The expected
limit and its ±1σ/±2σ band use background-only Asimov data at nominal nuisances; with
``--data`` the observed limit is added.
"""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag, finite_float, plain_text
from cevns_fit.cli.workspace import (
    add_model_options,
    model_and_templates_from_args,
    with_endpoint_note,
)
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "limit",
        help="CLs upper limit on the CEvNS signal strength mu (expected, observed with data)",
        description=plain_text(__doc__.split("\n\n")[0]),
    )
    add_model_options(parser)
    parser.add_argument(
        "--cl",
        type=finite_float,
        default=0.9,
        metavar="CL",
        help="confidence level of the CLs upper limit, a fraction (default 0.9)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.inference import upper_limit

    if not 0.5 <= args.cl < 1:
        raise InputError(f"--cl {args.cl!r}: a confidence level in [0.5, 1), e.g. 0.9")
    model, templates = model_and_templates_from_args(args)
    result = upper_limit(templates, args.cl, systematics=not args.no_systematics)
    return with_endpoint_note(result.to_dict(), model)


def _print_text(result: dict) -> None:
    cl = f"{100 * result['cl']:g}% CL"
    if result["mu_upper_expected"] is None:
        print(f"no limit: {'; '.join(result['notes'])}")
        return
    band = result["mu_upper_expected_band"]
    print(
        f"expected {cl} upper limit: mu < {result['mu_upper_expected']:.4g} "
        f"(±1σ: {band['-1']:.4g}–{band['1']:.4g}, ±2σ: {band['-2']:.4g}–{band['2']:.4g}); "
        f"{result['signal_events_upper_expected']:.4g} CEvNS events"
    )
    if "mu_upper_observed" in result:
        print(
            f"observed {cl} upper limit: mu < {result['mu_upper_observed']:.4g} "
            f"({result['signal_events_upper_observed']:.4g} CEvNS events)"
        )
    for note in result.get("notes", ()):
        print(f"note: {note}")
