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

from cevns_fit.cli._common import MODEL_HELP, add_json_flag, plain_text
from cevns_fit.errors import InputError

__all__ = ["add_parser", "run", "add_model_options", "templates_from_args"]


def add_model_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """MODEL, --exposure, --no-systematics and (optionally) --data, shared by the commands."""
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument(
        "--exposure",
        type=float,
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
            help="observed counts per bin (CSV or JSON, channels named as in the model)",
        )


def templates_from_args(args: argparse.Namespace):
    """The model's :class:`AnalysisTemplates` at ``--exposure``, with ``--data`` attached."""
    from cevns_fit.registry import load_model
    from cevns_fit.templates import build_templates

    exposure = getattr(args, "exposure", None)
    if exposure is not None and not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"--exposure {exposure!r}: must be a positive number of kg·yr")
    templates = build_templates(load_model(args.model), exposure_kg_yr=exposure)
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
    return templates


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "workspace",
        help="write the analysis of a detector model as a pyhf workspace (JSON)",
        description=plain_text(__doc__.split("\n\n")[0]),
    )
    add_model_options(parser)
    parser.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="write the pyhf workspace (JSON) here"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def run(args: argparse.Namespace) -> dict:
    from cevns_fit.likelihood import build_workspace, parameter_names

    templates = templates_from_args(args)
    workspace = build_workspace(templates, systematics=not args.no_systematics)
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise InputError(f"-o {out}: directory {out.parent} does not exist")
    out.write_text(json.dumps(workspace, indent=1) + "\n", encoding="utf-8")
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
