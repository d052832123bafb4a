"""Physics measurements with CEvNS: what the shipped COHERENT CsI 2017 data say about sin²θ_W,
the CsI neutron radius and ε^u_ee–ε^d_ee, and what the shipped CsPbI3 and Ge arrays would
measure (Asimov projections) on sin²θ_W, R_n(Pb) and the perovskite quenching factor.

Every number is computed here by :func:`cevns_fit.measure.measure` (profile likelihood, μ = 1,
all nuisances profiled, Wilks intervals); run ``python examples/measure_physics.py``
(a few minutes). The same scans from the command line::

    cevns-fit measure coherent_csi_2017 --poi sin2_theta_w=0.05:0.45:33
    cevns-fit measure coherent_csi_2017 --poi neutron_rms_radius_fm.Cs,I=2:9:29
    cevns-fit measure coherent_csi_2017 --poi eps_u_ee=-1:1:31,eps_d_ee=-1:1:31 --out nsi
    cevns-fit measure cspbi3_array --expected --poi quenching=0.2:0.4:21
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cevns_fit.detector import load_detector_model
from cevns_fit.measure import POI, measure, parse_poi
from cevns_fit.physics import PhysicsParameters
from cevns_fit.registry import detector_path


def interval(result: dict, k: int = 0) -> str:
    segs = result["intervals"][k]["segments"]
    return " ∪ ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in segs) or "empty"


def half_width(result: dict) -> str:
    """Half the 68 % interval, or "> h" when it reaches the grid's edge (h: half the grid)."""
    entry = result["intervals"][0]
    values = result["curve"]["values"]
    if not entry["closed"] or len(entry["segments"]) != 1:
        return f"> {0.5 * (values[-1] - values[0]):.3g}"
    ((lo, hi),) = entry["segments"]
    return f"{0.5 * (hi - lo):.3g}"


def centred(name: str, centre: float, half: float, n: int = 25) -> tuple[POI]:
    return (POI(name, np.linspace(centre - half, centre + half, n)),)


def main() -> None:
    csi = load_detector_model(detector_path("coherent_csi_2017"))
    print("COHERENT CsI 2017 data (the model's [[observations]]), 68 % CL (Δχ² < 1):")
    r = measure(csi, parse_poi("sin2_theta_w=0.05:0.45:33"), toys=200)
    print(f"  sin2_theta_w = {r['best_fit']:.4f}  in {interval(r)}  (95 %: {interval(r, 2)})")
    print(
        f"    Δχ² at the SM value {r['delta_chi2_at_model_value']:.2f}; 200 toys at the best fit:"
    )
    for lv in r["toys"]["levels"]:
        print(
            f"    {100 * lv['cl']:.0f} %: Wilks Δχ² {lv['wilks_delta_chi2']:.2f} covers "
            f"{lv['wilks_coverage']:.3f} ± {lv['wilks_coverage_error']:.3f}; "
            f"toy critical value {lv['toy_delta_chi2']:.2f}"
        )
    r = measure(csi, parse_poi("neutron_rms_radius_fm.Cs,I=2:9:29"))
    print(f"  R_n(Cs, I)   = {r['best_fit']:.3f} fm in {interval(r)}  (95 %: {interval(r, 2)})")
    r = measure(csi, parse_poi("neutron_skin_fm.Cs,I=-3:4:29"))
    print(f"  skin R_n - R_p (Cs, I) = {r['best_fit']:.3f} fm in {interval(r)}")
    for name in ("eps_u_ee", "eps_d_ee"):
        for project in (None, "energy"):
            r = measure(csi, parse_poi(f"{name}=-0.6:1.2:37"), project=project)
            print(
                f"  {name} alone (the other 0){', energy only' if project else ''}: "
                f"68 % {interval(r)}; 90 % {interval(r, 1)}; "
                f"Δχ²(0) = {r['delta_chi2_at_model_value']:.2f}"
            )
    r = measure(csi, parse_poi("sin2_theta_w=0.1:0.4:21,neutron_rms_radius_fm.Cs,I=3:8:21"))
    best = r["best_fit"]
    print(
        f"  2-D: sin2_theta_w = {best['sin2_theta_w']:.3f}, "
        f"R_n(Cs, I) = {best['neutron_rms_radius_fm.Cs,I']:.2f} fm (strongly correlated)"
    )

    print("\nProjections (Asimov at the model's physics), 1σ = half the 68 % interval:")
    for model_name in ("cspbi3_array", "ge_array"):
        model = load_detector_model(detector_path(model_name))
        for factor in (1.0, 10.0, 100.0):
            exposure = model.exposure_kg_yr * factor
            r = measure(
                model,
                centred("sin2_theta_w", 0.23857, 0.08),
                expected=True,
                exposure_kg_yr=exposure,
            )
            line = f"  {model_name} {exposure:8.3g} kg·yr: σ(sin²θ_W) = {half_width(r)}"
            if model_name == "cspbi3_array":
                nff = replace(
                    model,
                    physics=PhysicsParameters(
                        nucleon_form_factors=True, neutron_rms_radius_fm={"Pb": 5.62}
                    ),
                )
                r = measure(
                    nff,
                    centred("neutron_rms_radius_fm.Pb", 5.62, 2.5),
                    expected=True,
                    exposure_kg_yr=exposure,
                )
                line += f", σ(R_n(Pb)) = {half_width(r)} fm"
                q = float(model.quenching.factor(np.array([10.0]))[0])
                r = measure(
                    model, centred("quenching", q, 0.1), expected=True, exposure_kg_yr=exposure
                )
                line += f", σ(Q) = {half_width(r)} (Q = {q:g})"
            print(line)


if __name__ == "__main__":
    main()
