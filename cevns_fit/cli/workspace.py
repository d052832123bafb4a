"""``cevns-fit workspace MODEL [--exposure KG_YR] -o FILE``: write the analysis as a pyhf workspace.

The file loads in plain pyhf (``pyhf inspect FILE``, ``pyhf fit FILE``): every number this
project quotes can be reproduced from it. Without ``--data`` the observations are the Asimov
counts at μ = 1 (the median expectation). Also home of the helpers the other likelihood
commands share: a detector model (and optional data file) → :class:`AnalysisTemplates`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from cevns_fit.cli._common import add_json_flag, atomic_output, check_output
from cevns_fit.errors import InputError

__all__ = [
    "add_parser",
    "run",
    "add_model_options",
    "model_and_templates_from_args",
    "templates_from_args",
    "with_endpoint_note",
]


def add_model_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """MODEL, --exposure, --no-systematics and (optionally) --data, shared by the commands."""
    parser.add_argument("model", metavar="MODEL", help="detector model file (TOML)")
    parser.add_argument(
        "--exposure",
        type=float,  # checked in templates_from_args (one line naming --exposure)
        metavar="KG_YR",
        help="exposure in kg·yr (default: the model's mass × live time)",
    )
    parser.add_argument(
        "--no-systematics",
        action="store_true",
        help="drop normsys/histosys/staterror (free normalisations and control channels stay)",
    )
    if data:
        parser.add_argument(
            "--data",
            metavar="FILE",
            help="observed spectra (CSV or JSON, channel names as in the model)",
        )


def templates_from_args(args: argparse.Namespace):
    """The model's :class:`AnalysisTemplates` at ``--exposure``, with ``--data`` attached."""
    return model_and_templates_from_args(args)[1]


def model_and_templates_from_args(args: argparse.Namespace):
    """(detector model, its :class:`AnalysisTemplates` at ``--exposure`` with ``--data``)."""
    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    exposure = getattr(args, "exposure", None)
    if exposure is not None and not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"--exposure {exposure!r}: must be a positive number of kg·yr")
    model_path = Path(args.model)
    if not model_path.is_file():
        raise InputError(f"{model_path}: model file not found")
    model = load_detector_model(model_path)
    templates = build_templates(model, exposure_kg_yr=exposure)
    data_path = getattr(args, "data", None)
    if data_path:
        from cevns_fit import spectra

        bins = {ch.name: ch.n_bins for ch in templates.channels}
        if not Path(data_path).is_file():
            raise InputError(f"{data_path}: data file not found")
        data = spectra.data_for_channels(
            spectra.read_spectra(data_path), bins, source=str(data_path)
        )
        templates = templates.with_data(data)
    return model, templates


def with_endpoint_note(result: dict, model) -> dict:
    """``result`` with :func:`cevns_fit.detector.recoil_endpoint_note` added to its ``notes``."""
    from cevns_fit.detector import recoil_endpoint_note

    note = recoil_endpoint_note(model)
    if note:
        result["notes"] = [*result.get("notes", ()), note]
    return result


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "workspace",
        help="write the analysis of a detector model as a pyhf workspace (JSON)",
        description=__doc__.split("\n\n")[0],
    )
    add_model_options(parser)
    parser.add_argument("-o", "--out", required=True, metavar="FILE", help="output JSON file")
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.likelihood import build_workspace, parameter_names

    templates = templates_from_args(args)
    workspace = build_workspace(templates, systematics=not args.no_systematics)
    out = check_output(args.out, "-o/--out", "file")
    with atomic_output(out, "-o/--out") as tmp:
        tmp.write_text(json.dumps(workspace, indent=1) + "\n", encoding="utf-8")
    return {
        "path": str(out),
        "parameters": parameter_names(workspace),
        "poi": "mu",
        "channels": [ch["name"] for ch in workspace["channels"]],
        "exposure_kg_yr": templates.exposure_kg_yr,
        "observations": "data" if args.data else "Asimov at mu = 1",
    }


def _print_text(result: dict) -> None:
    print(
        f"wrote {result['path']} (exposure {result['exposure_kg_yr']:.6g} kg·yr, "
        f"observations: {result['observations']})"
    )
    print(f"channels: {', '.join(result['channels'])}")
    print(f"parameters: {', '.join(result['parameters'])} (POI: mu)")
