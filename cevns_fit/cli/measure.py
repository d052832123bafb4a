"""``cevns-fit measure MODEL [--data FILE | --expected] --poi NAME=START:STOP:N[,...]``:
profile-likelihood measurement of one or two physics parameters.

The templates are rebuilt exactly at every grid value, the CEvNS normalisation is fixed to the
Standard Model (μ = 1) and every nuisance is profiled; best fit, −2Δln L curve (or grid) and
68/90/95 % CL intervals by Wilks' theorem. Parameters: sin2_theta_w, eps_u_ee, eps_d_ee (any
NSI coupling eps_{u,d}_{ee,mumu,...}), magnetic_moment_e_muB, neutron_rms_radius_fm.Cs,I (one
shared radius), neutron_skin_fm.Pb, mediator_coupling, and quenching (a constant quenching
factor replaces the model's). Data: the model's [[observations]] by default, --data FILE, or
--expected (Asimov at the model's own physics: a projection).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cevns_fit.cli._common import MODEL_HELP, add_json_flag, plain_text, save_figure, to_jsonable
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "measure",
        help="profile-likelihood measurement of physics parameters (sin2_theta_w, a neutron "
        "radius, NSI, the quenching factor): best fit, curve, Wilks intervals",
        description=plain_text(__doc__.split("\n\n", 1)[1]),
    )
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument(
        "--poi",
        required=True,
        metavar="NAME=START:STOP:N[,NAME=START:STOP:N]",
        help="one or two parameters of interest and their grids, e.g. "
        "sin2_theta_w=0.1:0.4:31 or eps_u_ee=-1:1:41,eps_d_ee=-1:1:41",
    )
    parser.add_argument("--data", metavar="FILE", help="observed spectra (CSV or JSON)")
    parser.add_argument(
        "--expected",
        action="store_true",
        help="Asimov data at the model's own physics (an expected-precision projection)",
    )
    parser.add_argument(
        "--exposure", type=float, metavar="KG_YR", help="exposure in kg·yr (default: the model's)"
    )
    parser.add_argument(
        "--project",
        metavar="AXIS",
        choices=("energy", "time", "psd"),
        help="use the projection of a multi-axis model onto one axis (energy, time or psd)",
    )
    parser.add_argument(
        "--toys",
        type=int,
        default=0,
        metavar="N",
        help="1-D only: N pseudo-experiments at --toys-at to check the Wilks thresholds",
    )
    parser.add_argument(
        "--toys-at",
        type=float,
        metavar="VALUE",
        help="where the toys are thrown (default: best fit)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the toys (default 1)")
    parser.add_argument("--out", metavar="DIR", help="folder for measure.json and the figure")
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    import math

    from cevns_fit import spectra
    from cevns_fit.detector import load_detector_model
    from cevns_fit.measure import measure, parse_poi
    from cevns_fit.registry import detector_path
    from cevns_fit.templates import build_templates

    pois = parse_poi(args.poi)
    if args.data and args.expected:
        raise InputError("--data and --expected: give one or the other")
    if args.exposure is not None and not (math.isfinite(args.exposure) and args.exposure > 0):
        raise InputError(f"--exposure {args.exposure!r}: must be a positive number of kg·yr")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    model = load_detector_model(detector_path(args.model))
    data = None
    if args.data:
        if not Path(args.data).is_file():
            raise InputError(f"{args.data}: data file not found")
        templates = build_templates(model, args.exposure)
        data = spectra.observed_counts(templates, axis_edges=model.axis_edges, path=args.data)
    result = measure(
        model,
        pois,
        data=data,
        expected=args.expected,
        exposure_kg_yr=args.exposure,
        toys=args.toys,
        toys_at=args.toys_at,
        seed=args.seed,
        project=args.project,
    )
    if out is not None:
        from cevns_fit.plots.measure import contour_figure, curve_figure

        out.mkdir(parents=True, exist_ok=True)
        figure = curve_figure(result) if len(pois) == 1 else contour_figure(result)
        result["figure"] = save_figure(figure, out / "measure.png")
        result["json"] = str(out / "measure.json")
        (out / "measure.json").write_text(
            json.dumps(to_jsonable(result), allow_nan=False) + "\n", encoding="utf-8"
        )
    return result


def _fmt_segments(segments) -> str:
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in segments) or "empty"


def _print_text(result: dict) -> None:
    print(f"{result['model']} ({result['exposure_kg_yr']:.4g} kg·yr), data: {result['data']}")
    if len(result["poi"]) == 1:
        name = result["poi"][0]
        print(f"best fit {name} = {result['best_fit']:.5g}")
        if "delta_chi2_at_model_value" in result:
            print(
                f"model value {result['standard_model'][name]:.5g}: "
                f"Δχ² = {result['delta_chi2_at_model_value']:.3g}"
            )
        for e in result["intervals"]:
            print(
                f"  {100 * e['cl']:.0f} % CL (Δχ² < {e['delta_chi2']:.3g}): "
                f"{_fmt_segments(e['segments'])}"
            )
        toys = result.get("toys")
        if toys:
            print(f"toys at {name} = {toys['at']:.5g} ({toys['n_toys']}, seed {toys['seed']}):")
            for lv in toys["levels"]:
                print(
                    f"  {100 * lv['cl']:.0f} %: toy Δχ² {lv['toy_delta_chi2']:.3g} vs Wilks "
                    f"{lv['wilks_delta_chi2']:.3g}; Wilks coverage {lv['wilks_coverage']:.3f} "
                    f"± {lv['wilks_coverage_error']:.3f}"
                )
    else:
        best = ", ".join(f"{k} = {v:.4g}" for k, v in result["best_fit"].items())
        print(f"best fit {best}")
        for e in result["intervals"]:
            ext = e.get("extent")
            span = (
                "; ".join(f"{k} in [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in ext.items())
                if ext
                else "empty"
            )
            print(f"  {100 * e['cl']:.0f} % CL (Δχ² < {e['delta_chi2']:.3g}): {span}")
    for note in result["notes"]:
        print(f"note: {note}")
    if "figure" in result:
        print(f"figure: {result['figure']}; JSON: {result['json']}")
