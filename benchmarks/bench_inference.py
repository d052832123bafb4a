"""Benchmark: plain pyhf (numpy + minuit) against the fast numpy HistFactory path.

For each workspace (synthetic 20- and 200-bin models, see :func:`synthetic`, and the
shipped detector models when they load) it times one median-expected discovery test:

* plain pyhf, one scan point: Asimov data at μ = 1 from ``model.expected_data``, then
  ``pyhf.infer.test_statistics.q0`` (the free and the μ = 0 fit, minuit with numerical
  gradients: what a user of plain pyhf runs per point). Building the ``pyhf.Model`` of the
  rescaled workspace, which plain pyhf needs at every new exposure, is timed separately
  (``pyhf build``) and NOT counted in the ratios;
* fast, from scratch: :func:`cevns_fit.inference.expected_significance` (validation,
  workspace, compiling, one μ = 0 fit: the free fit on pre-fit Asimov data is the nominal
  point);
* fast, one scan point: the same test from a model compiled once, at a new exposure
  (:meth:`FastModel.scaled`), warm-started from the previous point; and
  :func:`cevns_fit.inference.exposure_needed` (5σ) with its number of fits;
* the scan's memory with tracemalloc for N and 4N scan points (flat = no growth);
* templates: ``dsigma_dER`` for 100 recoil energies × every isotope of CsPbI3 × 1000
  neutrino energies, and ``build_templates`` of the shipped ``cspbi3_array`` model.

Every ratio is against plain pyhf measured in the same run.

    python benchmarks/bench_inference.py            # everything (plain pyhf at 200 bins: ~1 min)
    python benchmarks/bench_inference.py --quick    # skip the 200-bin plain pyhf run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cevns_fit.inference import (  # noqa: E402
    _asimov_q0,
    compile_model,
    expected_significance,
    exposure_needed,
)
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model  # noqa: E402
from cevns_fit.templates import AnalysisTemplates, Channel, Sample  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # pyhf #2139 (RefResolver)


def synthetic(n_bins: int, seed: int = 1) -> AnalysisTemplates:
    """1 channel, 2 histosys + 2 normsys + staterror: a falling signal on a flat background."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, n_bins)
    sig = 600 * np.exp(-3 * x) / n_bins
    bkg = np.full(n_bins, 1000.0 / n_bins)
    samples = (
        Sample(
            "cevns",
            sig,
            norm_factor="mu",
            norm_sys={"flux": 0.1},
            shape_sys={
                "quenching": (sig * (0.8 + 0.3 * x), sig * (1.2 - 0.3 * x)),
                "threshold": (
                    sig * (1 - 0.05 * rng.normal(size=n_bins)),
                    sig * (1 + 0.05 * rng.normal(size=n_bins)),
                ),
            },
            stat_error=0.05 * sig,
        ),
        Sample("steady_state", bkg, norm_sys={"steady_state_norm": 0.05}, stat_error=0.03 * bkg),
    )
    return AnalysisTemplates(
        (Channel("signal", np.arange(n_bins + 1.0), "keVee", samples),), exposure_kg_yr=1.0
    )


def shipped() -> dict[str, AnalysisTemplates]:
    out = {}
    try:
        from cevns_fit.detector import load_detector_model
        from cevns_fit.templates import build_templates
    except ImportError as exc:  # detector layer not there yet
        print(f"# shipped models skipped: {exc}", file=sys.stderr)
        return out
    for path in sorted((ROOT / "models" / "detectors").glob("*.toml")):
        try:
            out[path.stem] = build_templates(load_detector_model(path))
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            print(f"# {path.name} skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    return out


def time_plain(templates: AnalysisTemplates, repeat: int) -> tuple[float, float, float]:
    """(median seconds per q0 test, Z, seconds to build the pyhf model) in plain pyhf."""
    workspace = build_workspace(templates)
    times, z = [], float("nan")
    with pyhf_backend() as pyhf:
        t0 = time.perf_counter()
        model, _ = pyhf_model(workspace)
        build_s = time.perf_counter() - t0
        init = model.config.suggested_init()
        bounds = model.config.suggested_bounds()
        fixed = model.config.suggested_fixed()
        for _ in range(repeat):
            t0 = time.perf_counter()
            pars = np.array(init, float)
            pars[model.config.poi_index] = 1.0
            asimov = model.expected_data(pars)
            q0 = float(pyhf.infer.test_statistics.q0(0.0, asimov, model, init, bounds, fixed))
            times.append(time.perf_counter() - t0)
            z = float(np.sqrt(max(q0, 0.0)))
    return statistics.median(times), z, build_s


def time_fast(templates: AnalysisTemplates, repeat: int) -> tuple[float, float]:
    """(median seconds per expected-significance call, including compiling, Z)."""
    times, z = [], float("nan")
    for _ in range(repeat):
        t0 = time.perf_counter()
        z = expected_significance(templates).Z_expected
        times.append(time.perf_counter() - t0)
    return statistics.median(times), z


def scan_fast(templates: AnalysisTemplates, n_points: int, *, trace: bool) -> tuple[float, int]:
    """(seconds per scan point, bytes still allocated after the scan) over n exposures.

    The model is compiled once; each point rescales it and warm-starts from the previous
    point's fit. With ``trace`` the scan runs under tracemalloc (slower; for memory only).
    """
    fm = compile_model(templates)
    _asimov_q0(fm)  # first call: imports and caches outside the timing
    factors = np.geomspace(0.1, 10.0, n_points)
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    init = None
    for f in factors:
        _, init = _asimov_q0(fm.scaled(float(f)), init=init)
    elapsed = time.perf_counter() - t0
    current = 0
    if trace:
        current, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return elapsed / n_points, current


def time_exposure_needed(templates: AnalysisTemplates, repeat: int) -> tuple[float, int]:
    """(median seconds for a 5σ exposure-needed solve, number of μ = 0 fits it used)."""
    times, fits = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = exposure_needed(templates, sigma=5.0)
        times.append(time.perf_counter() - t0)
        fits = result.n_fits
    return statistics.median(times), fits


def time_templates(repeat: int) -> dict:
    """Seconds for dσ/dE_R (100 E_R × CsPbI3 isotopes × 1000 E_ν) and build_templates."""
    from cevns_fit.cross_section import dsigma_dER
    from cevns_fit.targets import make_target

    target = make_target("CsPbI3")
    energy_keVnr = np.linspace(0.5, 60.0, 100)
    enu_MeV = np.linspace(1.0, 53.0, 1000)
    dsigma_dER(energy_keVnr, enu_MeV, target, per="kg")  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        dsigma_dER(energy_keVnr, enu_MeV, target, per="kg")
        times.append(time.perf_counter() - t0)
    out = {
        "dsigma_isotopes": target.n_isotopes,
        "dsigma_s": statistics.median(times),
        "build_templates_s": float("nan"),
    }
    try:
        from cevns_fit.detector import load_detector_model
        from cevns_fit.templates import build_templates

        model = load_detector_model(ROOT / "models" / "detectors" / "cspbi3_array.toml")
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            templates = build_templates(model)
            times.append(time.perf_counter() - t0)
        out["build_templates_s"] = statistics.median(times)
        out["build_templates_bins"] = sum(ch.n_bins for ch in templates.channels)
    except Exception as exc:  # noqa: BLE001 - report and go on
        print(f"# build_templates timing skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip plain pyhf at 200 bins")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per timing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    models = {"synthetic_20_bins": synthetic(20), "synthetic_200_bins": synthetic(200)}
    models.update(shipped())
    rows = []
    for name, templates in models.items():
        n_bins = sum(ch.n_bins for ch in templates.channels)
        fast_s, z_fast = time_fast(templates, args.repeat)
        if args.quick and n_bins >= 200:
            plain_s, z_plain, build_s = float("nan"), float("nan"), float("nan")
        else:
            plain_s, z_plain, build_s = time_plain(templates, 1 if n_bins >= 200 else args.repeat)
        scan_s = min(scan_fast(templates, 50, trace=False)[0] for _ in range(args.repeat))
        exposure_s, exposure_fits = time_exposure_needed(templates, args.repeat)
        _, mem_n = scan_fast(templates, 25, trace=True)
        _, mem_4n = scan_fast(templates, 100, trace=True)
        rows.append(
            {
                "model": name,
                "bins": n_bins,
                "plain_pyhf_s": plain_s,
                "pyhf_build_s": build_s,
                "exposure_needed_s": exposure_s,
                "exposure_needed_fits": exposure_fits,
                "fast_s": fast_s,
                "fast_scan_point_s": scan_s,
                "ratio": plain_s / fast_s,
                "ratio_scan_point": plain_s / scan_s,
                "Z_plain": z_plain,
                "Z_fast": z_fast,
                "rel_dZ": abs(z_fast - z_plain) / z_plain if z_plain > 0 else float("nan"),
                "scan_mem_25_points_kB": mem_n / 1e3,
                "scan_mem_100_points_kB": mem_4n / 1e3,
            }
        )
    tmpl = time_templates(args.repeat)
    if args.json:
        print(json.dumps({"rows": rows, "templates": tmpl}, default=float))
        return 0
    head = (
        f"{'model':<20s}{'bins':>5s}{'plain pyhf':>11s}{'(build)':>9s}{'fast':>9s}{'ratio':>7s}"
        f"{'scan pt':>10s}{'ratio':>7s}{'exp.needed':>14s}{'Z':>9s}{'|dZ|/Z':>9s}"
        f"{'mem 25/100 pts':>16s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['model']:<20s}{r['bins']:>5d}{r['plain_pyhf_s']:>10.3f}s"
            f"{r['pyhf_build_s']:>8.3f}s"
            f"{1e3 * r['fast_s']:>7.2f}ms{r['ratio']:>7.0f}"
            f"{1e3 * r['fast_scan_point_s']:>8.3f}ms{r['ratio_scan_point']:>7.0f}"
            f"{1e3 * r['exposure_needed_s']:>7.2f}ms/{r['exposure_needed_fits']:<2d}fits"
            f"{r['Z_fast']:>9.4f}{r['rel_dZ']:>9.1e}"
            f"{r['scan_mem_25_points_kB']:>7.1f}/{r['scan_mem_100_points_kB']:.1f} kB"
        )
    finite = [r["rel_dZ"] for r in rows if np.isfinite(r["rel_dZ"])]
    timed = [r for r in rows if np.isfinite(r["ratio"])]
    worst = min(timed, key=lambda r: r["ratio_scan_point"])
    print(
        f"\nlargest |ΔZ|/Z = {max(finite):.1e} (target 1e-3); smallest speed-up per test "
        f"from scratch = {min(r['ratio'] for r in timed):.0f}x; per scan point = "
        f"{worst['ratio_scan_point']:.0f}x ({worst['model']}; target 100x: "
        f"{'met' if worst['ratio_scan_point'] >= 100 else 'NOT met'})"
    )
    ok = tmpl["dsigma_s"] < 0.05
    print(
        f"templates: dsigma_dER 100 E_R x {tmpl['dsigma_isotopes']} isotopes (CsPbI3) x 1000 "
        f"E_nu = {1e3 * tmpl['dsigma_s']:.1f} ms (target 50 ms: {'met' if ok else 'NOT met'}); "
        f"build_templates(cspbi3_array, {tmpl.get('build_templates_bins', '?')} bins) = "
        f"{1e3 * tmpl['build_templates_s']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
