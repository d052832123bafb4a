"""Benchmark: plain pyhf (numpy + minuit) against the fast numpy HistFactory path.

For each workspace (synthetic 20- and 200-bin models like those of PYHF_NOTES.md, and the
shipped detector models when they load) it times one median-expected discovery test:

* plain pyhf: Asimov data at μ = 1 from ``model.expected_data``, then
  ``pyhf.infer.test_statistics.q0`` (the free and the μ = 0 fit, minuit with numerical
  gradients: what a user of plain pyhf runs);
* fast: :func:`cevns_fit.inference.expected_significance` (one μ = 0 fit with analytic
  gradients; the free fit on pre-fit Asimov data is the nominal point);
* a scan of the fast path over exposures with the model compiled once
  (:meth:`FastModel.scaled`), and its memory with tracemalloc for N and 4N scan points.

It prints, per model, the time per test of both, their ratio, |ΔZ|/Z, and the scan memory.

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

from cevns_fit.inference import _asimov_q0, compile_model, expected_significance  # noqa: E402
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model  # noqa: E402
from cevns_fit.templates import AnalysisTemplates, Channel, Sample  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # pyhf #2139 (RefResolver)


def synthetic(n_bins: int, seed: int = 1) -> AnalysisTemplates:
    """1 channel, 2 histosys + 2 normsys + staterror (PYHF_NOTES.md's benchmark model)."""
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


def time_plain(templates: AnalysisTemplates, repeat: int) -> tuple[float, float]:
    """(median seconds per q0 test, Z) in plain pyhf, numpy backend + minuit."""
    workspace = build_workspace(templates)
    times, z = [], float("nan")
    with pyhf_backend() as pyhf:
        model, _ = pyhf_model(workspace)
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
    return statistics.median(times), z


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
            plain_s, z_plain = float("nan"), float("nan")
        else:
            plain_s, z_plain = time_plain(templates, 1 if n_bins >= 200 else args.repeat)
        scan_s, _ = scan_fast(templates, 50, trace=False)
        _, mem_n = scan_fast(templates, 25, trace=True)
        _, mem_4n = scan_fast(templates, 100, trace=True)
        rows.append(
            {
                "model": name,
                "bins": n_bins,
                "plain_pyhf_s": plain_s,
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
    if args.json:
        print(json.dumps({"rows": rows}, default=float))
        return 0
    head = (
        f"{'model':<22s}{'bins':>5s}{'plain pyhf':>12s}{'fast':>10s}{'ratio':>8s}"
        f"{'scan pt':>10s}{'ratio':>8s}{'Z':>9s}{'|dZ|/Z':>10s}{'mem 25/100 pts':>17s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['model']:<22s}{r['bins']:>5d}{r['plain_pyhf_s']:>11.3f}s"
            f"{1e3 * r['fast_s']:>8.2f}ms{r['ratio']:>8.0f}"
            f"{1e3 * r['fast_scan_point_s']:>8.2f}ms{r['ratio_scan_point']:>8.0f}"
            f"{r['Z_fast']:>9.4f}{r['rel_dZ']:>10.1e}"
            f"{r['scan_mem_25_points_kB']:>8.1f}/{r['scan_mem_100_points_kB']:.1f} kB"
        )
    finite = [r["rel_dZ"] for r in rows if np.isfinite(r["rel_dZ"])]
    print(
        f"\nlargest |ΔZ|/Z = {max(finite):.1e}; smallest speed-up per test = "
        f"{min(r['ratio'] for r in rows if np.isfinite(r['ratio'])):.0f}x, per scan point = "
        f"{min(r['ratio_scan_point'] for r in rows if np.isfinite(r['ratio'])):.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
