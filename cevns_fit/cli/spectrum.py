"""``cevns-fit spectrum``: the CEvNS recoil spectrum dR/dE_R of a target at a source, and its
total above a threshold (true nuclear-recoil energies, no detector response).

``--source`` takes a source model file (TOML) or the name of a shipped source
(``sns``, ``reactor``, ``ess``, ``csns``, ``jparc_mlf``, ``supernova``, ...; ``cevns-fit models
--kind source`` lists them).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from cevns_fit.cli._common import (
    add_json_flag,
    finite_float,
    int_at_least,
    positive_float,
    save_figure,
)
from cevns_fit.cli.xsec import add_target_options, target_from_args
from cevns_fit.constants import DAYS_PER_YEAR
from cevns_fit.errors import InputError
from cevns_fit.registry import source_path

__all__ = ["add_parser", "resolve_source_path", "run"]


def resolve_source_path(text: str) -> Path:
    """A source file as given, else the shipped source of that name (``sns``, ``reactor``)."""
    try:
        return source_path(text)
    except InputError as exc:
        raise InputError(f"--source: {exc}") from None


def _positive_finite(value: float | None, flag: str, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise InputError(
            f"{flag} = {value!r}: must be a finite number {'>= 0' if allow_zero else '> 0'}"
        )


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cevns_fit.rates import (
        differential_rate,
        events_per_burst,
        sum_components,
        total_rate_by_component,
    )
    from cevns_fit.sources import load_source

    _positive_finite(args.threshold, "--threshold", allow_zero=True)
    _positive_finite(args.distance, "--distance")
    _positive_finite(args.emax, "--emax")
    if args.n_points < 2:
        raise InputError(f"--n-points = {args.n_points}: must be >= 2")
    target = target_from_args(args.target, args)
    source = load_source(resolve_source_path(args.source))
    if args.distance is not None:
        source = source.at_distance(args.distance)
    kwargs = {"form_factor": args.form_factor, "sin2_theta_w": args.sin2_theta_w}

    if args.emax is None:
        from cevns_fit.plots.spectra import recoil_energy_grid_keVnr

        energies = recoil_energy_grid_keVnr([target], source, args.n_points)
    else:
        energies = np.linspace(0.0, args.emax, args.n_points)
    by_component = differential_rate(energies, target, source, **kwargs)
    totals = {
        k: float(v[0])
        for k, v in total_rate_by_component(args.threshold, target, source, **kwargs).items()
    }
    events_per_kg_day = float(sum(totals.values()))

    result = {
        "target": target.name,
        "source": source.name,
        "source_kind": source.kind,
        "distance_m": source.distance_m,
        "form_factor": args.form_factor,
        "threshold_keVnr": args.threshold,
        "flux_cm2_s": source.total_flux_cm2_s,
        "flux_uncertainty": source.flux_uncertainty,
        "flux_by_component_cm2_s": {c.name: c.flux_cm2_s for c in source.components},
        "events_per_kg_day": events_per_kg_day,
        "events_per_kg_yr": events_per_kg_day * DAYS_PER_YEAR,
        "events_per_kg_day_by_component": totals,
        "energies_keVnr": energies,
        "dR_dE_per_kg_day_keV": sum_components(by_component),
        "dR_dE_per_kg_day_keV_by_component": by_component,
    }
    if source.burst_duration_s is not None:
        result["burst_duration_s"] = source.burst_duration_s
        result["events_per_kg_burst"] = float(events_per_burst(events_per_kg_day, source))
        result["note_burst"] = (
            "burst source: flux = fluence / burst_duration_s; events per burst = "
            "events_per_kg_day * burst_duration_s / 86400"
        )
    if events_per_kg_day == 0.0:
        result["note"] = (
            f"threshold {args.threshold:g} keVnr is above every recoil {target.name} can get "
            f"from {source.name}: no events"
        )
    if args.out:
        from cevns_fit.plots.spectra import component_spectra_figure

        figure = component_spectra_figure(
            target,
            source,
            form_factor=args.form_factor,
            threshold_keVnr=args.threshold,
            events_per_kg_day=events_per_kg_day,
        )
        result["figure"] = save_figure(figure, args.out)
    return result


def _print_text(result: dict) -> None:
    print(
        f"{result['target']} at {result['source']} ({result['source_kind']}, "
        f"{result['distance_m']} m), form factor {result['form_factor']}"
    )
    print(
        f"  flux (all flavours): {result['flux_cm2_s']:.4g} /cm2/s "
        f"(±{100 * result['flux_uncertainty']:.3g} %)"
    )
    print(
        f"  events above {result['threshold_keVnr']:g} keVnr: "
        f"{result['events_per_kg_day']:.4g} /kg/day"
        f" = {result['events_per_kg_yr']:.4g} /kg/yr"
    )
    for name, value in result["events_per_kg_day_by_component"].items():
        print(f"    {name:20s} {value:.4g} /kg/day")
    if "events_per_kg_burst" in result:
        print(f"  events per kg for the burst: {result['events_per_kg_burst']:.4g}")
    if "note" in result:
        print(f"  note: {result['note']}")
    if "figure" in result:
        print(f"  figure: {result['figure']}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spectrum", help="CEvNS recoil spectrum dR/dE_R of a target at a neutrino source"
    )
    add_target_options(p)
    p.add_argument(
        "--source",
        required=True,
        help="source model: a TOML file or a shipped name, e.g. sns, reactor (cevns-fit models)",
    )
    p.add_argument(
        "--threshold",
        type=finite_float,
        default=0.0,
        metavar="KEVNR",
        help="nuclear-recoil threshold for the total, marked on the figure [keVnr] (default 0)",
    )
    p.add_argument(
        "--distance",
        type=positive_float,
        default=None,
        metavar="M",
        help="move the source to this distance [m] (default: the source file's)",
    )
    p.add_argument(
        "--emax",
        type=positive_float,
        default=None,
        metavar="KEVNR",
        help="largest recoil energy of the grid [keVnr] (default: the kinematic endpoint)",
    )
    p.add_argument(
        "--n-points",
        type=int_at_least(2),
        default=200,
        metavar="N",
        help="points of the recoil-energy grid (default 200)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PNG",
        help="write dR/dE_R by flux component to this image file",
    )
    add_json_flag(p)
    p.set_defaults(func=run, text=_print_text)
