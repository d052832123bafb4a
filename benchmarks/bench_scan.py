"""Scan speed (issue 12): one configuration point, the seed's A-beats-B map, the main job.

    python benchmarks/bench_scan.py [--repeat N] [--points-only] [--json]

* ``point``: one configuration point in this process, CPU time on one core — templates at a new
  threshold and quenching, the median Z and the 5σ exposure — for each shipped model, the
  median over ``2 × repeat + 5`` points: ``recomputed`` with the true-recoil spectrum
  integrated again (the cache cleared: what every point cost before the cache), and
  ``point`` as a scan runs it (spectrum cached, one compiled likelihood per point), split
  into templates and inference, with the μ = 0 fits the exposure solve used;
* ``same``: the largest relative difference of Z and of the 5σ exposure between the scan's
  point (:func:`cevns_fit.scan.evaluate_point`) and the single commands' path (templates
  built from the model, ``expected_significance``, ``exposure_needed``) at those points;
* ``map``: the seed's map, ``cevns-fit map cspbi3_array ge_array --vary
  threshold=5:30:50 --vary quenching=0.15:0.45:20 --reference same`` (2 models × 1000
  points, 5σ exposure each) as a fresh process with 2 workers, on the local executor and
  on a dask LocalCluster, alternating, best of ``repeat``: wall time including process
  start, CPU time, the largest relative difference between the two maps' ratios, and the
  peak memory of a 500- and a 2000-point map;
* ``main job``: the README's ``cevns-fit compare cspbi3_array ge_array --out DIR``, best of
  ``repeat``.

Targets (issue 12): point ≤ 5 ms, map ≤ 30 s, dask/local ≤ 1, main job ≤ 10 s, same ≤ 1e-6.
Timings depend on the machine's load; every ratio is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cevns_fit import response  # noqa: E402
from cevns_fit.detector import load_detector_model  # noqa: E402
from cevns_fit.inference import (  # noqa: E402
    compile_model,
    expected_significance,
    exposure_needed,
)
from cevns_fit.scan import evaluate_point, scan_overrides  # noqa: E402
from cevns_fit.templates import build_templates  # noqa: E402

MODELS = ("cspbi3_array", "ge_array", "coherent_csi_2017")
MAP_ARGS = ["cspbi3_array", "ge_array", "--vary", "quenching=0.15:0.45:20", "--reference", "same"]


def _points(model, n: int) -> list[dict]:
    """n configuration points around the model's own: threshold × 0.8–1.6 and, for a
    constant quenching factor, Q × 0.8–1.2."""
    out = []
    for k in range(n):
        point = {"threshold": model.threshold_keVnr * (0.8 + 0.8 * k / max(n - 1, 1))}
        if model.quenching.to_dict().get("model") == "constant":
            point["quenching"] = model.quenching.value * (0.8 + 0.4 * ((k * 7) % n) / n)
        out.append(point)
    return out


def one_point(model, point: dict, *, recompute: bool) -> dict:
    """Templates, Z and the 5σ exposure at ``point``, timed in CPU time of this process
    (one core; wall time on a shared machine counts the other jobs too)."""
    if recompute:
        response._RECOIL_CACHE.clear()
    start = time.process_time()
    templates = build_templates(model.with_overrides(**scan_overrides(model, point)))
    built = time.process_time()
    fm = compile_model(templates)
    z = expected_significance(templates, compiled=fm).Z_expected
    solved = exposure_needed(templates, sigma=5.0, compiled=fm)
    end = time.process_time()
    return {
        "total_s": end - start,
        "templates_s": built - start,
        "inference_s": end - built,
        "fits": solved.n_fits,
        "Z": z,
        "exposure": solved.exposure_kg_yr,
    }


def bench_points(repeat: int) -> list[dict]:
    rows = []
    for name in MODELS:
        path = ROOT / "models" / "detectors" / f"{name}.toml"
        model = load_detector_model(path)
        points = _points(model, 2 * repeat + 5)
        one_point(model, points[0], recompute=False)  # imports, caches of the loader
        recomputed = [one_point(model, p, recompute=True)["total_s"] for p in points]
        cached = [one_point(model, p, recompute=False) for p in points]
        worst = 0.0
        for p, c in zip(points, cached, strict=True):
            scan = evaluate_point(str(path), p, (5.0,))
            worst = max(
                worst,
                abs(scan["Z_expected"] / c["Z"] - 1),
                abs(scan["exposure_kg_yr_5sigma"] / c["exposure"] - 1),
            )
        rows.append(
            {
                "model": name,
                "recomputed_s": statistics.median(recomputed),
                "point_s": statistics.median(c["total_s"] for c in cached),
                "templates_s": statistics.median(c["templates_s"] for c in cached),
                "inference_s": statistics.median(c["inference_s"] for c in cached),
                "fits": statistics.median(c["fits"] for c in cached),
                "same": worst,
            }
        )
    return rows


# runs the CLI and writes the peak memory of the process (it holds the records) and of its
# largest worker to the file named by BENCH_RSS_FILE
_WRAPPER = """
import json, os, resource, sys
from cevns_fit.cli import main
try:
    code = main(sys.argv[1:])
finally:
    # the workers are children of multiprocessing's fork server, which reaps them: stop it
    # and wait for it so that their CPU time and peak memory count among our children's
    from multiprocessing import forkserver
    forkserver._forkserver._stop()
    with open(os.environ["BENCH_RSS_FILE"], "w") as fh:
        json.dump([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss], fh)
sys.exit(code)
"""


def _run(args: list[str]) -> tuple[float, float, tuple[float, float]]:
    """(wall s, CPU s of the process and its workers, (peak MB of the process, of its
    largest worker)) for a fresh ``cevns-fit`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.NamedTemporaryFile(suffix=".json") as rss:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _WRAPPER, *args, "--no-progress"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "MPLBACKEND": "Agg", "BENCH_RSS_FILE": rss.name},
        )
        wall = time.perf_counter() - start
        peak = tuple(kb / 1024.0 for kb in json.loads(Path(rss.name).read_text()))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak


def _ratios(folder: Path) -> list[float]:
    data = json.loads((folder / "map.json").read_text())
    return [v for row in data["ratio"]["kg"] for v in row]


def bench_map(repeat: int, n_thresholds: int = 50) -> dict:
    args = [*MAP_ARGS, "--vary", f"threshold=5:30:{n_thresholds}", "--workers", "2"]
    best = {"local": (math.inf, 0.0), "dask": (math.inf, 0.0)}
    ratios, peak = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            for executor in ("local", "dask"):
                out = Path(tmp) / f"{executor}{k}"
                wall, cpu, rss = _run(["map", *args, "--executor", executor, "--out", str(out)])
                if wall < best[executor][0]:
                    best[executor] = (wall, cpu)
                ratios[executor] = _ratios(out)
                if executor == "local":
                    peak["large"] = rss
        small = ["--vary", "threshold=5:30:12", "--workers", "2"]
        _, _, peak["small"] = _run(["map", *MAP_ARGS, *small, "--out", str(Path(tmp) / "s")])
    diff = max(
        (abs(a / b - 1) for a, b in zip(ratios["local"], ratios["dask"], strict=True) if a and b),
        default=0.0,
    )
    return {
        "points": 2 * 20 * n_thresholds,
        "local_s": best["local"][0],
        "local_cpu_s": best["local"][1],
        "dask_s": best["dask"][0],
        "dask_cpu_s": best["dask"][1],
        "dask_over_local": best["dask"][0] / best["local"][0],
        "max_rel_diff": diff,
        "peak_MB": {"points_480": peak["small"], f"points_{2 * 20 * n_thresholds}": peak["large"]},
    }


def bench_main_job(repeat: int) -> float:
    best = math.inf
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            wall, _, _ = _run(["compare", *MODELS[:2], "--out", str(Path(tmp) / str(k))])
            best = min(best, wall)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="repetitions (default 2)")
    parser.add_argument("--points-only", action="store_true", help="skip the map and main job")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = {"points": bench_points(args.repeat)}
    if not args.points_only:
        result["map"] = bench_map(args.repeat)
        result["main_job_s"] = bench_main_job(args.repeat)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{'model':18s} {'recomputed':>10s} {'point':>8s} {'templates':>9s} "
        f"{'inference':>9s} {'fits':>4s} {'speed-up':>8s} {'same':>8s}"
    )
    for r in result["points"]:
        print(
            f"{r['model']:18s} {1e3 * r['recomputed_s']:8.1f}ms {1e3 * r['point_s']:6.1f}ms "
            f"{1e3 * r['templates_s']:7.1f}ms {1e3 * r['inference_s']:7.1f}ms "
            f"{r['fits']:4.0f} {r['recomputed_s'] / r['point_s']:7.1f}x {r['same']:8.1e}"
        )
    if "map" in result:
        m = result["map"]
        print(
            f"map {m['points']} points, 2 workers, wall incl. process start: local "
            f"{m['local_s']:.1f} s (CPU {m['local_cpu_s']:.1f} s), dask LocalCluster "
            f"{m['dask_s']:.1f} s (CPU {m['dask_cpu_s']:.1f} s), dask/local "
            f"{m['dask_over_local']:.2f}; largest relative difference of the ratios "
            f"{m['max_rel_diff']:.1e}"
        )
        for label, (parent, worker) in m["peak_MB"].items():
            print(
                f"  peak memory, map of {label.split('_')[1]} points: process {parent:.0f} MB, "
                f"largest worker {worker:.0f} MB"
            )
        print(f"main job (compare cspbi3_array ge_array --out DIR): {result['main_job_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
