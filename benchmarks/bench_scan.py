"""Scan speed: one configuration point with and without the true-recoil cache, and a small
threshold × quenching map on the local executor against a dask LocalCluster, in one run.

    python benchmarks/bench_scan.py [--points N] [--json]

* ``point (uncached)``: what every scan point cost before the cache — templates rebuilt from
  dσ/dE_R (cache cleared first), median Z and the 5σ exposure;
* ``point (cached)``: the same at a new threshold and quenching, the recoil spectrum reused;
* ``map local`` / ``map dask``: ``cevns_fit.mapping.exposure_ratio_map`` on an N-point grid
  (2 workers each; dask = a LocalCluster of 2 processes), wall time including process start,
  with the largest relative difference of their ratios (they must agree).

Ratios are against the uncached point and the local map measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cevns_fit import response  # noqa: E402
from cevns_fit.detector import load_detector_model  # noqa: E402
from cevns_fit.inference import expected_significance, exposure_needed  # noqa: E402
from cevns_fit.mapping import exposure_ratio_map  # noqa: E402
from cevns_fit.scan import Axis  # noqa: E402
from cevns_fit.templates import build_templates  # noqa: E402

MODELS = ("cspbi3_array", "ge_array", "coherent_csi_2017")


def one_point(model, thr: float, q: float | None) -> float:
    start = time.perf_counter()
    kwargs = {"threshold_keVnr": thr}
    if q is not None:
        kwargs["quenching"] = q
    templates = build_templates(model.with_overrides(**kwargs))
    expected_significance(templates)
    exposure_needed(templates, sigma=5.0)
    return time.perf_counter() - start


def bench_points(repeat: int = 7) -> list[dict]:
    rows = []
    for name in MODELS:
        model = load_detector_model(ROOT / "models" / "detectors" / f"{name}.toml")
        q = 0.3 if name == "cspbi3_array" else None
        thr = model.threshold_keVnr
        uncached, cached = [], []
        for k in range(repeat):
            response._RECOIL_CACHE.clear()
            uncached.append(one_point(model, thr * (1 + 0.01 * k), q))
            cached.append(one_point(model, thr * (1.005 + 0.01 * k), q))
        u, c = statistics.median(uncached), statistics.median(cached)
        rows.append({"model": name, "uncached_s": u, "cached_s": c, "speedup": u / c})
    return rows


def bench_map(n_thr: int, n_q: int) -> dict:
    a = ROOT / "models" / "detectors" / "cspbi3_array.toml"
    b = ROOT / "models" / "detectors" / "ge_array.toml"
    x = Axis("threshold", tuple(5.0 + 25.0 * i / (n_thr - 1) for i in range(n_thr)))
    y = Axis("quenching", tuple(0.15 + 0.3 * j / (n_q - 1) for j in range(n_q)))
    out = {}
    for executor in ("local", "dask"):
        start = time.perf_counter()
        result = exposure_ratio_map(a, b, x, y, executor=executor, workers=2, progress=False)
        out[executor] = (time.perf_counter() - start, result.ratio["kg"])
    diff = max(
        abs(p / q - 1)
        for row_p, row_q in zip(out["local"][1], out["dask"][1], strict=True)
        for p, q in zip(row_p, row_q, strict=True)
        if math.isfinite(p) and math.isfinite(q)
    )
    return {
        "points": n_thr * n_q,
        "local_s": out["local"][0],
        "dask_s": out["dask"][0],
        "dask_over_local": out["dask"][0] / out["local"][0],
        "max_rel_diff": diff,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100, help="map points (default 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    points = bench_points()
    n_thr = max(2, int(round(math.sqrt(args.points * 2))))
    n_q = max(2, args.points // n_thr)
    grid = bench_map(n_thr, n_q)
    if args.json:
        print(json.dumps({"points": points, "map": grid}))
        return 0
    print(f"{'model':20s} {'point uncached':>15s} {'point cached':>13s} {'speed-up':>9s}")
    for r in points:
        print(
            f"{r['model']:20s} {1e3 * r['uncached_s']:13.1f}ms {1e3 * r['cached_s']:11.1f}ms "
            f"{r['speedup']:8.1f}x"
        )
    print(
        f"map {grid['points']} points: local {grid['local_s']:.1f} s, dask LocalCluster "
        f"{grid['dask_s']:.1f} s (dask/local {grid['dask_over_local']:.2f}); "
        f"largest relative difference of the ratios {grid['max_rel_diff']:.1e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
