"""The COHERENT CsI 2017 release, read as the real files are, and its energy × time analysis:
published counts come out of the readers, the time-integrated analysis is the energy-only one,
timing sharpens μ, and malformed release files are one-line errors naming the file."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from cevns_fit.coherent import (
    DEFAULT_RELEASE_DIR,
    SignalComponent,
    acceptance,
    analysis_templates,
    load_release,
    observed_data,
    prompt_neutron_counts_PE,
    read_count_table,
    rebin_counts,
)
from cevns_fit.constants import MUON_LIFETIME_us
from cevns_fit.errors import InputError
from cevns_fit.fit import fit_workspace
from cevns_fit.likelihood import build_workspace


@pytest.fixture(scope="module")
def release():
    return load_release()


def synthetic_components() -> list[SignalComponent]:
    """Falling PE spectra in 1-PE bins (finer than the release's 2-PE bins), ±20 % quenching."""
    edges = np.arange(0.0, 51.0)
    centres = edges[:-1] + 0.5
    out = []
    for name, timing, total, slope in (
        ("prompt_nu_mu", "prompt", 40.0, 8.0),
        ("delayed_nu_e", "delayed", 60.0, 10.0),
        ("delayed_nu_mu_bar", "delayed", 70.0, 9.0),
    ):
        shape = np.exp(-centres / slope) * acceptance(centres, 0.6655, 0.4942, 10.8507)
        counts = total * shape / shape[6:30].sum()
        down = (
            total * np.exp(-centres / (0.8 * slope)) * acceptance(centres, 0.6655, 0.4942, 10.8507)
        )
        up = total * np.exp(-centres / (1.2 * slope)) * acceptance(centres, 0.6655, 0.4942, 10.8507)
        out.append(
            SignalComponent(
                name,
                timing,
                edges,
                counts,
                {"quenching": (down / shape[6:30].sum(), up / shape[6:30].sum())},
                {"flux": 0.1},
            )
        )
    return out


def test_release_tables_read_with_and_without_header_give_the_published_window_counts(release):
    # beam-on files have no header line, beam-off files do (README of the release copy)
    first = {
        k: (DEFAULT_RELEASE_DIR / f).read_text().splitlines()[0]
        for k, f in (("on", "data_coincidence_beamOn.txt"), ("off", "data_coincidence_beamOff.txt"))
    }
    assert first["on"][0].isdigit() and not first["off"][0].isdigit()
    assert release.tables["coincidence_on"].counts.shape == (25, 24)
    # 6 ≤ PE < 30, t < 6 µs: 547 beam-on coincidence vs 405 anticoincidence (excess ≈ 142)
    assert release.tables["coincidence_on"].window().sum() == 547
    assert release.tables["anticoincidence_on"].window().sum() == 405
    np.testing.assert_allclose(release.tables["coincidence_on"].pe_edges[3:5], [6.0, 8.0])


def test_a_header_line_changes_nothing(tmp_path):
    source = DEFAULT_RELEASE_DIR / "data_coincidence_beamOn.txt"
    headed = tmp_path / "headed.txt"
    headed.write_text("Photoelectrons (PEs),Arrival time (us),Counts\n" + source.read_text())
    np.testing.assert_array_equal(read_count_table(headed).counts, read_count_table(source).counts)


def test_beam_off_windows_agree_without_beam(release):
    """No beam, no signal: coincidence and anticoincidence beam-off counts agree (Poisson)."""
    c = release.tables["coincidence_off"].window().sum()
    a = release.tables["anticoincidence_off"].window().sum()
    assert abs(c - a) < 3 * math.sqrt(c + a)


def test_delayed_arrival_pdf_falls_with_the_muon_lifetime(release):
    pdf = release.arrival_pdfs["delayed_neutrinos"]
    late = pdf[14:22]  # 7–11 µs, long after the ~0.4 µs proton pulse
    tau_us = -0.5 / np.mean(np.log(late[1:] / late[:-1]))
    assert tau_us == pytest.approx(MUON_LIFETIME_us, rel=0.05, abs=0)
    for p in release.arrival_pdfs.values():
        assert p.sum() == pytest.approx(1.0, abs=1e-6)
    # prompt neutrinos arrive within 1.5 µs
    assert release.arrival_pdfs["prompt_neutrinos"][:3].sum() == pytest.approx(1.0, abs=1e-6)


def test_parameters_and_acceptance(release):
    p = release.parameters
    assert (p.exposure_GWhr, p.distance_m, p.quenching_factor) == (7.47594, 19.3, 0.0878)
    assert p.prompt_neutron_norm_err == 0.25
    acc = acceptance([4.5, 5.5, 6.5, 200.0], p.acceptance_a, p.acceptance_k, p.acceptance_x0)
    full = p.acceptance_a / (1 + np.exp(-p.acceptance_k * (5.5 - p.acceptance_x0)))
    assert acc[0] == 0.0 and acc[1] == pytest.approx(0.5 * full, rel=1e-6, abs=0)
    assert acc[3] == pytest.approx(p.acceptance_a, rel=1e-6, abs=0)
    assert release.qf["tunl"].qf.size == 12 and release.qf["chicago"].qf.size == 7


def test_prompt_neutrons_are_the_release_pdf_times_acceptance_times_exposure(release):
    p = release.parameters
    expected = 0.0
    for centre, per_gwhr in zip(
        0.5 * (release.prompt_neutron_pe_edges[1:] + release.prompt_neutron_pe_edges[:-1]),
        release.prompt_neutron_per_GWhr,
        strict=True,
    ):
        if 6 <= centre < 30:
            expected += (
                per_gwhr
                * p.exposure_GWhr
                * float(acceptance(centre, p.acceptance_a, p.acceptance_k, p.acceptance_x0))
            )
    got = prompt_neutron_counts_PE(release, np.arange(6.0, 31.0, 2.0))
    assert got.sum() == pytest.approx(expected, rel=1e-12, abs=0)


def test_rebinning_conserves_counts_and_refuses_misaligned_edges():
    fine = np.arange(0.0, 11.0)
    counts = np.arange(10.0)
    np.testing.assert_allclose(rebin_counts(fine, counts, [2.0, 4.0, 10.0]), [5.0, 39.0])
    with pytest.raises(ValueError):
        rebin_counts(fine, counts, [2.5, 4.0])


def test_energy_x_time_summed_over_time_is_the_energy_only_analysis(release):
    comps = synthetic_components()
    e_only = analysis_templates(comps, release, timing=False)
    e_time = analysis_templates(comps, release, timing=True)
    on_e, on_t = e_only.channels[0], e_time.channels[0]
    assert on_t.n_bins == 12 * 12 and on_e.n_bins == 12
    for s_e in on_e.samples:
        s_t = on_t.sample(s_e.name)
        np.testing.assert_allclose(s_t.counts.reshape(12, 12).sum(axis=1), s_e.counts, rtol=1e-12)
        for k, (lo, hi) in s_e.shape_sys.items():
            np.testing.assert_allclose(s_t.shape_sys[k][1].reshape(12, 12).sum(axis=1), hi)
            np.testing.assert_allclose(s_t.shape_sys[k][0].reshape(12, 12).sum(axis=1), lo)
    # CEvNS = Σ components × their arrival-time fraction in t < 6 µs
    frac = {t: release.arrival_pdfs[f"{t}_neutrinos"][:12].sum() for t in ("prompt", "delayed")}
    expected = sum(
        rebin_counts(c.pe_edges, c.counts, np.arange(6.0, 31.0, 2.0)).sum() * frac[c.timing]
        for c in comps
    )
    assert e_only.signal_total == pytest.approx(expected, rel=1e-6, abs=0)
    # the steady state is flat in time and normalised to the anticoincidence window
    ss = [s for s in on_t.samples if s.name.startswith("steady_state")]
    grid = np.sum([s.counts for s in ss], axis=0).reshape(12, 12)
    np.testing.assert_allclose(grid, grid[:, :1] * np.ones((1, 12)))
    assert grid.sum() == pytest.approx(405.0, rel=1e-6, abs=0)
    data = observed_data(release, timing=True)
    assert data["beam_on"].sum() == 547 and data["anticoincidence"].sum() == 405


def test_asimov_fit_recovers_mu_and_timing_sharpens_it(release):
    comps = synthetic_components()
    errors = {}
    for timing in (False, True):
        templates = analysis_templates(comps, release, timing=timing)
        result = fit_workspace(build_workspace(templates), minos=False)  # Asimov at μ = 1
        assert result.converged, result.status
        assert result.mu == pytest.approx(1.0, abs=2e-3)
        assert result.signal_events == pytest.approx(templates.signal_total, rel=2e-3, abs=0)
        errors[timing] = result.mu_err
    # delayed and prompt timing separate CEvNS from the flat steady state
    assert errors[True] < 0.9 * errors[False]


def test_malformed_release_files_name_the_file(tmp_path):
    bad = tmp_path / "release"
    shutil.copytree(DEFAULT_RELEASE_DIR, bad)
    table = bad / "data_anticoincidence_beamOn.txt"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:-1]) + "\n")  # one (PE, t) bin missing
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*grid"):
        load_release(bad)
    table.write_text("\n".join(lines[:-1] + ["49.0, 11.75, -1"]) + "\n")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*negative"):
        load_release(bad)
    table.write_text("")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*no data rows"):
        load_release(bad)
    with pytest.raises(InputError, match="not a directory"):
        load_release(tmp_path / "nowhere")
