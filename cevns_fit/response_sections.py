"""The detector-response sections of a model file: [quenching], [resolution], [efficiency].

Read once at the edge by :func:`cevns_fit.detector.load_detector_model` (keys in its module
docstring); every error names the file, the key and what is allowed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cevns_fit.config import ConfigTable
from cevns_fit.efficiency import (
    EfficiencyModel,
    ErfEfficiency,
    LogisticEfficiency,
    StepEfficiency,
    TabulatedEfficiency,
)
from cevns_fit.errors import InputError
from cevns_fit.quenching import (
    ConstantQuenching,
    LindhardQuenching,
    PolynomialQuenching,
    QuenchingModel,
    TabulatedQuenching,
    lindhard_k,
    load_quenching_table,
)
from cevns_fit.resolution import (
    SEED_FIG2_A,
    SEED_FIG2_B,
    SEED_FIG2_C,
    GaussianResolution,
    GermaniumResolution,
    NoResolution,
    PoissonPEResolution,
    PolyaPEResolution,
    ResolutionModel,
    SeedPerovskiteResolution,
)
from cevns_fit.targets import Target

__all__ = ["read_quenching", "read_resolution", "read_efficiency"]


def read_quenching(t: ConfigTable, target: Target) -> QuenchingModel:
    kinds = ("constant", "lindhard", "polynomial", "tabulated")
    model = t.string("model", allowed=kinds)
    note = t.string("note", "")
    if model == "constant":
        t.allow(("model", "value", "sigma", "note"))
        value = t.number("value", positive=True, maximum=1.0)
        return ConstantQuenching(value, t.number("sigma", 0.0, nonneg=True), note)
    if model == "lindhard":
        t.allow(("model", "k", "sigma_k", "Z", "A", "note"))
        single = len(set(target.Z.tolist())) == 1
        if not single and not (t.has("Z") and t.has("k")):
            raise InputError(
                f"{t.where('Z')}: target {target.name} has several elements; "
                "give Z and k for the Lindhard model"
            )
        Z = t.number("Z", float(target.Z[0]), positive=True)
        mean_A = float(np.sum(target.A * target.nuclear_fraction))
        k = t.number("k", lindhard_k(Z, t.number("A", mean_A, positive=True)), positive=True)
        return LindhardQuenching(k=k, Z=Z, sigma_k=t.number("sigma_k", 0.0, nonneg=True), note=note)
    if model == "polynomial":
        return _read_polynomial(t, note)
    t.allow(
        ("model", "files", "energy_keVnr", "values", "relative_sigma", "use_point_errors", "note")
    )
    if t.has("files"):
        files = t.data["files"]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise InputError(
                f"{t.where('files')}: must be a list of file names (relative to the model)"
            )
        paths = []
        for f in files:
            p = (t.path.parent / f).resolve()
            if not p.is_file():
                raise InputError(f"{t.where('files')}: file {f!r} not found ({p})")
            paths.append(p)
        table = load_quenching_table(paths)
    else:
        e = t.numbers("energy_keVnr", min_length=2, increasing=True)
        v = t.numbers("values", min_length=2)
        if len(v) != len(e) or np.any(v <= 0) or np.any(v > 1):
            raise InputError(f"{t.where('values')}: one Q in (0, 1] per energy_keVnr entry")
        table = TabulatedQuenching(tuple(e), tuple(v))
    rel = t.number("relative_sigma", 0.0, nonneg=True)
    if not t.boolean("use_point_errors", True) or rel > 0:
        table = replace(table, sigma_lo=None, sigma_hi=None)
    return replace(table, relative_sigma=rel, note=note)


def _read_polynomial(t: ConfigTable, note: str) -> PolynomialQuenching:
    """``coefficients`` (lowest order first, E_nr in keVnr) with either ``relative_sigma`` or
    ``sigmas`` (1σ per coefficient) and an optional ``correlation`` matrix (symmetric, unit
    diagonal, positive semi-definite)."""
    t.allow(("model", "coefficients", "relative_sigma", "sigmas", "correlation", "note"))
    coeffs = t.numbers("coefficients")
    if coeffs[0] <= 0:
        raise InputError(f"{t.where('coefficients')}: the constant term must be > 0")
    if t.has("relative_sigma") and t.has("sigmas"):
        raise InputError(
            f"{t.where('sigmas')}: give relative_sigma (one 1σ on Q) or sigmas (1σ per "
            "coefficient), not both"
        )
    if not t.has("sigmas"):
        if t.has("correlation"):
            raise InputError(f"{t.where('correlation')}: needs sigmas (1σ per coefficient)")
        return PolynomialQuenching(
            tuple(coeffs), t.number("relative_sigma", 0.0, nonneg=True), note=note
        )
    sigmas = t.numbers("sigmas")
    if len(sigmas) != len(coeffs) or np.any(sigmas < 0):
        raise InputError(
            f"{t.where('sigmas')}: one 1σ >= 0 per coefficient ({len(coeffs)} coefficients)"
        )
    correlation = None
    if t.has("correlation"):
        rho = t.data["correlation"]
        n = len(coeffs)
        if (
            not isinstance(rho, list)
            or len(rho) != n
            or not all(
                isinstance(row, list)
                and len(row) == n
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)
                for row in rho
            )
        ):
            raise InputError(f"{t.where('correlation')}: must be a {n}×{n} matrix of numbers")
        rho = np.array(rho, dtype=float)
        if (
            not np.all(np.isfinite(rho))
            or not np.allclose(rho, rho.T, rtol=0, atol=1e-9)
            or not np.allclose(np.diag(rho), 1.0, rtol=0, atol=1e-9)
            or np.any(np.abs(rho) > 1.0 + 1e-9)
        ):
            raise InputError(
                f"{t.where('correlation')}: must be symmetric with 1 on the diagonal and "
                "entries in [-1, 1]"
            )
        if np.linalg.eigvalsh(rho)[0] < -1e-9:
            raise InputError(
                f"{t.where('correlation')}: not positive semi-definite (not a correlation matrix)"
            )
        correlation = tuple(tuple(float(v) for v in row) for row in rho)
    return PolynomialQuenching(
        tuple(coeffs), sigmas=tuple(float(v) for v in sigmas), correlation=correlation, note=note
    )


def read_resolution(t: ConfigTable, observable: str) -> ResolutionModel:
    kinds = ("seed_perovskite", "germanium", "gaussian", "poisson_pe", "polya_pe", "none")
    model = t.string("model", allowed=kinds)
    if model == "seed_perovskite":
        t.allow(("model", "A", "B", "C", "relative_sigma"))
        return SeedPerovskiteResolution(
            A=t.number("A", SEED_FIG2_A),
            B=t.number("B", SEED_FIG2_B),
            C=t.number("C", SEED_FIG2_C, positive=True),
            relative_sigma=t.number("relative_sigma", 0.0, nonneg=True, maximum=0.9),
        )
    if model == "germanium":
        t.allow(("model", "fano", "pair_energy_eV", "noise_sigma_keVee", "relative_sigma"))
        return GermaniumResolution(
            fano=t.number("fano", 0.11, nonneg=True),
            pair_energy_eV=t.number("pair_energy_eV", 2.96, positive=True),
            noise_sigma_keVee=t.number("noise_sigma_keVee", nonneg=True),
            relative_sigma=t.number("relative_sigma", 0.0, nonneg=True, maximum=0.9),
        )
    if model == "gaussian":
        t.allow(("model", "sigma0_keVee", "stochastic_sqrt_keVee", "relative", "relative_sigma"))
        return GaussianResolution(
            sigma0_keVee=t.number("sigma0_keVee", 0.0, nonneg=True),
            stochastic_sqrt_keVee=t.number("stochastic_sqrt_keVee", 0.0, nonneg=True),
            relative=t.number("relative", 0.0, nonneg=True),
            relative_sigma=t.number("relative_sigma", 0.0, nonneg=True, maximum=0.9),
        )
    if model == "poisson_pe":
        t.allow(("model",))
        if observable != "PE":
            raise InputError(f"{t.where('model')} = 'poisson_pe': needs analysis.observable = 'PE'")
        return PoissonPEResolution()
    if model == "polya_pe":
        t.allow(("model", "theta"))
        if observable != "PE":
            raise InputError(f"{t.where('model')} = 'polya_pe': needs analysis.observable = 'PE'")
        return PolyaPEResolution(theta=t.number("theta", positive=True))
    t.allow(("model",))
    return NoResolution()


def read_efficiency(t: ConfigTable) -> tuple[EfficiencyModel, tuple[float, float]]:
    kinds = ("step", "erf", "logistic", "tabulated")
    model = t.string("model", allowed=kinds)
    common = ("model", "threshold_sigma", "threshold_sigma_lo", "threshold_sigma_hi", "note")
    eff: EfficiencyModel
    if model == "step":
        t.allow(common + ("threshold", "plateau"))
        eff = StepEfficiency(
            t.number("threshold", nonneg=True), t.number("plateau", 1.0, positive=True, maximum=1.0)
        )
    elif model == "erf":
        t.allow(common + ("threshold", "width", "plateau"))
        eff = ErfEfficiency(
            t.number("threshold", nonneg=True),
            t.number("width", positive=True),
            t.number("plateau", 1.0, positive=True, maximum=1.0),
        )
    elif model == "logistic":
        t.allow(common + ("a", "k", "x0", "offset", "heaviside"))
        heaviside = t.data.get("heaviside", [5.0, 6.0])
        if heaviside is False:
            heaviside = None
        else:
            hv = (
                t.numbers("heaviside", min_length=2, increasing=True)
                if "heaviside" in t.data
                else np.array(heaviside, dtype=float)
            )
            if len(hv) != 2:
                raise InputError(f"{t.where('heaviside')}: must be [lower, upper] or false")
            heaviside = (float(hv[0]), float(hv[1]))
        # a may exceed 1 when a negative offset brings the plateau a + offset back below it;
        # the curve itself is checked to stay within [0, 1] over the analysis range.
        eff = LogisticEfficiency(
            t.number("a", positive=True),
            t.number("k", positive=True),
            t.number("x0"),
            heaviside,
            offset=t.number("offset", 0.0),
        )
    else:
        t.allow(common + ("x", "values"))
        x = t.numbers("x", min_length=2, increasing=True)
        v = t.numbers("values", min_length=2)
        if len(v) != len(x) or np.any(v < 0) or np.any(v > 1):
            raise InputError(f"{t.where('values')}: one efficiency in [0, 1] per x entry")
        eff = TabulatedEfficiency(tuple(x), tuple(v))
    if t.has("threshold_sigma") and (t.has("threshold_sigma_lo") or t.has("threshold_sigma_hi")):
        raise InputError(
            f"{t.where('threshold_sigma')}: give threshold_sigma or "
            "threshold_sigma_lo/_hi, not both"
        )
    sym = t.number("threshold_sigma", 0.0, nonneg=True)
    lo = t.number("threshold_sigma_lo", sym, nonneg=True)
    hi = t.number("threshold_sigma_hi", sym, nonneg=True)
    return eff, (lo, hi)
