"""The template layer against hand calculations (issue 16, mutation testing).

* containers: scaling multiplies counts, variations and template errors; a projection sums
  counts and variations and adds template errors in quadrature (every channel with the axis,
  whichever comes first); control channels are not
  background of the signal; unknown axes and samples are errors;
* exposure: kg·days = kg·yr × 365.25, a non-positive or non-finite exposure is an error;
  with unit efficiency and bins covering every recoil, the counts are the recoils; a PSD axis
  multiplies each energy bin by its nuclear-recoil P(psd); the beam-window fraction is
  integrated once per pulse timing and class;
* backgrounds: ``target_events`` is the count at the model's exposure (twice that at twice
  the exposure), impossible without events in range, possible for less than one event; an
  efficiency acts on an energy × time table per energy bin (COHERENT's steady-state table
  against the release by hand); a beam-timing variation only with a time axis whose t0 is
  uncertain;
* build: empty outer bins trimmed (interior kept, trailing ones from the edges too) and said
  so; nothing expected keeps every bin and says so; a tiny exposure scales the counts only
  (same trimming, every free normalisation kept); the notes name the exposure, threshold,
  beam window and control channels with each constrained background; a free normalisation per
  energy bin is dropped where the background is zero; a control channel of an energy × time ×
  PSD model is energy × PSD summed over time; a source without a pulse keeps every neutrino.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.efficiency import StepEfficiency
from cevns_fit.errors import InputError
from cevns_fit.resolution import NoResolution
from cevns_fit.response import recoil_counts_per_kg_day, true_recoil_edges_keVnr
from cevns_fit.templates import (
    AnalysisTemplates,
    BinAxis,
    Channel,
    Sample,
    SignalTemplate,
    background_templates,
    beam_window_fractions,
    build_templates,
    signal_templates_by_component,
)
from cevns_fit.templates.build import _trim_slice
from cevns_fit.templates.signal import _kg_days, axis_spreads

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


def _two_axis_channel() -> Channel:
    """Energy (2 bins) × time (3 bins), flattened energy-major."""
    counts = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    sample = Sample(
        "s",
        counts,
        norm_factor="mu",
        shape_sys={"q": (0.5 * counts, 2.0 * counts)},
        stat_error=np.array([3.0, 4.0, 0.0, 1.0, 2.0, 2.0]),
    )
    axes = (
        BinAxis("energy", np.array([0.0, 1.0, 2.0]), "keVee"),
        BinAxis("time", np.array([0.0, 1.0, 2.0, 3.0]), "µs"),
    )
    return Channel("main", np.arange(7.0), "flat", (sample,), data=np.arange(6.0), axes=axes)


@pytest.fixture(scope="module")
def lar_like(tmp_path_factory):
    """The LAr-like example model (examples/lar_like_3d.py): energy × time × F90."""
    from cevns_fit.detector import load_detector_model
    from tests.test_model_format import lar

    return lar, load_detector_model(lar.write_model(tmp_path_factory.mktemp("lar")))


# ---- containers --------------------------------------------------------------------------


def test_scaling_a_sample_scales_counts_variations_and_template_errors():
    s = Sample(
        "b",
        np.array([1.0, 4.0]),
        shape_sys={"t": (np.array([0.5, 3.0]), np.array([2.0, 5.0]))},
        stat_error=np.array([0.1, 0.2]),
    )
    t = s.scaled(3.0)
    np.testing.assert_array_equal(t.counts, [3.0, 12.0])
    np.testing.assert_array_equal(t.shape_sys["t"][0], [1.5, 9.0])
    np.testing.assert_array_equal(t.shape_sys["t"][1], [6.0, 15.0])
    np.testing.assert_allclose(t.stat_error, [0.3, 0.6], rtol=1e-15, atol=0)
    assert t.total == 15.0
    plain = Sample("c", np.ones(2))
    assert plain.scaled(2.0).stat_error is None
    # by default a sample has no free normalisation (a normfactor named "" would be one)
    assert plain.norm_factor is None and plain.norm_sys == {} and plain.shape_sys == {}


def test_a_channel_knows_its_shape_axes_and_samples():
    ch = _two_axis_channel()
    assert ch.shape == (2, 3) and ch.n_bins == 6
    assert ch.axis_names == ("energy", "time")
    assert ch.axis("time").n_bins == 3
    with pytest.raises(KeyError):
        ch.axis("psd")
    with pytest.raises(KeyError):
        ch.sample("nope")
    one = Channel("x", np.array([0.0, 2.0, 5.0]), "PE", (Sample("s", np.ones(2)),))
    assert one.shape == (2,) and one.axis_names == ("energy",)
    energy = one.axis("energy")
    assert energy.name == "energy" and energy.label == "PE" and energy.n_bins == 2
    with pytest.raises(KeyError):
        one.axis("time")


def test_projection_sums_counts_and_adds_template_errors_in_quadrature():
    """Grid [[1, 2, 3], [4, 5, 6]]: onto energy [6, 15], onto time [5, 7, 9]; errors
    [[3, 4, 0], [1, 2, 2]] → energy [5, 3] (√(9 + 16), √(1 + 4 + 4))."""
    ch = _two_axis_channel()
    np.testing.assert_array_equal(ch.project(ch.samples[0].counts, "energy"), [6.0, 15.0])
    np.testing.assert_array_equal(ch.project(ch.samples[0].counts, "time"), [5.0, 7.0, 9.0])
    plain = Channel("flat1d", np.array([0.0, 1.0]), "keVee", (Sample("s", np.ones(1)),))
    t = AnalysisTemplates((ch, plain), exposure_kg_yr=2.0, notes=("built",))
    p = t.projected("energy")
    main, kept = p.channels
    assert kept is plain
    s = main.samples[0]
    np.testing.assert_array_equal(s.counts, [6.0, 15.0])
    np.testing.assert_array_equal(s.shape_sys["q"][0], [3.0, 7.5])
    np.testing.assert_array_equal(s.shape_sys["q"][1], [12.0, 30.0])
    np.testing.assert_allclose(s.stat_error, [5.0, 3.0], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(main.data, [3.0, 12.0])
    np.testing.assert_array_equal(main.bin_edges, [0.0, 1.0, 2.0])
    assert main.observable == "keVee" and main.axes == ()
    assert p.notes == ("built", "projected onto the energy axis")
    bare = AnalysisTemplates((ch,), exposure_kg_yr=2.0)  # no notes: an empty tuple
    assert bare.notes == () and bare.projected("time").notes == ("projected onto the time axis",)
    no_data = replace(t, channels=(replace(ch, data=None),)).projected("time")
    assert no_data.channels[0].data is None
    assert no_data.channels[0].observable == "µs"
    # a channel without the axis, kept as it is, does not end the projection of the next
    first, second = replace(t, channels=(plain, ch)).projected("energy").channels
    assert first is plain
    np.testing.assert_array_equal(second.samples[0].counts, [6.0, 15.0])


def test_rescaling_to_another_exposure_scales_expectations_not_data():
    ch = _two_axis_channel()
    t = AnalysisTemplates((ch,), exposure_kg_yr=2.0)
    u = t.scaled_to(5.0)
    assert u.exposure_kg_yr == 5.0
    np.testing.assert_allclose(
        u.channels[0].samples[0].counts, ch.samples[0].counts * 2.5, rtol=1e-15, atol=0
    )
    np.testing.assert_array_equal(u.channels[0].data, ch.data)
    d = t.with_data({"main": [1, 2, 3, 4, 5, 7]})
    assert d.channels[0].data.dtype == float
    np.testing.assert_array_equal(d.channels[0].data, [1.0, 2.0, 3.0, 4.0, 5.0, 7.0])


def test_background_total_counts_only_channels_holding_the_signal():
    """Signal channel: cevns 10, bkg 4 + 1; control channel: bkg 7 (not counted again)."""
    main = Channel(
        "on",
        np.array([0.0, 1.0, 2.0]),
        "PE",
        (
            Sample("cevns", np.array([6.0, 4.0])),
            Sample("bkg", np.array([3.0, 1.0])),
            Sample("other", np.array([0.5, 0.5])),
        ),
    )
    control = Channel(
        "off", np.array([0.0, 1.0, 2.0]), "PE", (Sample("bkg", np.array([3.0, 4.0])),)
    )
    t = AnalysisTemplates((main, control), exposure_kg_yr=1.0)
    assert t.signal_total == 10.0
    assert t.background_total == 5.0
    assert t.total("bkg") == 11.0
    assert replace(t, signal_sample="bkg").background_total == 11.0


# ---- exposure and signal -------------------------------------------------------------------


def test_exposure_in_kg_days_is_kg_years_times_365_25(cspbi3):
    assert _kg_days(cspbi3, 2.0) == (2.0, 730.5)
    assert _kg_days(cspbi3, None) == (cspbi3.exposure_kg_yr, cspbi3.exposure_kg_yr * 365.25)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(
            InputError, match=f"^exposure_kg_yr = {bad!r}: must be a positive finite number$"
        ):
            _kg_days(cspbi3, bad)


def test_signal_with_unit_efficiency_and_covering_bins_is_every_recoil(cspbi3):
    """No smearing, Q = 0.3 constant (a recoil ≤ 47 keVnr gives ≤ 14.2 keVee), unit efficiency,
    bins 0–20 keVee: each component's counts are its recoils × 365.25 × kg·yr."""
    model = replace(
        cspbi3,
        resolution=NoResolution(),
        efficiency=StepEfficiency(-1.0),
        threshold_sigma=(0.0, 0.0),
    )
    comps = signal_templates_by_component(
        model, exposure_kg_yr=3.0, bin_edges=np.array([0.0, 5.0, 20.0])
    )
    recoils = recoil_counts_per_kg_day(model, true_recoil_edges_keVnr(model))
    for name, c in comps.items():
        assert c.nominal.sum() == pytest.approx(
            recoils[name].sum() * 3.0 * 365.25, rel=1e-12, abs=0
        )
        assert c.exposure_kg_yr == 3.0
        np.testing.assert_array_equal(c.bin_edges, [0.0, 5.0, 20.0])
        d = c.to_dict()
        assert d["component"] == name and d["timing"] == c.timing
        assert set(d["variations"]["quenching"]) == {"down", "up"}
        np.testing.assert_array_equal(
            d["variations"]["quenching"]["up"], c.variations["quenching"][1]
        )
        assert d["exposure_kg_yr"] == 3.0
        np.testing.assert_array_equal(d["nominal"], c.nominal)
        np.testing.assert_array_equal(d["bin_edges"], c.bin_edges)


def test_a_steady_source_keeps_every_neutrino(cspbi3):
    """No pulse timing: every window fraction is 1, the spreads are ones, and the notes say
    nothing of a beam window."""
    steady = replace(cspbi3, source=replace(cspbi3.source, timing=None))
    assert set(beam_window_fractions(steady).values()) == {1.0}
    for spread in axis_spreads(steady, steady.bin_edges).values():
        np.testing.assert_array_equal(spread, np.ones(len(steady.bin_edges) - 1))
    notes = build_templates(steady).notes
    assert not any("beam window" in n for n in notes)
    pulsed = axis_spreads(cspbi3, cspbi3.bin_edges)
    for name, fraction in beam_window_fractions(cspbi3).items():
        np.testing.assert_array_equal(pulsed[name], np.full(len(cspbi3.bin_edges) - 1, fraction))


def test_the_psd_axis_multiplies_each_energy_bin_by_its_nuclear_recoil_psd_distribution(lar_like):
    """Energy × time × F90: each component's spread is its energy × time spread (the model
    without the PSD axis) times P(F90 bin | energy bin) of nuclear recoils, the same in every
    time bin."""
    _, model = lar_like
    edges = model.bin_edges
    p = model.psd_axis.matrix(model.psd_axis.nuclear, edges)
    assert p.shape == (len(edges) - 1, 4) and np.all(p > 0) and np.all(p.sum(axis=1) <= 1.0)
    with_psd = axis_spreads(model, edges)
    without = axis_spreads(replace(model, psd_axis=None), edges)
    for name, spread in with_psd.items():
        expected = without[name][:, :, None] * p[:, None, :]
        np.testing.assert_allclose(spread, expected, rtol=1e-12, atol=0)


def test_an_energy_x_psd_model_without_a_time_axis_keeps_the_beam_window_fraction(lar_like):
    """Without a time axis the analysis window still selects the neutrinos (as the duty
    factor still cuts the steady-state background): each component's energy × F90 spread is
    its beam-window fraction times P(F90 bin | energy bin) of nuclear recoils."""
    _, model = lar_like
    model = replace(model, time_axis=None)
    edges = model.bin_edges
    p = model.psd_axis.matrix(model.psd_axis.nuclear, edges)
    fractions = beam_window_fractions(model)
    assert min(fractions.values()) < 1.0  # a pulsed source: the window matters
    for name, spread in axis_spreads(model, edges).items():
        np.testing.assert_allclose(spread, fractions[name] * p, rtol=1e-12, atol=0)


def test_the_beam_window_fraction_is_integrated_once_per_timing_and_class(cspbi3, monkeypatch):
    """The window fraction integrates the pulse shape: cached per (pulse timing, class), so
    two calls for the SNS's three components (one prompt, two delayed) integrate twice."""
    from cevns_fit.sources.timing import PulseTiming

    calls = []
    original = PulseTiming.window_fraction

    def counting(self, timing):
        calls.append(timing)
        return original(self, timing)

    monkeypatch.setattr(PulseTiming, "window_fraction", counting)
    fresh = replace(cspbi3.source.timing, window_us=5.5)  # a timing no other test has cached
    model = replace(cspbi3, source=replace(cspbi3.source, timing=fresh))
    assert sorted(c.timing for c in model.source.components) == ["delayed", "delayed", "prompt"]
    first = beam_window_fractions(model)
    assert beam_window_fractions(model) == first
    assert sorted(calls) == ["delayed", "prompt"]


# ---- backgrounds ---------------------------------------------------------------------------


def test_target_events_is_the_count_at_the_model_exposure(cspbi3):
    bkg = replace(cspbi3.backgrounds[0], target_events=50.0)
    model = replace(cspbi3, backgrounds=(bkg,))
    nominal, variations = background_templates(model)[bkg.name]
    assert nominal.sum() == pytest.approx(50.0, rel=1e-12, abs=0)
    doubled, _ = background_templates(model, exposure_kg_yr=2 * model.exposure_kg_yr)[bkg.name]
    assert doubled.sum() == pytest.approx(100.0, rel=1e-12, abs=0)
    plain, plain_var = background_templates(cspbi3)[bkg.name]
    factor = 50.0 / plain.sum()
    for k in ("threshold",):
        for side in (0, 1):
            np.testing.assert_allclose(
                variations[k][side], plain_var[k][side] * factor, rtol=1e-12, atol=0
            )
    empty = replace(model, efficiency=StepEfficiency(1000.0))
    with pytest.raises(InputError, match="no events in the analysis range"):
        background_templates(empty)


def test_a_background_without_efficiency_has_no_threshold_variation(cspbi3):
    bkg = replace(cspbi3.backgrounds[0], apply_efficiency=False)
    nominal, variations = background_templates(replace(cspbi3, backgrounds=(bkg,)))[bkg.name]
    assert "threshold" not in variations
    # flat rate × bin width × kg·days, the step threshold ignored
    widths = np.diff(cspbi3.bin_edges)
    expected = bkg.flat_rate * widths * cspbi3.exposure_kg_yr * 365.25
    duty = nominal / expected
    np.testing.assert_allclose(duty, duty[0], rtol=1e-12, atol=0)


def test_target_events_rescales_a_background_of_less_than_one_event(cspbi3):
    """A background of 10⁻⁶ of cspbi3's steady state (well under one event) with
    ``target_events`` = 50 is rescaled to 50 events like any other."""
    steady = cspbi3.backgrounds[0]
    faint = replace(steady, flat_rate=1e-6 * steady.flat_rate)
    assert 0 < background_templates(replace(cspbi3, backgrounds=(faint,)))[faint.name][0].sum() < 1
    model = replace(cspbi3, backgrounds=(replace(faint, target_events=50.0),))
    nominal, _ = background_templates(model)[faint.name]
    assert nominal.sum() == pytest.approx(50.0, rel=1e-12, abs=0)


def test_a_timing_variation_needs_a_time_axis_with_an_uncertain_t0(cspbi3, coherent):
    """The beam-timing ±1σ moves beam-timed backgrounds only on a time axis whose t0 has an
    uncertainty: none for COHERENT's prompt neutrons at t0_sigma_us = 0 nor for a prompt
    background without a time axis; with t0_sigma_us = 0.1 the prompt neutrons move."""
    assert coherent.time_axis.t0_sigma_us == 0.0
    assert "timing" not in background_templates(coherent)["prompt_neutrons"][1]
    prompt = replace(cspbi3.backgrounds[0], time_shape="prompt")
    assert prompt.beam_timed and cspbi3.time_axis is None
    assert (
        "timing" not in background_templates(replace(cspbi3, backgrounds=(prompt,)))[prompt.name][1]
    )
    uncertain = replace(coherent, time_axis=replace(coherent.time_axis, t0_sigma_us=0.1))
    nominal, variations = background_templates(uncertain)["prompt_neutrons"]
    down, up = variations["timing"]
    assert not np.allclose(down, nominal, rtol=1e-6, atol=0)
    assert not np.allclose(up, nominal, rtol=1e-6, atol=0)


# ---- build ---------------------------------------------------------------------------------


def test_trim_drops_only_outer_empty_bins():
    assert _trim_slice(np.array([0.0, 0.0, 1.0, 0.0, 2.0, 0.0])) == slice(2, 5)
    assert _trim_slice(np.array([1.0, 0.0, 2.0])) == slice(0, 3)
    assert _trim_slice(np.array([-1.0, 3.0])) == slice(1, 2)
    assert _trim_slice(np.zeros(4)) == slice(0, 4)


def test_build_notes_state_the_model_the_window_and_the_trimmed_bins(cspbi3):
    t = build_templates(cspbi3)
    fractions = beam_window_fractions(cspbi3)
    assert t.notes == (
        f"model cspbi3_array: CsPbI3, 10 kg, 10 kg·yr, threshold 4.3 keVee "
        f"(≈ {cspbi3.threshold_keVnr:.3g} keVnr)",
        "CEvNS counted in the 6 µs beam window: "
        + ", ".join(f"{n} {f:.3f}" for n, f in fractions.items()),
        "dropped empty bins outside 4–20 keVee",
    )
    main = t.channels[0]
    np.testing.assert_array_equal(main.bin_edges, cspbi3.bin_edges[2:])
    assert main.observable == "keVee" and main.axes == ()
    assert main.sample("cevns").norm_sys == {"flux": 0.1}
    assert main.sample("steady_state").norm_sys == {"steady_state_norm": 0.1}
    assert main.sample("steady_state").norm_factor is None
    no_flux = replace(cspbi3, source=replace(cspbi3.source, flux_uncertainty=0.0))
    assert build_templates(no_flux).channels[0].sample("cevns").norm_sys == {}


def test_coherent_channels_are_flattened_energy_x_time_with_a_control_channel(coherent):
    t = build_templates(coherent)
    on, off = t.channels
    assert t.notes[1:] == (
        "arrival time 0–6 µs in 12 bins (source time zero at 0 µs)",
        "control channel 'anticoincidence' constrains steady_state (free normalisation per "
        "energy bin)",
    )
    assert on.observable == "PE x arrival time (µs) (flattened)"
    np.testing.assert_array_equal(on.bin_edges, np.arange(12 * 12 + 1.0))
    assert [a.name for a in on.axes] == ["energy", "time"]
    assert off.observable == "PE" and off.axes == ()
    np.testing.assert_array_equal(off.bin_edges, np.arange(6.0, 30.01, 2.0))
    # prompt neutrons: the linear 25 % normalisation, not the (0.75, 1.25) factors
    assert on.sample("prompt_neutrons").norm_sys == {"prompt_neutrons_norm": 0.25}
    # each steady-state bin sample is zero outside its own energy bin
    for i in range(12):
        s = on.sample(f"steady_state_bin{i:02d}")
        grid = s.counts.reshape(12, 12)
        assert grid[i].sum() > 0
        assert np.delete(grid, i, axis=0).sum() == 0.0
        control = off.sample(f"steady_state_bin{i:02d}").counts
        assert control[i] == pytest.approx(grid[i].sum(), rel=1e-12, abs=0)


def test_an_empty_energy_bin_drops_its_free_normalisation(coherent):
    """Zero steady-state counts in one interior PE bin: no free parameter for it, a note."""
    bkg = next(b for b in coherent.backgrounds if b.name == "steady_state")
    table = bkg.table
    assert table.axes[0] == "energy"
    counts = np.array(table.values, dtype=float)
    centres = 0.5 * (np.asarray(table.edges[0])[1:] + np.asarray(table.edges[0])[:-1])
    counts[(centres > 10.0) & (centres < 12.0)] = 0.0  # the third 2-PE bin, [10, 12)
    model = replace(
        coherent,
        backgrounds=tuple(
            replace(b, table=replace(table, values=counts)) if b is bkg else b
            for b in coherent.backgrounds
        ),
    )
    t = build_templates(model)
    names = [s.name for s in t.channels[0].samples]
    assert "steady_state_bin02" not in names and "steady_state_bin03" in names
    assert (
        "steady_state: no expected counts in energy bin 2; its free normalisation is dropped "
        "(the background is zero there)"
    ) in t.notes


def test_a_control_channel_holds_the_background_times_its_exposure_ratio(cspbi3, coherent):
    """A sideband with 3× the signal window's exposure: the control sample is 3× the
    background (with its variations), sharing one free normalisation; with a time axis, the
    control is summed over time (2× here)."""
    bkg = replace(cspbi3.backgrounds[0], constrained_by="sideband", control_ratio=3.0)
    t = build_templates(replace(cspbi3, backgrounds=(bkg,)))
    main, side = t.channels
    on, off = main.sample("steady_state"), side.sample("steady_state")
    assert on.norm_factor == off.norm_factor == "steady_state_norm"
    assert on.norm_sys == {} == off.norm_sys
    np.testing.assert_allclose(off.counts, 3.0 * on.counts, rtol=1e-15, atol=0)
    for side_index in (0, 1):
        np.testing.assert_allclose(
            off.shape_sys["threshold"][side_index],
            3.0 * on.shape_sys["threshold"][side_index],
            rtol=1e-15,
            atol=0,
        )
    assert side.observable == "keVee" and side.axes == ()
    np.testing.assert_array_equal(side.bin_edges, main.bin_edges)
    assert t.notes[-1] == "control channel 'sideband' constrains steady_state (free normalisation)"

    steady = next(b for b in coherent.backgrounds if b.name == "steady_state")
    doubled = tuple(
        replace(b, control_ratio=2.0) if b is steady else b for b in coherent.backgrounds
    )
    on2, off2 = build_templates(replace(coherent, backgrounds=doubled)).channels
    for i in (0, 5):
        s = on2.sample(f"steady_state_bin{i:02d}")
        per_energy = s.counts.reshape(12, 12).sum(axis=1)
        np.testing.assert_allclose(off2.sample(s.name).counts, 2.0 * per_energy, rtol=1e-12, atol=0)


def test_templates_are_immutable():
    """Templates are shared (scans rescale one build): no field of any container can be
    reassigned."""
    import dataclasses

    ch = _two_axis_channel()
    t = AnalysisTemplates((ch,), exposure_kg_yr=1.0)
    comp = SignalTemplate("c", None, np.ones(2), np.ones(1), {}, 1.0)
    for obj, name in (
        (ch.samples[0], "counts"),
        (ch.axes[0], "edges"),
        (ch, "data"),
        (t, "notes"),
        (comp, "nominal"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)


def test_a_physics_nuisance_template_is_the_model_rebuilt_at_its_sigma(cspbi3):
    """[physics.nuisances] sin²θ_W ± 0.01: the (down, up) CEvNS templates are the model's
    templates rebuilt at sin²θ_W = 0.23857 ∓ 0.01 without the nuisance."""
    from cevns_fit.physics_model import nuisance_parameter_name

    model = replace(cspbi3, physics_nuisances=(("sin2_theta_w", 0.01),))
    cevns = build_templates(model).channels[0].sample("cevns")
    down, up = cevns.shape_sys[nuisance_parameter_name("sin2_theta_w")]
    for side, value in ((down, 0.23857 - 0.01), (up, 0.23857 + 0.01)):
        rebuilt = replace(cspbi3, physics=cspbi3.physics.with_value("sin2_theta_w", value))
        expected = build_templates(rebuilt).channels[0].sample("cevns").counts
        np.testing.assert_allclose(side, expected, rtol=1e-12, atol=0)
    assert up.sum() > cevns.total > down.sum()  # a smaller proton weak charge: Q_W grows


def test_an_efficiency_scales_an_energy_x_time_background_table_per_energy_bin_only(tmp_path):
    """COHERENT's steady-state table (2-PE × 0.5 µs bins, counts at the model's exposure) kept
    on its own time bins (time = "table") and with the efficiency applied: each count n of a
    2-PE bin [a, a + 2) holds half the bin's counts and is accepted with ε(n + 0.5), the
    release's logistic acceptance, so bin (i, j) = C_ij (ε(a + 0.5) + ε(a + 1.5)) / 2 in every
    time bin j. The release's file read by hand, ε written out."""
    from cevns_fit.detector import load_detector_model
    from tests.conftest import MODELS, write_edited_model

    path = write_edited_model(
        tmp_path,
        "coherent_csi_2017",
        ('time = "flat"', 'time = "table"'),
        ("apply_efficiency = false", "apply_efficiency = true"),
        ('"../data/', f'"{(MODELS / "data").as_posix()}/'),
    )
    nominal, _ = background_templates(load_detector_model(path))["steady_state"]
    # rows: 2-PE bins centred at 1, 3, …, 49; 24 time bins of 0.5 µs; analysis 6 ≤ PE < 30
    # (table rows 3..14) and t < 6 µs (the first 12 time bins)
    raw = np.loadtxt(
        MODELS / "data" / "coherent_csi_2017" / "data_anticoincidence_beamOn.txt", delimiter=","
    )
    table = raw[:, 2].reshape(25, 24)[3:15, :12]

    def eff(x):  # a / (1 + exp(−k (x − x0))) above 6 PE (the Heaviside step is 1 there)
        return 0.6655 / (1.0 + np.exp(-0.4942 * (x - 10.8507)))

    lower = 6.0 + 2.0 * np.arange(12)
    expected = table * (0.5 * (eff(lower + 0.5) + eff(lower + 1.5)))[:, None]
    assert nominal.shape == (12, 12)
    assert table.sum() > 0 and np.all(table >= 0)
    np.testing.assert_allclose(nominal, expected, rtol=1e-12, atol=0)


def test_nothing_expected_keeps_every_bin_and_says_so(cspbi3):
    """A threshold above every recoil and no background: every analysis bin is kept, all
    zero, and the last note says nothing is expected."""
    model = replace(cspbi3, efficiency=StepEfficiency(1000.0), backgrounds=())
    t = build_templates(model)
    assert t.notes[-1] == "no events expected in the analysis range (threshold above every recoil?)"
    main = t.channels[0]
    np.testing.assert_array_equal(main.bin_edges, cspbi3.bin_edges)
    np.testing.assert_array_equal(main.sample("cevns").counts, np.zeros(len(cspbi3.bin_edges) - 1))


def test_a_tiny_exposure_scales_the_counts_not_the_analysis(cspbi3, coherent):
    """Well under one event per bin is still an expectation: at 10⁻⁶ of the exposure the
    counts are 10⁻⁶ of the model's, the same outer bins are trimmed (no "nothing expected"
    note), and every energy bin keeps its free background normalisation."""
    small = 1e-6 * cspbi3.exposure_kg_yr
    t = build_templates(cspbi3, exposure_kg_yr=small)
    full = build_templates(cspbi3)
    assert 0 < t.signal_total < 1
    assert t.signal_total == pytest.approx(1e-6 * full.signal_total, rel=1e-12, abs=0)
    assert t.notes[-1] == "dropped empty bins outside 4–20 keVee"
    assert not any("no events expected" in n for n in t.notes)

    c = build_templates(coherent, exposure_kg_yr=1e-6 * coherent.exposure_kg_yr)
    on, off = c.channels
    for i in range(12):
        s = on.sample(f"steady_state_bin{i:02d}")
        assert 0 < s.total < 1
        assert off.sample(s.name).norm_factor == s.name
    assert not any("free normalisation is dropped" in n for n in c.notes)


def test_trailing_empty_bins_are_dropped_from_the_edges(cspbi3):
    """No smearing, Q = 0.3 (a recoil ≤ 47 keVnr gives ≤ 14.2 keVee), no background, bins of
    4 keVee up to 24: the bins above 16 keVee are empty and dropped, edges and counts alike."""
    model = replace(
        cspbi3,
        resolution=NoResolution(),
        backgrounds=(),
        bin_edges=np.arange(4.0, 24.01, 4.0),
    )
    t = build_templates(model)
    main = t.channels[0]
    np.testing.assert_array_equal(main.bin_edges, [4.0, 8.0, 12.0, 16.0])
    assert main.sample("cevns").counts.shape == (3,)
    assert np.all(main.sample("cevns").counts > 0)
    assert t.notes[-1] == "dropped empty bins outside 4–16 keVee"


def test_a_control_channel_of_an_energy_x_psd_x_time_model_keeps_energy_and_psd(lar_like):
    """The LAr-like example (6 energy × 7 time × 4 F90 bins) with its ³⁹Ar background measured
    in a sideband of twice the exposure: the control channel is energy × F90 flattened
    energy-major (24 bins), holding 2 × the background summed over arrival time."""
    lar, model = lar_like
    backgrounds = tuple(
        replace(b, constrained_by="sideband", control_ratio=2.0) if b.name == "ar39" else b
        for b in model.backgrounds
    )
    main, side = build_templates(replace(model, backgrounds=backgrounds)).channels
    n_e, n_t, n_p = (
        len(lar.ENERGY_EDGES_keVee) - 1,
        len(lar.TIME_EDGES_us) - 1,
        len(lar.F90_EDGES) - 1,
    )
    assert [a.name for a in main.axes] == ["energy", "time", "psd"]
    assert [a.name for a in side.axes] == ["energy", "psd"]
    np.testing.assert_array_equal(side.axes[1].edges, lar.F90_EDGES)
    np.testing.assert_array_equal(side.bin_edges, np.arange(n_e * n_p + 1.0))
    assert side.observable == "keVee x F90 (flattened)"
    on = main.sample("ar39").counts.reshape(n_e, n_t, n_p)
    np.testing.assert_allclose(
        side.sample("ar39").counts, 2.0 * on.sum(axis=1).ravel(), rtol=1e-12, atol=0
    )


def test_the_control_note_names_each_constrained_background(cspbi3):
    """Two backgrounds in one sideband, one of them free per energy bin and named with
    "_bin" in it: the note lists both by their own names, sorted, comma-separated."""
    steady = cspbi3.backgrounds[0]
    backgrounds = (
        replace(steady, constrained_by="sideband"),
        replace(steady, name="neutron_bin", constrained_by="sideband", free_per_energy_bin=True),
    )
    t = build_templates(replace(cspbi3, backgrounds=backgrounds))
    assert t.notes[-1] == (
        "control channel 'sideband' constrains neutron_bin, steady_state "
        "(free normalisation per energy bin)"
    )


def test_a_background_named_with_bin_in_it_is_not_taken_for_a_per_bin_one(cspbi3):
    """Only "<name>_bin<NN>" samples are a background's per-energy-bin normalisations: a
    background called "tail_binned" with one free normalisation keeps its name in the note."""
    steady = cspbi3.backgrounds[0]
    t = build_templates(
        replace(cspbi3, backgrounds=(replace(steady, name="tail_binned", constrained_by="side"),))
    )
    assert t.notes[-1] == "control channel 'side' constrains tail_binned (free normalisation)"
