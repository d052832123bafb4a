"""Figures that tell the truth: marks where the curves say they are, words a reader knows."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from cevns_fit.compare import ThresholdCurve, curve_crossings, summarize, threshold_crossover
from cevns_fit.plots.captions import flux_label, model_caption, wrap_caption
from cevns_fit.plots.compare import exposure_vs_threshold_figure, z_vs_exposure_figure
from cevns_fit.registry import load_model

THR = np.linspace(2.0, 40.0, 20)


def test_curve_crossings_are_where_the_curves_cross():
    # e^{0.2 t} and e^{0.1 t + 1} cross at t = 10 exactly; log-linear interpolation is exact
    a, b = np.exp(0.2 * THR), np.exp(0.1 * THR + 1.0)
    (t,) = curve_crossings(THR, a, b)
    assert t == pytest.approx(10.0, abs=1e-12)
    assert curve_crossings(THR, a, 2 * a) == ()  # parallel: never
    # an unreachable (NaN) stretch is skipped, not read as a crossing
    assert curve_crossings(THR, np.where(THR > 30, np.nan, a), b) == (t,)


@pytest.fixture(scope="module")
def ge_summary():
    return summarize(load_model("ge_array"))


def _curves(ge_summary):
    # challenger rises faster than the reference: cheaper at low thresholds only
    challenger = np.exp(0.3 * THR - 4.0)
    challenger[THR > 33] = np.nan  # unreachable at the top of the grid
    ref = np.exp(0.1 * THR - 1.0)
    return [
        ThresholdCurve("challenger", "nominal", None, THR, challenger, 100.0),
        ThresholdCurve("ge_array", "nominal", None, THR, ref, ge_summary.cost_usd_per_kg),
    ]


def test_crossover_names_both_comparisons_apart(ge_summary):
    curves = _curves(ge_summary)
    (cross,) = threshold_crossover(curves[:1], ge_summary, curves[1:])
    # curves cross where 0.3 t - 4 = 0.1 t - 1, t = 15; the "as built" threshold is where the
    # challenger reaches the reference's exposure at the reference's own nominal threshold
    assert cross.curves_cross_per_kg_keVnr == pytest.approx((15.0,), abs=1e-9)
    as_built = (np.log(ge_summary.exposure_kg_yr_5sigma) + 4.0) / 0.3
    assert cross.per_kg_threshold_keVnr == pytest.approx(as_built, rel=1e-9, abs=0)
    assert cross.per_kg_threshold_keVnr != pytest.approx(15.0, rel=0.05, abs=0)


def test_exposure_figure_marks_the_crossing_on_the_curves_and_runs_off_the_top(ge_summary):
    curves = _curves(ge_summary)
    crossovers = threshold_crossover(curves[:1], ge_summary, curves[1:])
    summary = replace(ge_summary, threshold_keVnr=ge_summary.threshold_keVnr)
    fig = exposure_vs_threshold_figure(curves, [summary], crossovers, caption="SNS at 19.3 m")
    ax_kg = fig.axes[0]
    (mark,) = [ln for ln in ax_kg.get_lines() if ln.get_marker() == "X"]
    assert mark.get_xdata()[0] == pytest.approx(15.0, abs=0)
    assert mark.get_ydata()[0] == pytest.approx(np.exp(0.1 * 15.0 - 1.0), rel=1e-9, abs=0)
    assert "curves cross" in mark.get_label()
    (line,) = [ln for ln in ax_kg.get_lines() if ln.get_label() == "challenger"]
    top = ax_kg.get_ylim()[1]
    assert np.all(line.get_ydata()[THR > 33] > top)  # unreachable: above the axis, not dropped
    assert "SNS" in fig.texts[0].get_text() or "SNS" in fig._suptitle.get_text()


def test_z_vs_exposure_labels_the_levels_and_the_assumptions():
    e = np.geomspace(0.01, 100, 21)
    fig = z_vs_exposure_figure(
        e,
        {"a": 5 * np.sqrt(e / 0.5)},
        labels={"a": "a: 4.3 keVee, Q = 0.3 (assumed)"},
        five_sigma_kg_yr={"a": 0.5},
    )
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"3σ", "5σ", "0.5 kg·yr"} <= texts
    assert ax.get_legend().get_texts()[0].get_text() == "a: 4.3 keVee, Q = 0.3 (assumed)"


def test_captions_state_source_exposure_threshold_and_assumptions():
    text = model_caption(load_model("cspbi3_array"))
    for piece in ("SNS 1.4 MW at 19.3 m", "10 kg·yr", "4.3 keVee", "Q = 0.3", "assumed"):
        assert piece in text
    assert all(len(line) <= 95 for line in wrap_caption(text).splitlines())


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("prompt_nu_mu", r"prompt $\nu_\mu$"),
        ("delayed_nu_mu_bar", r"delayed $\bar\nu_\mu$"),
        ("reactor_nu_e_bar", r"reactor $\bar\nu_e$"),
        ("steady_state", "steady state"),
    ],
)
def test_flux_components_get_physics_names(code, label):
    assert flux_label(code) == label


def test_spectrum_figure_marks_the_threshold_and_spans_four_decades():
    from cevns_fit.plots.spectra import component_spectra_figure
    from cevns_fit.registry import load_source_model
    from cevns_fit.targets import make_target

    fig = component_spectra_figure(
        make_target("Ge"), load_source_model("sns"), n_points=60, threshold_keVnr=5.0
    )
    ax = fig.axes[0]
    assert any(list(ln.get_xdata()) == [5.0, 5.0] for ln in ax.get_lines())
    low, high = ax.get_ylim()
    assert high / low == pytest.approx(2e4, rel=1e-9, abs=0)
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names[0] == r"prompt $\nu_\mu$" and not any("_nu" in n for n in names)


def test_ratio_map_says_per_nucleus_and_the_per_kg_factor():
    from cevns_fit.plots.xsec import ratio_map_figure

    enu, thr = np.linspace(10, 50, 5), np.linspace(0, 20, 5)
    ratio = np.outer(np.ones(5), np.linspace(3, 0.5, 5))
    fig = ratio_map_figure(
        enu, thr, ratio, target_name="CsPbI3", reference_name="Ge", per_kg_factor=0.504
    )
    title = fig.axes[0].get_title()
    assert "per nucleus" in title and "0.504" in title


def test_templates_figure_names_the_quantity_and_orders_the_legend_as_the_stack():
    from cevns_fit.plots.templates import templates_figure
    from cevns_fit.templates import build_templates

    model = load_model("cspbi3_array")
    fig = templates_figure(
        build_templates(model), subtitle=model_caption(model), threshold=(4.3, 0.5, 0.5)
    )
    top, bottom = fig.axes[:2]
    assert bottom.get_xlabel() == "electron-equivalent energy [keVee]"
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels[0].startswith("CEvNS")  # the top of the stack first
    # variation ratios never drop to a zero baseline past the last drawn bin
    steps = [p for p in bottom.patches if hasattr(p, "get_data")]
    assert steps and all(p.get_data().baseline is None for p in steps)


def test_fit_legend_lists_data_then_the_stack_from_the_top():
    from cevns_fit.plots.fit import plot_postfit

    result = SimpleNamespace(
        postfit={
            "ch": {
                "data": [5.0, 3.0],
                "postfit": {"steady_state": [1.0, 1.0], "cevns": [4.0, 2.0]},
            }
        },
        mu=1.0,
        mu_err=0.1,
        signal_events=6.0,
        signal_events_err=1.0,
        Z_observed=3.0,
        gof_p_value=0.5,
        converged=True,
    )
    fig = plot_postfit(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["data", "CEvNS", "steady state"]
