"""Profile-likelihood measurement of physics parameters (sin²θ_W, a neutron radius, NSI, the
quenching factor): scans of −2Δln L over a grid of one or two parameters of interest.

At every grid point the templates are rebuilt exactly at that value (the cross-section of
:mod:`cevns_fit.physics` through the model's response; not linearised), the signal strength is
fixed to the Standard-Model normalisation μ = 1 (the physics parameter sets the rate; the flux
normsys, quenching, threshold, background and [physics.nuisances] stay constrained nuisances)
and every nuisance is profiled with the fast HistFactory path
(:func:`cevns_fit.inference.compile_model`). A POI named ``quenching`` replaces the model's
quenching by a constant Q at the grid value, without an uncertainty (Q is then measured, not
constrained); a physics nuisance on the scanned parameter is dropped.

The curve is t(θ) = −2 ln λ(θ) = 2 [nll(θ) − nll(θ̂)], θ̂ from a cubic spline through the grid
(1-D) or a bicubic spline (2-D). Intervals follow Wilks' theorem: t < 1, 2.71, 3.84 (68, 90,
95 % CL) for one parameter, t < 2.30, 4.61, 5.99 for two (χ² quantiles with 1 and 2 degrees
of freedom; Wilks, Ann. Math. Statist. 9 (1938) 60). :func:`toy_check` tests the 1-D Wilks
thresholds with pseudo-experiments at one POI value (the Feldman–Cousins construction,
PRD 57 (1998) 3873, at that point: the distribution of t(θ₀) when θ₀ is true).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.interpolate import CubicSpline, RectBivariateSpline
from scipy.optimize import minimize
from scipy.stats import chi2

from cevns_fit.detector import DetectorModel
from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import FastModel
from cevns_fit.physics import PhysicsParameters
from cevns_fit.quenching import ConstantQuenching

__all__ = [
    "POI",
    "CL_LEVELS",
    "parse_poi",
    "model_at",
    "ScanSetup",
    "prepare_scan",
    "profile_scan",
    "analyse_curve",
    "analyse_grid",
    "toy_check",
    "measure",
]

# 68 % means "1σ": χ²₁ < 1 (0.6827); 2-D 68 % regions then use χ²₂ < 2.30.
CL_LEVELS = (float(chi2.cdf(1.0, 1)), 0.90, 0.95)
QUENCHING_POI = "quenching"
_ITEM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.,]*?)\s*=\s*([^:=]+):([^:=]+):([^:=,]+)\s*(?:,|$)")


@dataclass(frozen=True)
class POI:
    """A parameter of interest and its grid of values."""

    name: str
    values: np.ndarray


def _check_name(name: str, values: np.ndarray, where: str) -> None:
    if name == QUENCHING_POI:
        if np.any(values <= 0) or np.any(values > 1):
            raise InputError(f"{where}: a quenching factor must lie in (0, 1]")
        return
    base = PhysicsParameters()
    for v in values:
        try:
            base.with_value(name, float(v))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


def parse_poi(spec: str) -> tuple[POI, ...]:
    """``NAME=START:STOP:N[,NAME=START:STOP:N]`` -> one or two :class:`POI` (N >= 3 values,
    START < STOP). NAME: a physics parameter (``sin2_theta_w``, ``eps_u_ee``,
    ``neutron_rms_radius_fm.Cs,I`` ...) or ``quenching``."""
    where = f"--poi {spec!r}"
    pois, pos = [], 0
    while pos < len(spec):
        m = _ITEM.match(spec, pos)
        if m is None or m.end() == pos:
            raise InputError(f"{where}: expected NAME=START:STOP:N[,NAME=START:STOP:N]")
        name, start, stop, n = m.groups()
        try:
            lo, hi, count = float(start), float(stop), int(n)
        except ValueError:
            raise InputError(f"{where}: START, STOP must be numbers and N an integer") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"{where}: {name} needs finite START < STOP")
        if count < 3:
            raise InputError(f"{where}: {name} needs N >= 3 grid values")
        values = np.linspace(lo, hi, count)
        _check_name(name, values, where)
        pois.append(POI(name, values))
        pos = m.end()
    if not pois or len(pois) > 2:
        raise InputError(f"{where}: give one or two parameters of interest")
    if len(pois) == 2 and pois[0].name == pois[1].name:
        raise InputError(f"{where}: the two parameters of interest must differ")
    if any(p.values.size > 201 for p in pois) or np.prod([p.values.size for p in pois]) > 2601:
        raise InputError(f"{where}: at most 201 values per axis and 51 × 51 in 2-D")
    return tuple(pois)


def _overlaps(a: str, b: str) -> bool:
    """Do two parameter names set a common quantity (``neutron_rms_radius_fm.Cs,I`` and
    ``neutron_rms_radius_fm.Cs`` do)?"""
    ta, _, ea = a.partition(".")
    tb, _, eb = b.partition(".")
    if ta != tb:
        return False
    return not ea or not eb or bool(set(ea.split(",")) & set(eb.split(",")))


def model_at(model: DetectorModel, point: dict[str, float]) -> DetectorModel:
    """``model`` with the parameters of interest set to ``point`` {name: value}."""
    physics = model.physics
    for name, value in point.items():
        if name == QUENCHING_POI:
            model = replace(model, quenching=ConstantQuenching(value, 0.0, note="POI"))
        else:
            physics = physics.with_value(name, float(value))
    nuisances = tuple(
        (n, s) for n, s in model.physics_nuisances if not any(_overlaps(n, p) for p in point)
    )
    return replace(model, physics=physics, physics_nuisances=nuisances)


@dataclass
class ScanSetup:
    """What every profile fit of a scan shares: the model, the data and the exposure.

    ``aux`` are the nominal auxiliary data of the model as built; a grid model may have fewer
    parameters (a quenching POI drops the quenching nuisance), so each fit uses its own
    ``aux_nominal`` (Asimov auxiliary data are the nominal values too)."""

    model: DetectorModel
    main: np.ndarray
    aux: np.ndarray
    channels: list
    exposure_kg_yr: float
    data_label: str
    project: str | None = None
    notes: list[str] = field(default_factory=list)

    def fast_model(self, point: dict[str, float]) -> FastModel:
        """The compiled likelihood with the templates rebuilt exactly at ``point``."""
        from cevns_fit.inference import compile_model
        from cevns_fit.templates import build_templates

        templates = build_templates(model_at(self.model, point), self.exposure_kg_yr)
        if self.project is not None:
            templates = templates.projected(self.project)
        fm = compile_model(templates)
        if _channel_layout(fm) != self.channels:
            raise InputError(
                f"{point}: the analysis bins change at this value (empty bins trimmed); "
                "narrow the grid"
            )
        return fm


def _channel_layout(fm: FastModel) -> list:
    return [(name, int(n)) for name, n in fm.channels]


def prepare_scan(
    model: DetectorModel,
    *,
    data: dict[str, np.ndarray] | None = None,
    expected: bool = False,
    exposure_kg_yr: float | None = None,
    project: str | None = None,
) -> ScanSetup:
    """The data of a scan: ``data`` {channel: counts}, else Asimov (``expected``) at the model's
    own physics (μ = 1, nominal nuisances), else the model's ``[[observations]]``; with
    ``project`` the analysis (templates and data) summed onto that axis of a multi-axis model."""
    from cevns_fit import spectra
    from cevns_fit.inference import compile_model
    from cevns_fit.templates import build_templates

    if data is not None and expected:
        raise InputError("--data and --expected: give one or the other")
    if project is not None and (project not in model.axis_names or len(model.axis_names) == 1):
        raise InputError(
            f"--project {project}: the model {model.path} has the axes "
            f"{list(model.axis_names)}; projecting needs a multi-axis model with that axis"
        )
    templates = build_templates(model, exposure_kg_yr)
    label = "Asimov at the model's physics (expected)"
    if not expected:
        label = "data"
        if data is None:
            if not model.observations:
                raise InputError(
                    f"{model.path}: the model ships no [[observations]]; "
                    "give --data FILE or --expected"
                )
            tables = {o.channel: o.table for o in model.observations}
            data = spectra.observed_counts(templates, axis_edges=model.axis_edges, tables=tables)
            label = "the model's [[observations]]"
        templates = templates.with_data(data)
    if project is not None:
        templates = templates.projected(project)
        label += f", projected onto {project}"
    fm = compile_model(templates)
    if expected:
        main, aux = fm.asimov(mu=1.0)
    else:
        observed = {ch.name: ch.data for ch in templates.channels}
        main = np.concatenate([np.asarray(observed[name], float) for name, _ in fm.channels])
        aux = fm.aux_nominal
    return ScanSetup(
        model, main, aux, _channel_layout(fm), templates.exposure_kg_yr, label, project=project
    )


def _profile_nll(fm: FastModel, main, aux, init=None) -> tuple[float, np.ndarray]:
    """−ln L at μ = 1 with every nuisance profiled."""
    fit = fm.fit(main, aux, fix={fm.poi_index: 1.0}, init=init)
    if not fit.success:
        return math.nan, fm.init
    return fit.nll, fit.pars


def profile_scan(
    setup: ScanSetup, pois: tuple[POI, ...], progress=None
) -> tuple[np.ndarray, dict[tuple, FastModel]]:
    """−ln L profiled at every grid point (shape (n,) or (n1, n2)); NaN where a fit failed."""
    shape = tuple(p.values.size for p in pois)
    nll = np.full(shape, math.nan)
    models: dict[tuple, FastModel] = {}
    init = None
    for index in np.ndindex(*shape):
        point = {p.name: float(p.values[i]) for p, i in zip(pois, index, strict=True)}
        fm = setup.fast_model(point)
        models[index] = fm
        start = init if init is not None and init.size == fm.n_pars else None
        nll[index], pars = _profile_nll(fm, setup.main, fm.aux_nominal, start)
        if math.isfinite(nll[index]):
            init = pars
        if progress is not None:
            progress()
    failed = int(np.sum(~np.isfinite(nll)))
    if failed == nll.size:
        raise FitFailedError("no profile fit of the scan converged")
    if failed:
        setup.notes.append(f"{failed} grid point(s) did not converge and are left out")
    return nll, models


def _segments(spline: CubicSpline, lo: float, hi: float, level: float) -> list[list[float]]:
    """Maximal [a, b] ⊂ [lo, hi] where the spline is below ``level``."""
    roots = sorted(r for r in spline.solve(level, extrapolate=False) if lo <= r <= hi)
    cuts = [lo, *roots, hi]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        if b > a and spline(0.5 * (a + b)) < level:
            if out and abs(out[-1][1] - a) < 1e-12 * max(1.0, abs(a)):
                out[-1][1] = b
            else:
                out.append([a, b])
    return [[float(a), float(b)] for a, b in out]


def analyse_curve(values: np.ndarray, nll: np.ndarray) -> dict:
    """Best fit, −2Δln L curve and Wilks intervals of a 1-D profile scan."""
    ok = np.isfinite(nll)
    x, y = values[ok], nll[ok]
    if x.size < 3:
        raise FitFailedError("fewer than 3 grid points converged: no curve")
    spline = CubicSpline(x, y)
    candidates = [*x, *(r for r in spline.derivative().roots(extrapolate=False))]
    candidates = [c for c in candidates if x[0] <= c <= x[-1]]
    best = min(candidates, key=lambda c: float(spline(c)))
    nll_min = float(spline(best))
    delta = CubicSpline(x, 2.0 * (y - nll_min))
    intervals = []
    for cl in CL_LEVELS:
        level = float(chi2.ppf(cl, 1))
        segs = _segments(delta, x[0], x[-1], level)
        intervals.append(
            {
                "cl": cl,
                "delta_chi2": level,
                "segments": segs,
                "closed": bool(segs and segs[0][0] > x[0] and segs[-1][1] < x[-1]),
            }
        )
    return {
        "best_fit": float(best),
        "at_grid_edge": bool(best <= x[0] or best >= x[-1]),
        "curve": {"values": values.tolist(), "delta_chi2": (2.0 * (nll - nll_min)).tolist()},
        "intervals": intervals,
    }


def analyse_grid(pois: tuple[POI, POI], nll: np.ndarray) -> dict:
    """Best fit, −2Δln L grid and 2-D Wilks regions (with each region's extent per axis)."""
    x, y = pois[0].values, pois[1].values
    filled = np.where(np.isfinite(nll), nll, np.nanmax(nll))
    spline = RectBivariateSpline(x, y, filled)
    i, j = np.unravel_index(np.argmin(filled), filled.shape)
    res = minimize(
        lambda p: float(spline(p[0], p[1])[0, 0]),
        x0=[x[i], y[j]],
        bounds=[(x[0], x[-1]), (y[0], y[-1])],
    )
    best = res.x if res.fun <= filled[i, j] else np.array([x[i], y[j]])
    nll_min = min(float(res.fun), float(filled[i, j]))
    delta = 2.0 * (nll - nll_min)
    fine_x, fine_y = np.linspace(x[0], x[-1], 201), np.linspace(y[0], y[-1], 201)
    fine = 2.0 * (spline(fine_x, fine_y) - nll_min)
    intervals = []
    for cl in CL_LEVELS:
        level = float(chi2.ppf(cl, 2))
        inside = fine < level
        entry = {"cl": cl, "delta_chi2": level, "fraction_of_grid": float(inside.mean())}
        if inside.any():
            xs, ys = fine_x[inside.any(axis=1)], fine_y[inside.any(axis=0)]
            entry.update(
                extent={pois[0].name: [float(xs[0]), float(xs[-1])]}
                | {pois[1].name: [float(ys[0]), float(ys[-1])]},
                closed=bool(
                    not inside[0, :].any()
                    and not inside[-1, :].any()
                    and not inside[:, 0].any()
                    and not inside[:, -1].any()
                ),
            )
        intervals.append(entry)
    return {
        "best_fit": {pois[0].name: float(best[0]), pois[1].name: float(best[1])},
        "grid": {
            pois[0].name: x.tolist(),
            pois[1].name: y.tolist(),
            "delta_chi2": delta.tolist(),
        },
        "intervals": intervals,
    }


def toy_check(
    setup: ScanSetup,
    poi: POI,
    models: dict[tuple, FastModel],
    at: float,
    n_toys: int,
    seed: int,
) -> dict:
    """Pseudo-experiments at θ₀ = ``at`` (μ = 1, nuisances profiled to the data at θ₀, their
    auxiliary data drawn around them): the distribution of t(θ₀) = 2 [nll(θ₀) − min_θ nll(θ)]
    (the minimum from the spline through the grid), its 68/90/95 % quantiles (the
    Feldman–Cousins critical values at θ₀) and how often the Wilks interval covers θ₀."""
    from cevns_fit.inference import _sample_toys

    if not (poi.values[0] <= at <= poi.values[-1]):
        raise InputError(f"--toys-at {at!r}: must lie inside the grid of {poi.name}")
    if n_toys < 10:
        raise InputError(f"--toys {n_toys}: at least 10 pseudo-experiments")
    fm0 = setup.fast_model({poi.name: at})
    _, pars0 = _profile_nll(fm0, setup.main, fm0.aux_nominal)
    rng = np.random.default_rng(seed)
    mains, auxes = _sample_toys(fm0, pars0, n_toys, rng)
    grid = [models[(i,)] for i in range(poi.values.size)]
    t = np.full(n_toys, math.nan)
    for k in range(n_toys):
        nll0, _ = _profile_nll(fm0, mains[k], auxes[k], pars0)
        curve = np.array([_profile_nll(fm, mains[k], auxes[k], pars0)[0] for fm in grid])
        ok = np.isfinite(curve)
        if not math.isfinite(nll0) or ok.sum() < 3:
            continue
        spline = CubicSpline(poi.values[ok], curve[ok])
        xs = poi.values[ok]
        cands = [*xs, *(r for r in spline.derivative().roots(extrapolate=False))]
        low = min(float(spline(c)) for c in cands if xs[0] <= c <= xs[-1])
        t[k] = max(2.0 * (nll0 - min(low, nll0)), 0.0)
    good = t[np.isfinite(t)]
    if good.size < 10:
        raise FitFailedError("fewer than 10 pseudo-experiments could be fitted")
    out = {"at": at, "n_toys": int(good.size), "seed": seed, "levels": []}
    for cl in CL_LEVELS:
        wilks = float(chi2.ppf(cl, 1))
        cover = float(np.mean(good < wilks))
        out["levels"].append(
            {
                "cl": cl,
                "wilks_delta_chi2": wilks,
                "toy_delta_chi2": float(np.quantile(good, cl)),
                "wilks_coverage": cover,
                "wilks_coverage_error": math.sqrt(cover * (1 - cover) / good.size),
            }
        )
    return out


def measure(
    model: DetectorModel,
    pois: tuple[POI, ...],
    *,
    data: dict[str, np.ndarray] | None = None,
    expected: bool = False,
    exposure_kg_yr: float | None = None,
    toys: int = 0,
    toys_at: float | None = None,
    seed: int = 1,
    project: str | None = None,
) -> dict:
    """Profile scan of one or two physics parameters (see the module docstring): a JSON-able
    dict with ``poi``, ``best_fit``, ``curve`` (1-D) or ``grid`` (2-D), ``intervals``,
    ``standard_model`` (the model's own values), optionally ``toys``, and ``notes``."""
    setup = prepare_scan(
        model, data=data, expected=expected, exposure_kg_yr=exposure_kg_yr, project=project
    )
    nll, models = profile_scan(setup, pois)
    default = {
        p.name: (
            float(model.quenching.factor(np.array([10.0]))[0])
            if p.name == QUENCHING_POI
            else model.physics.value(p.name)
        )
        for p in pois
    }
    result = {
        "model": model.name,
        "poi": [p.name for p in pois],
        "data": setup.data_label,
        "exposure_kg_yr": setup.exposure_kg_yr,
        "standard_model": {k: (None if math.isnan(v) else v) for k, v in default.items()},
    }
    if len(pois) == 1:
        result.update(analyse_curve(pois[0].values, nll))
        sm, values = default[pois[0].name], pois[0].values
        ok = np.isfinite(nll)
        if math.isfinite(sm) and values[0] <= sm <= values[-1]:
            curve = np.asarray(result["curve"]["delta_chi2"])
            result["delta_chi2_at_model_value"] = float(CubicSpline(values[ok], curve[ok])(sm))
        if result["at_grid_edge"]:
            setup.notes.append("the minimum lies at the grid's edge: widen the grid")
        if toys:
            at = result["best_fit"] if toys_at is None else float(toys_at)
            result["toys"] = toy_check(setup, pois[0], models, at, toys, seed)
    else:
        if toys:
            raise InputError("--toys: only for one parameter of interest")
        result.update(analyse_grid(pois, nll))
    for entry in result["intervals"]:
        if not entry.get("closed", False):
            setup.notes.append(
                f"the {100 * entry['cl']:g} % CL region reaches the grid's edge (or is empty)"
            )
    if any(p.name.startswith("neutron_") for p in pois) and not model.physics.nucleon_form_factors:
        setup.notes.append(
            "a neutron-radius POI uses separate proton and neutron form factors; the model's "
            "own physics (and its Asimov data) has one form factor for both"
        )
    if QUENCHING_POI in result["poi"]:
        setup.notes.append(
            "quenching: a constant Q replaces the model's quenching at each value; the model "
            "value quoted is its Q at 10 keVnr"
        )
    result["notes"] = list(dict.fromkeys(setup.notes))
    return result
