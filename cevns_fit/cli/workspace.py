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

from cevns_fit.cli._common import MODEL_HELP, add_json_flag, atomic_output, check_output, plain_text
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
    parser.add_argument(
        "model",
        metavar="MODEL",
        help=MODEL_HELP + ", or a pyhf workspace (JSON; exposures are then multiples of the "
        "workspace's own)",
    )
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
            help="observed spectra (CSV or JSON, 1-D or N-D, channel names as in the model)",
        )
    parser.add_argument(
        "--project",
        metavar="AXIS",
        choices=("energy", "time", "psd"),
        help="use the projection of a multi-axis model onto one axis (energy, time or psd)",
    )


def templates_from_args(args: argparse.Namespace):
    """The model's :class:`AnalysisTemplates` at ``--exposure``, with ``--data`` attached and
    projected onto ``--project``; MODEL may be a detector model or a pyhf workspace."""
    return model_and_templates_from_args(args)[1]


def model_and_templates_from_args(args: argparse.Namespace):
    """(detector model, or None for a pyhf workspace; its :class:`AnalysisTemplates` at
    ``--exposure`` with ``--data`` attached, projected onto ``--project``)."""
    from cevns_fit import spectra
    from cevns_fit.registry import detector_path

    exposure = getattr(args, "exposure", None)
    if exposure is not None and not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"--exposure {exposure!r}: must be a positive number of kg·yr")
    data_path = getattr(args, "data", None)
    if data_path and not Path(data_path).is_file():
        raise InputError(f"{data_path}: data file not found")
    project = getattr(args, "project", None)
    if str(args.model).lower().endswith(".json"):
        from cevns_fit.likelihood import templates_from_workspace

        model_path = Path(args.model)
        if not model_path.is_file():
            raise InputError(f"{model_path}: model file not found")
        if project is not None:
            raise InputError(
                f"--project {project}: {model_path} is a pyhf workspace, which has no axes"
            )
        try:
            spec = json.loads(model_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{model_path}: not a JSON file ({exc})") from None
        templates = templates_from_workspace(spec, source=str(model_path))
        if exposure is not None:
            templates = templates.scaled_to(exposure)
        if data_path:
            bins = {ch.name: ch.n_bins for ch in templates.channels}
            templates = templates.with_data(
                spectra.data_for_channels(
                    spectra.read_spectra(data_path), bins, source=str(data_path)
                )
            )
        return None, templates

    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    model_path = detector_path(args.model)
    model = load_detector_model(model_path)
    if project is not None and (project not in model.axis_names or len(model.axis_names) == 1):
        raise InputError(
            f"--project {project}: the model {model_path} has the axes "
            f"{list(model.axis_names)}; projecting needs a multi-axis model with that axis"
        )
    templates = build_templates(model, exposure_kg_yr=exposure)
    if data_path:
        templates = templates.with_data(
            spectra.observed_counts(templates, axis_edges=model.axis_edges, path=data_path)
        )
    if project is not None:
        templates = templates.projected(project)
    return model, templates


def with_endpoint_note(result: dict, model) -> dict:
    """``result`` with :func:`cevns_fit.detector.recoil_endpoint_note` added to its ``notes``
    (nothing for a pyhf workspace, ``model`` None)."""
    if model is None:
        return result
    from cevns_fit.detector import recoil_endpoint_note

    note = recoil_endpoint_note(model)
    if note:
        result["notes"] = [*result.get("notes", ()), note]
    return result


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
