"""Evidence for the equivalent mutants of the Newton loop's stopping rule and line search
(cevns_fit/fastlik/fitting.py, tools/README.md): run a battery of fits with the loop as it is
and with each mutation, and print how far −ln L, the parameters, the success flag, "Newton
converged" and the evaluation count move.

    python tools/fitting_battery.py            # every mutation below
    python tools/fitting_battery.py 3 7        # the 3rd and 7th

The battery (310 fits): random models (3 seeds × 8 bins ± staterror, 40 bins with staterror),
the empty/background-free-bin models of tests/test_fastlik_observed.py with and without
staterror and its observed data sets, and the three shipped detectors at nominal and 1.2×
threshold; Asimov μ = 0 fits with and without ``reference_nll = 0`` at 1e-4, 1 and 1e3 × the
exposure, and free, μ = 0, 2, 6 fits to Poisson data drawn at μ = 0, 1.5, 4. Each mutation is
a text substitution in fitting.py's source (which must occur exactly once), compiled into a
scratch module whose ``_newton_loop`` replaces the original for the run.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cevns_fit.detector import load_detector_model  # noqa: E402
from cevns_fit.fastlik import FastModel, fitting  # noqa: E402
from cevns_fit.likelihood import build_workspace  # noqa: E402
from cevns_fit.registry import detector_path  # noqa: E402
from cevns_fit.templates import build_templates  # noqa: E402
from tests.test_fastlik import random_templates  # noqa: E402
from tests.test_fastlik_observed import DATA, LARGE, templates_with_gaps  # noqa: E402

# (original text, mutated text): mutmut's survivors judged equivalent in tools/README.md
MUTATIONS = [
    ("scale_nll = max(1.0, abs(nll))", "scale_nll = max(2.0, abs(nll))"),
    ("if decrement < 1e-13 * scale_nll or", "if decrement <= 1e-13 * scale_nll or"),
    ("if decrement < 1e-13 * scale_nll or", "if decrement < 2e-13 * scale_nll or"),
    ("or decrement < 1e-12:", "or decrement <= 1e-12:"),
    ("or decrement < 1e-12:", "or decrement < 2e-12:"),
    ("last_tol = 1e-9 + 1e-13 * scale_nll", "last_tol = 1e-9 - 1e-13 * scale_nll"),
    ("last_tol = 1e-9 + 1e-13 * scale_nll", "last_tol = 1e-9 + 2e-13 * scale_nll"),
    ("last_tol = 1e-9 + 1e-13 * scale_nll", "last_tol = 1e-9 + 1e-13 / scale_nll"),
    ("last = decrement < last_tol", "last = decrement <= last_tol"),
    ("accepted = False", "accepted = None"),
    ("if new_nll <= nll - 1e-4", "if new_nll < nll - 1e-4"),
    ("decrement + 1e-12 * abs(nll):", "decrement + 2e-12 * abs(nll):"),
    ("decrement + 1e-12 * abs(nll):", "decrement + 1e-12 / abs(nll):"),
    ("decrement < 1e-8", "decrement <= 1e-8"),
    ("decrement < 1e-8", "decrement < 2e-08"),
]

SOURCE = Path(fitting.__file__).read_text(encoding="utf-8")
ORIGINAL = FastModel._newton_loop


def use(mutation: tuple[str, str] | None) -> None:
    """Put the mutated Newton loop in place (None: the original)."""
    if mutation is None:
        FastModel._newton_loop = ORIGINAL
        return
    old, new = mutation
    if SOURCE.count(old) != 1:
        raise SystemExit(f"fitting.py no longer holds {old!r} exactly once: update MUTATIONS")
    module = types.ModuleType("mutated_fitting")
    sys.modules[module.__name__] = module
    exec(compile(SOURCE.replace(old, new), "mutated_fitting", "exec"), module.__dict__)
    FastModel._newton_loop = module.FastFitting._newton_loop


def compiled(templates) -> FastModel:
    return FastModel.from_workspace(build_workspace(templates))


def battery() -> list[tuple]:
    models = {}
    for seed in (3, 12, 21):
        for n_bins, stat in ((8, True), (8, False), (40, True)):
            models[f"random{seed}-{n_bins}-{stat}"] = compiled(
                random_templates(seed, n_bins=n_bins, stat=stat)
            )
    models["gaps"] = compiled(templates_with_gaps())
    models["gaps-stat"] = compiled(templates_with_gaps(stat=True))
    for name in ("cspbi3_array", "ge_array", "coherent_csi_2017"):
        model = load_detector_model(detector_path(name))
        models[name] = compiled(build_templates(model))
        raised = model.with_overrides(threshold_keVnr=1.2 * model.threshold_keVnr)
        models[f"{name}-threshold"] = compiled(build_templates(raised))
    jobs = []
    for name, fm in models.items():
        for factor in (1e-4, 1.0, 1e3):
            scaled = fm.scaled(factor)
            main, aux = scaled.asimov(mu=1.0)
            mu0 = {"fix": {scaled.poi_index: 0.0}}
            relative = {**mu0, "reference_nll": 0.0}
            jobs.append((f"{name} Asimov μ=0 ref {factor:g}", scaled, main, aux, relative))
            jobs.append((f"{name} Asimov μ=0 {factor:g}", scaled, main, aux, mu0))
        rng = np.random.default_rng(7)
        for mu in (0.0, 1.5, 4.0):
            data = rng.poisson(fm.expected_main(fm.nominal_pars(mu=mu))).astype(float)
            jobs.append((f"{name} free, data at μ={mu}", fm, data, fm.aux_nominal, {}))
            for fixed in (0.0, 2.0, 6.0):
                kw = {"fix": {fm.poi_index: fixed}}
                jobs.append((f"{name} μ={fixed}, data at μ={mu}", fm, data, fm.aux_nominal, kw))
    gaps = models["gaps"]
    for data, tag in ((DATA, "DATA"), (LARGE, "LARGE")):
        jobs.append((f"gaps {tag} free", gaps, data, gaps.aux_nominal, {}))
        jobs.append(
            (f"gaps {tag} μ=0", gaps, data, gaps.aux_nominal, {"fix": {gaps.poi_index: 0.0}})
        )
    return jobs


def run(jobs) -> list[tuple]:
    out = []
    for _, fm, main, aux, kw in jobs:
        try:
            r = fm.fit(main, aux, **kw)
            out.append(
                (r.pars.copy(), r.nll, r.success, r.message == "Newton converged", r.n_evaluations)
            )
        except Exception as exc:  # a mutant may raise: that is a changed result
            out.append((None, None, None, repr(exc), None))
    return out


def compare(reference, mutated) -> str:
    d_nll = d_rel = d_pars = 0.0
    flags = evals = 0
    for a, b in zip(reference, mutated, strict=True):
        if a[0] is None or b[0] is None or a[2:4] != b[2:4]:
            flags += 1
            continue
        if np.isfinite(a[1]) and np.isfinite(b[1]):
            d_nll = max(d_nll, abs(a[1] - b[1]))
            d_rel = max(d_rel, abs(a[1] - b[1]) / max(1.0, abs(a[1])))
            d_pars = max(d_pars, float(np.max(np.abs(a[0] - b[0]))))
        evals += a[4] != b[4]
    return (
        f"max |Δ(−ln L)| {d_nll:.2g} (relative {d_rel:.2g}), max |Δθ| {d_pars:.2g}, "
        f"changed flags {flags}, changed evaluation counts {evals}"
    )


def main(argv: list[str]) -> int:
    chosen = [int(a) for a in argv] or range(1, len(MUTATIONS) + 1)
    jobs = battery()
    use(None)
    reference = run(jobs)
    print(f"{len(jobs)} fits, {sum(r[3] is True for r in reference)} ended 'Newton converged'")
    for k in chosen:
        use(MUTATIONS[k - 1])
        mutated = run(jobs)
        use(None)
        old, new = MUTATIONS[k - 1]
        print(f"{k:2d} {old!r} → {new!r}: {compare(reference, mutated)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
