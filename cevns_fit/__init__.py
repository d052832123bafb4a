"""cevns-fit: sensitivity and fitting of coherent elastic neutrino-nucleus scattering detectors.

Data flows one way (``docs/ARCHITECTURE.md``)::

    constants, targets, form_factors -> cross_section -> sources -> rates
    -> quenching / resolution / efficiency / backgrounds / detector -> templates
    -> likelihood (pyhf workspaces) -> inference, fit -> scan, compare -> plots, cli

The names a notebook needs are importable from the package itself::

    import cevns_fit as cf

    model = cf.load_model("cspbi3_array")          # a shipped model, or a TOML file
    templates = cf.build_templates(model)          # binned signal/background templates
    cf.expected_significance(templates).Z_expected # median expected discovery Z
    cf.exposure_needed(templates, sigma=5.0)       # kg·yr for a median 5σ

They are imported on first use (PEP 562), so ``import cevns_fit`` and ``cevns-fit --help``
stay fast; each lives in the module named in ``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (the module is the documentation's reference)
_EXPORTS = {
    # errors
    "InputError": "errors",
    "FitFailedError": "errors",
    # models: shipped by name or from files
    "load_model": "registry",
    "load_source_model": "registry",
    "shipped_models": "registry",
    "load_detector_model": "detector",
    "DetectorModel": "detector",
    "load_source": "sources",
    "Source": "sources",
    # physics
    "make_target": "targets",
    "Target": "targets",
    "sigma_eff": "cross_section",
    "dsigma_dER": "cross_section",
    "recoil_max_keVnr": "cross_section",
    "differential_rate": "rates",
    "total_rate": "rates",
    # templates and likelihood
    "build_templates": "templates",
    "AnalysisTemplates": "templates",
    "build_workspace": "likelihood",
    "pyhf_model": "likelihood",
    # inference
    "expected_significance": "inference",
    "exposure_needed": "inference",
    "upper_limit": "inference",
    "significance_impacts": "inference",
    "fit_workspace": "fit",
    "FitResult": "fit",
    "read_spectra": "spectra",
    "data_for_channels": "spectra",
    "observed_counts": "spectra",
    "templates_from_workspace": "likelihood",
    "read_table": "tables",
    # scans and comparisons
    "Axis": "scan",
    "parse_vary": "scan",
    "run_scan": "scan",
    "run_scans": "scan",
    "summarize": "compare",
    "threshold_curves": "compare",
    "threshold_crossover": "compare",
    "z_vs_exposure": "compare",
}
_SUBMODULES = ("plots", "registry")

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"cevns_fit.{_EXPORTS[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"cevns_fit.{name}")
    else:
        raise AttributeError(f"module 'cevns_fit' has no attribute {name!r}")
    globals()[name] = value  # import once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from cevns_fit import plots, registry  # noqa: F401
    from cevns_fit.compare import (  # noqa: F401
        summarize,
        threshold_crossover,
        threshold_curves,
        z_vs_exposure,
    )
    from cevns_fit.cross_section import dsigma_dER, recoil_max_keVnr, sigma_eff  # noqa: F401
    from cevns_fit.detector import DetectorModel, load_detector_model  # noqa: F401
    from cevns_fit.errors import FitFailedError, InputError  # noqa: F401
    from cevns_fit.fit import FitResult, fit_workspace  # noqa: F401
    from cevns_fit.inference import (  # noqa: F401
        expected_significance,
        exposure_needed,
        significance_impacts,
        upper_limit,
    )
    from cevns_fit.likelihood import (  # noqa: F401
        build_workspace,
        pyhf_model,
        templates_from_workspace,
    )
    from cevns_fit.rates import differential_rate, total_rate  # noqa: F401
    from cevns_fit.registry import load_model, load_source_model, shipped_models  # noqa: F401
    from cevns_fit.scan import Axis, parse_vary, run_scan, run_scans  # noqa: F401
    from cevns_fit.sources import Source, load_source  # noqa: F401
    from cevns_fit.spectra import data_for_channels, observed_counts, read_spectra  # noqa: F401
    from cevns_fit.tables import read_table  # noqa: F401
    from cevns_fit.targets import Target, make_target  # noqa: F401
    from cevns_fit.templates import AnalysisTemplates, build_templates  # noqa: F401
