"""The COHERENT CsI 2017 release through the generic model format: the release files are read
by the generic table readers as the real files are, the model file alone (no experiment code)
gives the published window counts, the release's prompt-neutron spectrum × acceptance ×
exposure, an energy × time analysis whose time projection is the energy-only one, and a fit
in which timing sharpens μ; malformed release files are one-line errors naming the file."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.constants import MUON_LIFETIME_us
from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.fit import fit_workspace
from cevns_fit.likelihood import build_workspace
from cevns_fit.spectra import observed_counts
from cevns_fit.tables import read_table
from cevns_fit.templates import build_templates

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "detectors" / "coherent_csi_2017.toml"
RELEASE = ROOT / "models" / "data" / "coherent_csi_2017"
COLUMNS = ["energy", "time", "counts"]
# Release parameters (coherent_parameters.yaml, typed here from the file, not imported)
EXPOSURE_GWHR = 7.47594
A, K, X0 = 0.6655, 0.4942, 10.8507


@pytest.fixture(scope="module")
def model():
    return load_detector_model(MODEL)


@pytest.fixture(scope="module")
def templates(model):
    return build_templates(model)


def window(name: str) -> float:
    """Counts with 6 ≤ PE < 30 and t < 6 µs, summed straight from the rows of a release file."""
    total = 0.0
    for line in (RELEASE / name).read_text().splitlines():
        try:
            pe, t, n = (float(x) for x in line.split(","))
        except ValueError:
            continue  # the beam-off files' header line
        if 6 <= pe < 30 and t < 6:
            total += n
    return total


def test_release_tables_read_with_and_without_header_give_the_published_window_counts():
    # beam-on files have no header line, beam-off files do (README of the release copy)
    on = read_table(RELEASE / "data_coincidence_beamOn.txt", COLUMNS)
    off = read_table(RELEASE / "data_coincidence_beamOff.txt", COLUMNS)
    assert on.values.shape == off.values.shape == (25, 24)
    np.testing.assert_allclose(on.edges_of("energy")[3:5], [6.0, 8.0])
    np.testing.assert_allclose(on.edges_of("time")[:2], [0.0, 0.5])
    # 6 ≤ PE < 30, t < 6 µs: 547 beam-on coincidence vs 405 anticoincidence (excess ≈ 142)
    assert window("data_coincidence_beamOn.txt") == 547
    assert window("data_anticoincidence_beamOn.txt") == 405


def test_a_header_line_changes_nothing(tmp_path):
    source = RELEASE / "data_coincidence_beamOn.txt"
    headed = tmp_path / "headed.txt"
    headed.write_text("Photoelectrons (PEs),Arrival time (us),Counts\n" + source.read_text())
    np.testing.assert_array_equal(
        read_table(headed, COLUMNS).values, read_table(source, COLUMNS).values
    )


def test_beam_off_windows_agree_without_beam():
    """No beam, no signal: coincidence and anticoincidence beam-off counts agree (Poisson)."""
    c = window("data_coincidence_beamOff.txt")
    a = window("data_anticoincidence_beamOff.txt")
    assert abs(c - a) < 3 * math.sqrt(c + a)


def test_delayed_arrival_pdf_falls_with_the_muon_lifetime(model):
    pdf = model.time_axis.signal_pdfs["delayed"].values
    late = pdf[14:22]  # 7–11 µs, long after the ~0.4 µs proton pulse
    tau_us = -0.5 / np.mean(np.log(late[1:] / late[:-1]))
    assert tau_us == pytest.approx(MUON_LIFETIME_us, rel=0.05, abs=0)
    # prompt neutrinos arrive within 1.5 µs
    prompt = model.time_axis.probabilities("prompt")
    assert prompt[:3].sum() == pytest.approx(1.0, rel=1e-6, abs=0)


def test_observed_data_come_from_the_model_file_alone(model, templates):
    data = observed_counts(
        templates,
        axis_edges=model.axis_edges,
        tables={o.channel: o.table for o in model.observations},
    )
    assert data["beam_on"].shape == (12 * 12,)
    assert data["beam_on"].sum() == window("data_coincidence_beamOn.txt")
    assert data["anticoincidence"].sum() == window("data_anticoincidence_beamOn.txt")
    # the PE-major flattening: bin (PE 6–8, t 0.5–1 µs) is the second entry
    first_rows = [
        float(line.split(",")[2])
        for line in (RELEASE / "data_coincidence_beamOn.txt").read_text().splitlines()
        if line.startswith("7.0,")
    ]
    np.testing.assert_array_equal(data["beam_on"][:12], first_rows[:12])


def test_prompt_neutrons_are_the_release_pdf_times_acceptance_times_exposure(templates):
    """promptPDF (per GW·hr, 1-PE bins centred on n + 0.5) × acceptance at n + 0.5 ×
    exposure × the prompt-neutron arrival fraction in t < 6 µs, by hand."""
    rows = [
        [float(x) for x in line.split(",")]
        for line in (RELEASE / "promptPDF.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    arrival = [
        float(line.split(",")[1])
        for line in (RELEASE / "arrivalTimePDF_promptNeutrons.txt").read_text().splitlines()
    ]
    in_window = sum(arrival[:12])
    expected = 0.0
    for centre, per_gwhr in rows:
        if 6 <= centre < 30:
            acceptance = A / (1 + math.exp(-K * (centre - X0)))  # H = 1 from 6 PE
            expected += per_gwhr * EXPOSURE_GWHR * acceptance
    got = templates.channels[0].sample("prompt_neutrons").counts.sum()
    assert got == pytest.approx(expected * in_window, rel=1e-9, abs=0)


def test_energy_x_time_summed_over_time_is_the_energy_only_analysis(model, templates):
    on_t = templates.channels[0]
    assert on_t.shape == (12, 12)
    e_only = templates.projected("energy")
    on_e = e_only.channels[0]
    assert on_e.n_bins == 12
    np.testing.assert_allclose(on_e.bin_edges, np.arange(6.0, 31.0, 2.0))
    for s_e in on_e.samples:
        s_t = on_t.sample(s_e.name)
        np.testing.assert_allclose(s_t.counts.reshape(12, 12).sum(axis=1), s_e.counts, rtol=1e-12)
        for k, (lo, hi) in s_e.shape_sys.items():
            np.testing.assert_allclose(s_t.shape_sys[k][1].reshape(12, 12).sum(axis=1), hi)
            np.testing.assert_allclose(s_t.shape_sys[k][0].reshape(12, 12).sum(axis=1), lo)
    # CEvNS = Σ components × their arrival-time fraction in t < 6 µs (release PDFs)
    from cevns_fit.templates import signal_templates_by_component

    comps = signal_templates_by_component(model)
    frac = {t: model.time_axis.signal_pdfs[t].values[:12].sum() for t in ("prompt", "delayed")}
    expected = sum(c.nominal.sum() * frac[c.timing] for c in comps.values())
    assert e_only.signal_total == pytest.approx(expected, rel=1e-12, abs=0)
    # the steady state is flat in time and normalised to the anticoincidence window
    ss = [s for s in on_t.samples if s.name.startswith("steady_state")]
    assert len(ss) == 12  # one free normalisation per PE bin
    grid = np.sum([s.counts for s in ss], axis=0).reshape(12, 12)
    np.testing.assert_allclose(grid, grid[:, :1] * np.ones((1, 12)))
    assert grid.sum() == pytest.approx(405.0, rel=1e-12, abs=0)
    control = templates.channels[1]
    assert control.name == "anticoincidence" and control.n_bins == 12
    np.testing.assert_allclose(
        np.sum([s.counts for s in control.samples], axis=0), grid.sum(axis=1)
    )


def test_asimov_fit_recovers_mu_and_timing_sharpens_it(templates):
    errors = {}
    for label, t in (("energy", templates.projected("energy")), ("energy x time", templates)):
        result = fit_workspace(build_workspace(t), minos=False)  # Asimov at μ = 1
        assert result.converged, result.status
        assert result.mu == pytest.approx(1.0, abs=2e-3)
        assert result.signal_events == pytest.approx(t.signal_total, rel=2e-3, abs=0)
        errors[label] = result.mu_err
    # delayed and prompt timing separate CEvNS from the flat steady state
    assert errors["energy x time"] < 0.9 * errors["energy"]


def copy_model(tmp_path) -> Path:
    """The model and its release copied elsewhere (relative paths kept)."""
    (tmp_path / "detectors").mkdir()
    shutil.copy(MODEL, tmp_path / "detectors" / MODEL.name)
    shutil.copytree(RELEASE, tmp_path / "data" / "coherent_csi_2017")
    shutil.copytree(ROOT / "models" / "sources", tmp_path / "sources")
    return tmp_path / "detectors" / MODEL.name


def test_malformed_release_files_name_the_file(tmp_path):
    path = copy_model(tmp_path)
    table = tmp_path / "data" / "coherent_csi_2017" / "data_anticoincidence_beamOn.txt"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:-1]) + "\n")  # one (PE, t) bin missing
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*missing bin"):
        load_detector_model(path)
    table.write_text("\n".join(lines[:-1] + ["49.0, 11.75, -1"]) + "\n")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*outside"):
        load_detector_model(path)
    table.write_text("\n".join(lines + [lines[-1]]) + "\n")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*appears twice"):
        load_detector_model(path)
    table.write_text("\n".join(line + ", 1" for line in lines) + "\n")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*4 columns"):
        load_detector_model(path)
    table.write_text("")
    with pytest.raises(InputError, match="data_anticoincidence_beamOn.txt.*no data rows"):
        load_detector_model(path)
