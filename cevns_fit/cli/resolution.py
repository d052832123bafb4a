"""``cevns-fit resolution``: the seed's Fig. 2 resolution fit and the threshold it implies.

R(E) = sqrt(A + B/E + C/E²) % FWHM (E in keVee) with the seed's parameters; prints the energy
where R = 100 % (the seed's threshold, ≈ 4.30 keVee) and, divided by an assumed quenching
factor, the nuclear-recoil threshold. We have only the fit, not the raw data of He et al. 2021.
"""

from __future__ import annotations

import argparse
import math

from cevns_fit.cli._common import add_json_flag, positive_float, save_figure
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]

# Largest --level accepted: R = 10⁴ % FWHM is reached at E ≈ 0.04 keVee already; far above it
# (R² overflows near 1e154) the quadratic for the threshold has no finite solution.
MAX_LEVEL_PERCENT = 1e4
DATA_NOTE = (
    "seed Fig. 2 fit (Jesus-Valls & Sanchez 2023) to CsPbBr3 data of He et al. 2021; "
    "only the fit parameters are available here, not the data points"
)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.resolution import (
        SEED_FIG2_A,
        SEED_FIG2_B,
        SEED_FIG2_C,
        seed_fwhm_percent,
        seed_threshold_keVee,
    )

    for name in ("level", "quenching"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"--{name} = {value!r}: must be a positive number")
    if args.level > MAX_LEVEL_PERCENT:
        raise InputError(
            f"--level = {args.level!r}: a resolution level is at most {MAX_LEVEL_PERCENT:g} % "
            "FWHM (beyond it the threshold energy underflows to 0)"
        )
    if args.quenching > 1:
        raise InputError(f"--quenching = {args.quenching!r}: a quenching factor is in (0, 1]")
    threshold = seed_threshold_keVee(args.level, SEED_FIG2_A, SEED_FIG2_B, SEED_FIG2_C)
    result = {
        "threshold_keVee_at_100pct": seed_threshold_keVee(100.0),
        "level_percent": args.level,
        "threshold_keVee_at_level": threshold,
        "quenching_assumed": args.quenching,
        "threshold_keVnr_at_level": threshold / args.quenching,
        "A": SEED_FIG2_A,
        "B": SEED_FIG2_B,
        "C": SEED_FIG2_C,
        "formula": "R(E) = sqrt(A + B/E + C/E^2) % FWHM, E in keVee",
        "fwhm_percent_at_keVee": {
            str(e): float(seed_fwhm_percent(e)) for e in (5.0, 10.0, 30.0, 59.5, 122.0, 662.0)
        },
        "note": DATA_NOTE,
    }
    if args.out:
        from cevns_fit.plots.resolution import resolution_figure

        fig = resolution_figure(level_percent=args.level)
        result["plot"] = save_figure(fig, args.out)
    return result


def _text(result: dict) -> None:
    print(
        f"R(E) = sqrt(A + B/E + C/E^2) % FWHM with A = {result['A']}, B = {result['B']}, "
        f"C = {result['C']}"
    )
    print(f"R = 100 % at {result['threshold_keVee_at_100pct']:.3f} keVee")
    print(
        f"R = {result['level_percent']:g} % at {result['threshold_keVee_at_level']:.3f} keVee "
        f"= {result['threshold_keVnr_at_level']:.2f} keVnr for Q = {result['quenching_assumed']:g}"
    )
    print(f"note: {result['note']}")
    if "plot" in result:
        print(f"plot: {result['plot']}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "resolution", help="the seed's CsPbBr3 resolution fit (Fig. 2) and threshold"
    )
    p.add_argument(
        "--level",
        type=positive_float,
        default=100.0,
        metavar="PERCENT",
        help="resolution level defining the threshold [%% FWHM/E] (default 100)",
    )
    p.add_argument(
        "--quenching",
        type=positive_float,
        default=0.3,
        metavar="Q",
        help="assumed quenching factor (keVee/keVnr) to quote the threshold in keVnr (default 0.3)",
    )
    p.add_argument(
        "--out", default=None, metavar="PNG", help="write the R(E) figure to this image file"
    )
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
