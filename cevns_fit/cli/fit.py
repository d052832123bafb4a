"""``cevns-fit fit MODEL --data FILE``: maximum-likelihood fit of measured spectra.

MODEL is a detector model (TOML, or a shipped name such as ``coherent_csi_2017``) or a pyhf
workspace (JSON, e.g. written by ``cevns-fit workspace``). Without ``--data`` a detector model
is fitted to the data it ships (its ``[[observations]]``). ``--data`` is a spectrum file whose
channel names match the model's channels (CSV or JSON, 1-D or N-D, formats in
:mod:`cevns_fit.spectra`); its bins must line up with the model's. ``--project AXIS`` fits the
projection of every channel onto one axis (e.g. ``--project energy``: the energy-only fit of an
energy × time model). With ``--out PNG`` the post-fit figure is saved.

A fit that does not converge is an error (exit code 3), never a number.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cevns_fit.cli._common import add_json_flag, plain_text, save_figure
from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.registry import data_set_path, detector_path

__all__ = ["add_parser", "run", "fit_model_to_data", "fit_summary"]

# Keys of DESIGN.md §3 first, then the extras.
_KEYS = (
    "mu",
    "mu_err",
    "mu_minos",
    "signal_events",
    "signal_events_err",
    "signal_events_expected",
    "Z_observed",
    "p0_observed",
    "parameters",
    "pulls",
    "correlation",
    "goodness_of_fit",
    "converged",
    "status",
    "at_bounds",
    "near_bounds",
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a measured spectrum: mu, signal events, pulls, observed significance",
        description=plain_text(__doc__.split("\n\n")[1]),
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="detector model (a .toml file or a shipped name, e.g. coherent_csi_2017) or a pyhf "
        "workspace (.json)",
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="spectrum file (CSV/JSON, channels named as in the model); default: the data the "
        "model ships in its [[observations]]",
    )
    parser.add_argument(
        "--project",
        metavar="AXIS",
        choices=("energy", "time", "psd"),
        help="fit the projection onto one axis (energy, time or psd) of a multi-axis model",
    )
    parser.add_argument("--energy-only", action="store_true", help="the same as --project energy")
    parser.add_argument(
        "--no-minos", action="store_true", help="skip MINOS (asymmetric) errors on mu"
    )
    parser.add_argument(
        "--out", metavar="PNG", help="save the post-fit figure (data, stacked fit) here"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def _workspace_and_plot_options(model_path: Path, data_path: Path | None, *, project):
    """(workspace dict, plot keyword arguments) for a model file and a data file (or the
    model's own observations)."""
    from cevns_fit import likelihood, spectra

    if model_path.suffix.lower() == ".json":
        if project is not None:
            raise InputError(
                f"--project {project}: {model_path} is a pyhf workspace, which has no axes; "
                "give a detector model"
            )
        if data_path is None:
            raise InputError(f"{model_path}: a pyhf workspace needs --data FILE")
        workspace = _read_workspace(model_path)
        if data_path.is_dir():
            raise InputError(f"{data_path}: a directory; a pyhf workspace needs a spectrum file")
        bins = {ch["name"]: len(ch["samples"][0]["data"]) for ch in workspace["channels"]}
        data = spectra.data_for_channels(
            spectra.read_spectra(data_path), bins, source=str(data_path)
        )
        workspace["observations"] = [{"name": ch, "data": data[ch].tolist()} for ch in bins]
        return workspace, {}

    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    model = load_detector_model(model_path)
    if project is not None and (project not in model.axis_names or len(model.axis_names) == 1):
        raise InputError(
            f"--project {project}: the model {model_path} has the axes "
            f"{list(model.axis_names)}; projecting needs a multi-axis model with that axis"
        )
    templates = build_templates(model)
    if data_path is None:
        if not model.observations:
            raise InputError(f"{model_path}: the model ships no [[observations]]; give --data FILE")
        tables = {o.channel: o.table for o in model.observations}
        data = spectra.observed_counts(templates, axis_edges=model.axis_edges, tables=tables)
    else:
        if data_path.is_dir():
            raise InputError(f"{data_path}: a directory; --data takes a spectrum file (CSV/JSON)")
        data = spectra.observed_counts(templates, axis_edges=model.axis_edges, path=data_path)
    templates = templates.with_data(data)
    if project is not None:
        templates = templates.projected(project)
    plot: dict = {"edges": {}, "grids": {}, "labels": {}}
    for ch in templates.channels:
        if ch.axes:
            plot["grids"][ch.name] = tuple(a.edges for a in ch.axes)
            plot["labels"][ch.name] = tuple(a.label for a in ch.axes)
        else:
            plot["edges"][ch.name] = ch.bin_edges
            plot["labels"][ch.name] = (ch.observable,)
    return likelihood.build_workspace(templates), plot


def _read_workspace(path: Path) -> dict:
    """A pyhf workspace from JSON, schema-checked (pyhf's own validation)."""
    import pyhf

    try:
        workspace = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(workspace, dict):
            raise TypeError("not a JSON object")
        pyhf.Workspace(workspace).model()  # the model too: e.g. a POI that is not declared
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        FileNotFoundError,  # pyhf.exceptions.SchemaNotFound: an unknown "version"
        pyhf.exceptions.InvalidSpecification,
        pyhf.exceptions.InvalidModel,
        pyhf.exceptions.InvalidMeasurement,
        pyhf.exceptions.InvalidModifier,
        pyhf.exceptions.InvalidNameReuse,
        pyhf.exceptions.InvalidInterpCode,
        pyhf.exceptions.UnspecifiedPOI,
    ) as exc:
        first_line = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a valid pyhf workspace ({first_line})") from None
    return workspace


def fit_model_to_data(
    model_path, data_path=None, *, project: str | None = None, minos: bool = True
):
    """(FitResult, plot keyword arguments) for a model file and a data file (default: the
    model's own observations), optionally projected onto one axis."""
    from cevns_fit.fit import fit_workspace
    from cevns_fit.likelihood import pyhf_backend

    model_path = detector_path(model_path)
    data_path = None if data_path is None else data_set_path(data_path)
    if data_path is not None and not data_path.exists():
        raise InputError(f"{data_path}: data file not found")
    with pyhf_backend():
        workspace, plot = _workspace_and_plot_options(model_path, data_path, project=project)
        result = fit_workspace(workspace, minos=minos)
    return result, plot


def fit_summary(result) -> dict:
    """What ``cevns-fit fit`` reports of a :class:`~cevns_fit.fit.FitResult`: the entries of its
    ``to_dict()`` whose keys are in DESIGN.md §3 or the listed extras."""
    return {k: v for k, v in result.to_dict().items() if k in _KEYS}


def run(args: argparse.Namespace) -> dict:
    project = args.project
    if args.energy_only:
        if project not in (None, "energy"):
            raise InputError(f"--energy-only and --project {project}: give one of them")
        project = "energy"
    result, plot = fit_model_to_data(
        args.model, args.data, project=project, minos=not args.no_minos
    )
    if not result.converged:
        data_label = args.data or "its own [[observations]]"
        raise FitFailedError(f"{args.model} on {data_label}: {result.status}")
    out = fit_summary(result)
    if args.out:
        from cevns_fit.plots.fit import plot_postfit

        data_label = Path(args.data).name if args.data else "its [[observations]]"
        title = f"{args.model} fitted to {data_label}"
        model_path = detector_path(args.model)
        if model_path.suffix.lower() != ".json":  # a detector model: say what it assumes
            from cevns_fit.plots.captions import model_caption, wrap_caption
            from cevns_fit.registry import load_model

            model = load_model(model_path)
            title = f"{model.name} fitted to {data_label}\n"
            title += wrap_caption(model_caption(model), width=150)
        figure = plot_postfit(result, title=title, **plot)
        out["figure"] = save_figure(figure, args.out, dpi=120)
    return out


def _print_text(result: dict) -> None:
    minos = result.get("mu_minos")
    minos_txt = f" (MINOS {minos[0]:+.3f}/{minos[1]:+.3f})" if minos else ""
    gof = result["goodness_of_fit"]
    print(f"mu            = {result['mu']:.4f} ± {result['mu_err']:.4f}{minos_txt}")
    print(
        f"signal events = {result['signal_events']:.1f} ± {result['signal_events_err']:.1f}"
        f"  (expected {result['signal_events_expected']:.1f})"
    )
    print(f"Z_observed    = {result['Z_observed']:.2f} σ  (p0 = {result['p0_observed']:.3g})")
    print(f"goodness of fit: chi2 = {gof['chi2']:.1f} / {gof['ndf']} ndf, p = {gof['p_value']:.3f}")
    print(f"converged     = {result['converged']} ({result['status']})")
    print("parameters:")
    for name, p in result["parameters"].items():
        pull = result["pulls"].get(name)
        extra = f"  pull {pull['pull']:+.2f}, constraint {pull['constraint']:.2f}" if pull else ""
        if name in result.get("at_bounds", {}):
            extra += f"  [AT {result['at_bounds'][name]['bound']} bound]"
        elif name in result.get("near_bounds", {}):
            extra += f"  [within 1σ of its {result['near_bounds'][name]['bound']} bound]"
        print(f"  {name:28s} {p['value']:10.4f} ± {p['error']:.4f}{extra}")
    if "figure" in result:
        print(f"figure: {result['figure']}")
