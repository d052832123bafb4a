"""``cevns-fit fit MODEL --data FILE``: maximum-likelihood fit of measured spectra.

MODEL is a detector model (TOML, e.g. ``models/detectors/coherent_csi_2017.toml``) or a pyhf
workspace (JSON, e.g. written by ``cevns-fit workspace``). ``--data`` is a spectrum file whose
channel names match the model's channels (CSV or JSON, formats in :mod:`cevns_fit.spectra`),
or, for the COHERENT CsI 2017 model, the release directory
(``models/data/coherent_csi_2017``): then the fit uses energy × arrival time unless
``--energy-only`` is given. With ``--out PNG`` the post-fit figure is saved.

A fit that does not converge is an error (exit code 3), never a number.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cevns_fit.cli._common import add_json_flag, save_figure
from cevns_fit.errors import FitFailedError, InputError

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
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "model", metavar="MODEL", help="detector model (.toml) or pyhf workspace (.json)"
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="spectrum file (CSV/JSON, channels named as in the model) or the COHERENT release dir",
    )
    parser.add_argument(
        "--energy-only",
        action="store_true",
        help="COHERENT release: fit the PE spectrum only (default: PE x arrival time)",
    )
    parser.add_argument("--no-minos", action="store_true", help="skip MINOS on mu")
    parser.add_argument("--out", metavar="PNG", help="save the post-fit figure here")
    add_json_flag(parser)
    parser.set_defaults(func=run, text=_print_text)


def _workspace_and_plot_options(model_path: Path, data_path: Path, *, timing: bool):
    """(workspace dict, plot keyword arguments) for a model file and a data file/directory."""
    from cevns_fit import likelihood, spectra

    if model_path.suffix.lower() == ".json":
        workspace = _read_workspace(model_path)
        if data_path.is_dir():
            raise InputError(f"{data_path}: a directory; a pyhf workspace needs a spectrum file")
        bins = {ch["name"]: len(ch["samples"][0]["data"]) for ch in workspace["channels"]}
        data = spectra.data_for_channels(
            spectra.read_spectra(data_path), bins, source=str(data_path)
        )
        workspace["observations"] = [{"name": ch, "data": data[ch].tolist()} for ch in bins]
        return workspace, {}

    if data_path.is_dir():
        from cevns_fit import coherent

        release = coherent.load_release(data_path)
        templates = coherent.templates_for_model(model_path, release, timing=timing)
        data = coherent.observed_data(release, timing=timing)
        pe_edges = templates.channels[1].bin_edges
        plot = {"edges": {"anticoincidence": pe_edges}, "labels": {"anticoincidence": ("PE",)}}
        if timing:
            t_edges = release.arrival_time_edges_us
            t_edges = t_edges[t_edges <= coherent.T_MAX_us + 1e-9]
            plot["grids"] = {"beam_on": (pe_edges, t_edges)}
            plot["labels"]["beam_on"] = ("PE", "arrival time (µs)")
        else:
            plot["edges"]["beam_on"] = pe_edges
            plot["labels"]["beam_on"] = ("PE",)
        return likelihood.build_workspace(templates, data=data), plot

    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    templates = build_templates(load_detector_model(model_path))
    bins = {ch.name: ch.n_bins for ch in templates.channels}
    data = spectra.data_for_channels(spectra.read_spectra(data_path), bins, source=str(data_path))
    plot = {
        "edges": {ch.name: ch.bin_edges for ch in templates.channels},
        "labels": {ch.name: (ch.observable,) for ch in templates.channels},
    }
    return likelihood.build_workspace(templates, data=data), plot


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


def fit_model_to_data(model_path, data_path, *, timing: bool = True, minos: bool = True):
    """(FitResult, plot keyword arguments) for a model file and a data file or directory."""
    from cevns_fit.fit import fit_workspace
    from cevns_fit.likelihood import pyhf_backend

    model_path, data_path = Path(model_path), Path(data_path)
    if not model_path.is_file():
        raise InputError(f"{model_path}: model file not found")
    if not data_path.exists():
        raise InputError(f"{data_path}: data file not found")
    with pyhf_backend():
        workspace, plot = _workspace_and_plot_options(model_path, data_path, timing=timing)
        result = fit_workspace(workspace, minos=minos)
    return result, plot


def fit_summary(result) -> dict:
    """What ``cevns-fit fit`` reports of a :class:`~cevns_fit.fit.FitResult`: the entries of its
    ``to_dict()`` whose keys are in DESIGN.md §3 or the listed extras."""
    return {k: v for k, v in result.to_dict().items() if k in _KEYS}


def run(args: argparse.Namespace) -> dict:
    result, plot = fit_model_to_data(
        args.model, args.data, timing=not args.energy_only, minos=not args.no_minos
    )
    if not result.converged:
        raise FitFailedError(f"{args.model} on {args.data}: {result.status}")
    out = fit_summary(result)
    if args.out:
        from cevns_fit.plots.fit import plot_postfit

        out["figure"] = save_figure(plot_postfit(result, **plot), args.out, dpi=120)
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
