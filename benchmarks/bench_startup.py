"""Benchmark: how fast the command line starts (issue 12 item 5).

Times, as fresh processes (what a user or a shell loop pays), best of ``--repeat`` runs:

* ``cevns-fit --help`` (target 0.5 s): building the parser must import no numpy/scipy/pyhf;
* ``cevns-fit xsec --target CsPbI3 --enu 30 --threshold 5`` (target 1 s): numpy, scipy.special
  and periodictable, no pyhf, matplotlib or dask;

and lists which heavy libraries each command imported (``python -X importtime``).

    python benchmarks/bench_startup.py            # best of 3
    python benchmarks/bench_startup.py --repeat 5 --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

COMMANDS = [  # (arguments, target wall time in s)
    (["--help"], 0.5),
    (["xsec", "--target", "CsPbI3", "--enu", "30", "--threshold", "5"], 1.0),
]
HEAVY = ("numpy", "scipy", "pyhf", "matplotlib", "dask", "iminuit", "periodictable", "tqdm")


def best_wall_s(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cevns_fit", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def heavy_imports(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cevns_fit", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    top = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    return sorted(set(HEAVY) & top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (best counts)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    rows = []
    for argv, target_s in COMMANDS:
        wall = best_wall_s(argv, args.repeat)
        rows.append(
            {
                "command": f"cevns-fit {' '.join(argv)}",
                "best_s": round(wall, 3),
                "target_s": target_s,
                "met": wall <= target_s,
                "heavy_imports": heavy_imports(argv),
            }
        )
    if args.json:
        print(json.dumps({"repeat": args.repeat, "rows": rows}))
        return 0
    print(f"{'command':<62} {'best of ' + str(args.repeat):>10} {'target':>7}  imports")
    for r in rows:
        verdict = "met" if r["met"] else "MISSED"
        print(
            f"{r['command']:<62} {r['best_s']:>9.3f}s {r['target_s']:>6.1f}s  "
            f"{verdict}; {', '.join(r['heavy_imports']) or '-'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
