"""``cevns-fit xsec``: σ_eff of a target at one neutrino energy and threshold."""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag, finite_float
from cevns_fit.constants import SIN2_THETA_W
from cevns_fit.errors import InputError

__all__ = [
    "FORM_FACTOR_NAMES",
    "MAX_ENU_MEV",
    "add_parser",
    "add_target_options",
    "check_enu",
    "target_from_args",
]

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


# Largest neutrino energy accepted on the command line: 10 GeV, far above every CEvNS source
# (pion decay at rest ≤ 52.8 MeV, supernovae ≲ 100 MeV); coherence is long lost there and
# beyond it E_ν² overflows the recoil kinematics (--enu 1e300 gave nulls).
MAX_ENU_MEV = 1e4


def target_from_args(formula: str, args: argparse.Namespace, *, others: tuple[str, ...] = ()):
    """The target of ``formula`` with ``--composition`` applied; an element of the composition
    that is in neither ``formula`` nor the ``others`` formulas of the same command is an error
    (it would be silently ignored). ``--sin2-theta-w`` must be in (0, 1)."""
    from cevns_fit.physics import check_sin2_theta_w
    from cevns_fit.targets import make_target, parse_composition

    check_sin2_theta_w(args.sin2_theta_w, "--sin2-theta-w")
    composition = parse_composition(args.composition) if args.composition else None
    if composition:
        targets = [make_target(f) for f in (formula, *others)]
        present = {label.rstrip("0123456789") for t in targets for label in t.labels}
        unknown = sorted(set(composition) - present)
        if unknown:
            formulas = ", ".join(repr(f) for f in (formula, *others))
            raise InputError(
                f"--composition {args.composition!r}: element(s) {unknown} not in {formulas}"
            )
    return make_target(formula, composition, strict=False)


def check_enu(enu_MeV, flag: str = "--enu") -> None:
    """Neutrino energies must be in (0, MAX_ENU_MEV] MeV."""
    import numpy as np

    enu = np.atleast_1d(np.asarray(enu_MeV, dtype=float))
    if not (np.all(np.isfinite(enu)) and np.all(enu > 0) and np.all(enu <= MAX_ENU_MEV)):
        raise InputError(
            f"{flag}: the neutrino energy must be in (0, {MAX_ENU_MEV:g}] MeV, got "
            f"{enu.min():g}..{enu.max():g}"
        )


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cevns_fit.cross_section import recoil_max_keVnr, sigma_eff

    check_enu(args.enu)
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
    p.add_argument(
        "--enu", type=finite_float, required=True, metavar="MEV", help="neutrino energy [MeV]"
    )
    p.add_argument(
        "--threshold",
        type=finite_float,
        default=0.0,
        metavar="KEVNR",
        help="nuclear-recoil threshold [keVnr] (default 0)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)
