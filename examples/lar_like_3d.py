"""A worked second experiment: a synthetic liquid-argon-like energy × pulse-shape × time analysis.

    python examples/lar_like_3d.py OUT_DIR [--mu 1.0] [--seed 2020] [--fit]

Writes into OUT_DIR everything a real data release would give, in the project's model format
only (no Python glue):

* ``lar_like.toml``: 24 kg of argon 27.5 m from the SNS (synthetic, CENNS-10-like), keVee
  energy with Gaussian resolution, arrival time (0–6 µs after the trigger, the source's pulse
  centred at t0 = 1 µs, a timing efficiency) and F90 pulse shape (0.5–0.9);
* ``psd_nuclear.csv`` / ``psd_electron.csv``: P(F90 | energy) tables for nuclear and electron
  recoils (Gaussian F90 bands whose widths shrink with energy);
* ``neutrons.csv`` (+ ``neutrons_soft.csv``, ``neutrons_hard.csv`` as ±1σ shape tables): the
  beam-related neutron energy spectrum per GW·hr, prompt in time, nuclear-recoil F90, with a
  100 % log-normal normalisation uncertainty; a ³⁹Ar-like steady-state electron-recoil rate,
  flat in time; neutrino-induced neutrons rescaled to 5 ± 2.5 events;
* ``data.csv``: one pseudo-experiment drawn from the model at signal strength ``--mu`` (known
  truth, nominal nuisance parameters), as an N-D CSV (bin edges energy_low, energy_high,
  time_low, ..., and counts).

``--fit`` then runs ``cevns-fit fit lar_like.toml --data data.csv`` on it. Every number here
is illustrative, not a measurement.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SNS = ROOT / "models" / "sources" / "sns.toml"
ENERGY_EDGES_keVee = np.arange(5.0, 40.0, 5.0)  # 6 bins of 5 keVee
TIME_EDGES_us = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
F90_EDGES = np.array([0.5, 0.6, 0.7, 0.8, 0.9])


def _f90_table(path: Path, mean: float, width_at_10keVee: float) -> None:
    """P(F90 | energy) on 1-keVee × 0.02 bins: a Gaussian band whose width falls as 1/√E."""
    from scipy.stats import norm

    e_centres = np.arange(0.5, 60.0, 1.0)
    f_edges = np.linspace(0.0, 1.0, 51)
    rows = ["energy,psd_low,psd_high,prob"]
    for e in e_centres:
        width = width_at_10keVee * np.sqrt(10.0 / e)
        prob = np.diff(norm.cdf(f_edges, mean, width))
        prob /= prob.sum()
        rows += [
            f"{e:g},{lo:g},{hi:g},{p:.6e}"
            for lo, hi, p in zip(f_edges, f_edges[1:], prob, strict=False)
        ]
    path.write_text("\n".join(rows) + "\n")


def _neutron_table(path: Path, slope_keVee: float) -> None:
    """Beam neutrons per GW·hr in 1-keVee bins (before efficiency): a falling exponential."""
    centres = np.arange(0.5, 60.0, 1.0)
    per_gwhr = 20.0 * np.exp(-centres / slope_keVee) / slope_keVee
    path.write_text(
        "energy,counts\n"
        + "".join(f"{c:g},{v:.6e}\n" for c, v in zip(centres, per_gwhr, strict=True))
    )


MODEL = """# Synthetic LAr-like CEvNS analysis (examples/lar_like_3d.py). Illustrative numbers only.
name = "lar_like"
description = "synthetic 24 kg LAr-like detector, energy x F90 x arrival time, 27.5 m from the SNS"
target = "Ar"

[source]
file = "{sns}"
distance_m = 27.5

[array]
mass_kg = 24.0
beam_exposure_GWhr = 13.7

[quenching]
model = "constant"
value = 0.25
sigma = 0.02

[resolution]
model = "gaussian"
stochastic_sqrt_keVee = 0.47      # σ = sqrt(E / 4.6 PE per keVee)
relative_sigma = 0.1

[efficiency]
model = "erf"
threshold = 8.0
width = 1.5
threshold_sigma = 0.5

[analysis]
observable = "keVee"
edges = {energy}
channel = "beam_on"

[analysis.time]
edges = {time}
t0_us = 1.0                       # the proton pulse centre 1 µs after the trigger
efficiency = {{ x_us = [0.0, 6.0], values = [0.98, 0.90] }}

[analysis.psd]
name = "F90"
edges = {f90}
nuclear = {{ file = "psd_nuclear.csv" }}
electron = {{ file = "psd_electron.csv" }}

[[backgrounds]]
name = "beam_neutrons"
kind = "beam"
file = "neutrons.csv"
file_units = "per_GWhr"
norm_uncertainty = 1.0            # 100 %: log-normal factors (1/2, 2)
# time = "prompt" and psd = "nuclear": the defaults of a beam background
[[backgrounds.systematics]]
name = "neutron_shape"
down = "neutrons_soft.csv"
up = "neutrons_hard.csv"

[[backgrounds]]
name = "ar39"
kind = "steady_state"
rate_per_kg_day = 400.0           # electron recoils / keVee / kg / day before the duty factor
duty_factor = "source"            # 60 Hz x the 6 µs time window
psd = "electron"
norm_uncertainty = 0.05

[[backgrounds]]
name = "nins"
kind = "neutrino_induced"
file = "neutrons.csv"
file_units = "per_GWhr"
time = "delayed"
target_events = 5.0
norm_uncertainty = 0.5
"""


def write_model(out: Path) -> Path:
    """Write the model and its tables into ``out``; returns the model path."""
    out.mkdir(parents=True, exist_ok=True)
    _f90_table(out / "psd_nuclear.csv", 0.70, 0.05)
    _f90_table(out / "psd_electron.csv", 0.30, 0.06)
    _neutron_table(out / "neutrons.csv", 12.0)
    _neutron_table(out / "neutrons_soft.csv", 9.0)
    _neutron_table(out / "neutrons_hard.csv", 15.0)
    path = out / "lar_like.toml"
    path.write_text(
        MODEL.format(
            sns=SNS.as_posix(),
            energy=[float(x) for x in ENERGY_EDGES_keVee],
            time=[float(x) for x in TIME_EDGES_us],
            f90=[float(x) for x in F90_EDGES],
        )
    )
    return path


def write_data(model_path: Path, out: Path, *, mu: float, seed: int) -> Path:
    """Draw one pseudo-experiment from the model at signal strength ``mu`` (nominal
    nuisances) and write it as an N-D CSV (bin edges: the time bins are not uniform, so
    centres would not define them); returns its path."""
    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    model = load_detector_model(model_path)
    templates = build_templates(model)
    channel = templates.channels[0]
    expected = sum(
        (mu if s.name == templates.signal_sample else 1.0) * s.counts for s in channel.samples
    )
    counts = np.random.default_rng(seed).poisson(expected).reshape(channel.shape)
    header = ",".join(f"{a.name}_low,{a.name}_high" for a in channel.axes) + ",counts"
    lines = [header]
    for index in np.ndindex(*channel.shape):
        bins = [
            f"{a.edges[i]:g},{a.edges[i + 1]:g}" for a, i in zip(channel.axes, index, strict=True)
        ]
        lines.append(",".join(bins) + f",{counts[index]}")
    path = out / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--mu", type=float, default=1.0, help="true signal strength")
    parser.add_argument("--seed", type=int, default=2020, help="random seed of the data")
    parser.add_argument("--fit", action="store_true", help="fit the data with cevns-fit")
    args = parser.parse_args(argv)
    model = write_model(args.out)
    data = write_data(model, args.out, mu=args.mu, seed=args.seed)
    print(f"model: {model}\ndata:  {data}", file=sys.stderr)
    if args.fit:
        cmd = [sys.executable, "-m", "cevns_fit", "fit", str(model), "--data", str(data)]
        return subprocess.call(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
