"""``cevns-fit xsec``: σ_eff of a target at one neutrino energy and threshold."""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag
from cevns_fit.constants import SIN2_THETA_W

__all__ = ["FORM_FACTOR_NAMES", "add_parser", "add_target_options", "target_from_args"]

# The names of cevns_fit.form_factors.FORM_FACTORS (tests/test_cli_help.py keeps them equal),
# spelled out so that building the parser does not import scipy (fast `cevns-fit --help`).
FORM_FACTOR_NAMES = ("helm", "klein-nystrand", "none")


def add_target_options(parser: argparse.ArgumentParser, flag: str = "--target") -> None:
    parser.add_argument(
        flag, required=True, metavar="FORMULA", help="chemical formula, e.g. CsPbI3, Ge, CsI"
    )
    parser.add_argument(
        "--form-factor",
        choices=FORM_FACTOR_NAMES,
        default="helm",
        help="nuclear form factor F(q) (default helm)",
    )
    parser.add_argument(
        "--composition",
        default=None,
        metavar="SPEC",
        help="custom isotopic fractions by mass number, e.g. 'Ge:76=0.88,74=0.12;Pb:208=1' "
        "(default: natural abundances)",
    )
    parser.add_argument(
        "--sin2-theta-w",
        type=float,
        default=SIN2_THETA_W,
        metavar="VALUE",
        help=f"weak mixing angle sin^2(theta_W) at q -> 0, in (0, 1) (default {SIN2_THETA_W})",
    )


def target_from_args(formula: str, args: argparse.Namespace):
    from cevns_fit.physics import check_sin2_theta_w
    from cevns_fit.targets import make_target, parse_composition

    check_sin2_theta_w(args.sin2_theta_w, "--sin2-theta-w")
    composition = parse_composition(args.composition) if args.composition else None
    return make_target(formula, composition, strict=False)


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cevns_fit.cross_section import recoil_max_keVnr, sigma_eff

    target = target_from_args(args.target, args)
    kwargs = {"form_factor": args.form_factor, "sin2_theta_w": args.sin2_theta_w}
    per_nucleus = float(sigma_eff(args.enu, args.threshold, target, per="nucleus", **kwargs)[0, 0])
    per_kg = float(sigma_eff(args.enu, args.threshold, target, per="kg", **kwargs)[0, 0])
    e_max = recoil_max_keVnr(args.enu, target.mass_GeV)
    result = {
        "target": target.name,
        "enu_MeV": args.enu,
        "threshold_keVnr": args.threshold,
        "form_factor": args.form_factor,
        "sin2_theta_w": args.sin2_theta_w,
        "sigma_eff_cm2_per_nucleus": per_nucleus,
        "sigma_eff_cm2_per_kg": per_kg,
        "recoil_max_keVnr": float(np.max(e_max)),
        "recoil_max_keVnr_by_isotope": dict(zip(target.labels, e_max.tolist(), strict=True)),
        "nuclei_per_kg": target.total_nuclei_per_kg,
    }
    if per_nucleus == 0.0:
        result["note"] = (
            f"threshold {args.threshold:g} keVnr is above every recoil of {target.name} "
            f"at {args.enu:g} MeV (largest {np.max(e_max):.4g} keVnr): sigma_eff = 0"
        )
    return result


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("xsec", help="effective CEvNS cross-section of a target (seed Eq. 3)")
    add_target_options(p)
    p.add_argument("--enu", type=float, required=True, metavar="MEV", help="neutrino energy [MeV]")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        metavar="KEVNR",
        help="nuclear-recoil threshold [keVnr] (default 0)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)
