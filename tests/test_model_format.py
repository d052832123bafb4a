"""Any binned CEvNS analysis as a model file: energy × arrival time × pulse shape.

The worked second experiment (examples/lar_like_3d.py, a synthetic LAr-like detector written
only in the model format) is fitted through the CLI and recovers its truth; its flattened 3-D
likelihood equals plain pyhf's; projections conserve every sample; 200 seeded 3-D toys give an
unbiased μ with unit pull width; the time, PSD, table, normalisation and systematics features
each match an independent expectation; malformed tables are one-line errors naming the file.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from cevns_fit.cli import main as cli_main
from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.inference import compile_model
from cevns_fit.likelihood import build_workspace, pyhf_backend
from cevns_fit.templates import build_templates

from .conftest import assert_clean_input_error

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lar_like_3d", ROOT / "examples" / "lar_like_3d.py")
lar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lar)

MU_TRUE = 0.8


@pytest.fixture(scope="module")
def lar_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lar")
    model = lar.write_model(out)
    lar.write_data(model, out, mu=MU_TRUE, seed=7)
    return out


@pytest.fixture(scope="module")
def lar_model(lar_dir):
    return load_detector_model(lar_dir / "lar_like.toml")


@pytest.fixture(scope="module")
def lar_templates(lar_model):
    return build_templates(lar_model)


def run(*args, capsys) -> tuple[int, str, str]:
    code = cli_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---- the worked 3-D experiment -----------------------------------------------------------------


def test_the_model_has_three_axes_flattened_energy_major(lar_model, lar_templates):
    assert lar_model.axis_names == ("energy", "time", "psd")
    main = lar_templates.channels[0]
    assert main.shape == (6, 7, 4) and main.n_bins == 168
    assert [a.name for a in main.axes] == ["energy", "time", "psd"]


def test_cli_fit_of_3d_data_recovers_the_truth(lar_dir, capsys):
    code, out, err = run(
        "fit", lar_dir / "lar_like.toml", "--data", lar_dir / "data.csv", "--json", capsys=capsys
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["converged"]
    assert abs(result["mu"] - MU_TRUE) < 3 * result["mu_err"], result["mu"]
    # the 100 % log-normal neutron normalisation is a constrained nuisance, not a free one
    assert "beam_neutrons_norm" in result["pulls"]
    # each projection is a coarser view of the same data: μ consistent, never more precise
    for axis in ("energy", "time", "psd"):
        code, out, err = run(
            "fit",
            lar_dir / "lar_like.toml",
            "--data",
            lar_dir / "data.csv",
            "--project",
            axis,
            "--json",
            "--no-minos",
            capsys=capsys,
        )
        assert code == 0, err
        projected = json.loads(out)
        assert projected["mu_err"] > 0.99 * result["mu_err"], axis
        assert abs(projected["mu"] - MU_TRUE) < 3 * projected["mu_err"], axis


def test_flattened_3d_likelihood_equals_plain_pyhf(lar_templates):
    """logpdf of the exported workspace in plain pyhf equals the fast path's, at random
    parameter points, on Poisson data (many empty bins)."""
    rng = np.random.default_rng(1)
    main = lar_templates.channels[0]
    data = {main.name: rng.poisson(main.sample("cevns").counts + 0.2).astype(float)}
    ws = build_workspace(lar_templates, data=data)
    fm = compile_model(lar_templates)
    with pyhf_backend() as pyhf:
        workspace = pyhf.Workspace(ws)
        model = workspace.model()
        observed = workspace.data(model)
        labels = model.config.par_names
        for _ in range(5):
            pars = np.array(model.config.suggested_init(), dtype=float)
            for i, name in enumerate(labels):
                pars[i] = rng.uniform(0.5, 1.5) if name == "mu" else rng.uniform(-0.8, 0.8)
            fast_pars = np.array([pars[labels.index(n)] for n in fm.par_labels])
            n_main = main.n_bins
            aux = np.where(fm.constrained, 0.0, np.nan)
            expected = float(model.logpdf(pars, observed)[0])
            got = fm.logpdf(fast_pars, np.asarray(observed[:n_main]), aux)
            assert got == pytest.approx(expected, rel=1e-10, abs=0)


def test_projections_sum_to_the_totals(lar_templates):
    main = lar_templates.channels[0]
    for axis in ("energy", "time", "psd"):
        proj = lar_templates.projected(axis).channels[0]
        assert proj.n_bins == main.axis(axis).n_bins
        for s in main.samples:
            p = proj.sample(s.name)
            assert p.total == pytest.approx(s.total, rel=1e-12, abs=0)
            for k, (lo, hi) in s.shape_sys.items():
                assert p.shape_sys[k][1].sum() == pytest.approx(hi.sum(), rel=1e-12, abs=0)
                assert p.shape_sys[k][0].sum() == pytest.approx(lo.sum(), rel=1e-12, abs=0)


@pytest.mark.slow
def test_3d_toys_give_unbiased_mu_with_unit_pull_width(lar_templates):
    """500 seeded pseudo-experiments of the 3-D model at μ = 0.8 (main bins Poisson, auxiliary
    measurements Gaussian): μ̂ is unbiased and (μ̂ − μ)/σ̂ has width 1 ± 0.1, σ̂ from the
    Fisher information at the fitted point. (500 rather than 200: the standard error of the
    width is then 0.03, so the ±0.1 band is a 3σ test; 1000 toys gave 1.01.)"""
    fm = compile_model(lar_templates)
    truth = fm.nominal_pars(mu=MU_TRUE)
    lam = fm.expected_main(truth)
    i_mu = fm.par_labels.index("mu")
    rng = np.random.default_rng(20240601)
    pulls = []
    for _ in range(500):
        main = rng.poisson(lam).astype(float)
        aux = np.where(
            fm.constrained, truth + fm.aux_sigma * rng.standard_normal(len(truth)), np.nan
        )
        fit = fm.fit(main, aux)
        assert fit.success, fit.message
        pars = fit.pars
        lam_hat, jac = fm.jacobian(pars)
        free = ~fm.fixed
        fisher = (jac / np.where(lam_hat > 0, lam_hat, np.inf)) @ jac.T
        fisher[np.diag_indices_from(fisher)] += np.where(fm.constrained, fm.aux_sigma**-2.0, 0)
        cov = np.linalg.inv(fisher[np.ix_(free, free)])
        k = int(np.flatnonzero(np.flatnonzero(free) == i_mu)[0])
        sigma_mu = math.sqrt(cov[k, k])
        pulls.append((pars[i_mu] - MU_TRUE) / sigma_mu)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 4 / math.sqrt(len(pulls)), pulls.mean()
    assert abs(pulls.std(ddof=1) - 1.0) < 0.1, pulls.std(ddof=1)


# ---- features against independent expectations ------------------------------------------------


def test_signal_timing_is_the_source_pulse_shifted_by_t0_times_the_timing_efficiency(lar_model):
    t = lar_model.time_axis
    timing = lar_model.source.timing
    eff = np.interp(0.5 * (t.edges_us[1:] + t.edges_us[:-1]), [0.0, 6.0], [0.98, 0.90])
    for cls in ("prompt", "delayed"):
        expected = np.diff(timing.cdf(cls, t.edges_us - 1.0)) * eff  # t0 = 1 µs
        np.testing.assert_allclose(t.probabilities(cls, timing), expected, rtol=1e-12)
    # a prompt pulse centred at t0 = 1 µs puts most prompt events in [0.5, 1.5) µs
    p = t.probabilities("prompt", timing)
    assert p[1] + p[2] > 0.8 * p.sum()


def test_psd_window_acceptance_is_the_gaussian_band_inside_it(lar_model):
    """P(F90 ∈ [0.5, 0.9] | E) for the nuclear band N(0.70, 0.05 √(10/E)) (closed form)."""
    edges = np.array([10.0, 11.0, 29.0, 30.0])
    m = lar_model.psd_axis.matrix(lar_model.psd_axis.nuclear, edges)
    for row, e in zip(m[[0, 2]], (10.5, 29.5), strict=True):
        width = 0.05 * math.sqrt(10.0 / e)
        inside = norm.cdf(0.9, 0.7, width) - norm.cdf(0.5, 0.7, width)
        # the table holds 7 significant digits
        assert row.sum() == pytest.approx(inside, rel=1e-6, abs=0)
        first_bin = norm.cdf(0.6, 0.7, width) - norm.cdf(0.5, 0.7, width)
        assert row[0] == pytest.approx(first_bin, rel=1e-6, abs=0)


def test_lognormal_normalisation_stays_positive_for_100_percent(lar_templates):
    ws = build_workspace(lar_templates)
    mods = {
        m["name"]: m
        for ch in ws["channels"]
        for s in ch["samples"]
        for m in s["modifiers"]
        if m["type"] == "normsys"
    }
    assert mods["beam_neutrons_norm"]["data"] == {"hi": 2.0, "lo": 0.5}
    assert mods["ar39_norm"]["data"] == pytest.approx({"hi": 1.05, "lo": 0.95}, abs=0)
    with pyhf_backend() as pyhf:
        model = pyhf.Workspace(ws).model()
        pars = model.config.suggested_init()
        i = model.config.par_slice("beam_neutrons_norm").start
        for alpha in (-5.0, -2.0, -1.0, 0.5, 3.0):
            pars[i] = alpha
            assert np.all(model.expected_actualdata(pars) >= 0)


def test_a_linear_normalisation_of_100_percent_is_refused(lar_dir, tmp_path):
    text = (lar_dir / "lar_like.toml").read_text()
    text = text.replace("norm_uncertainty = 1.0 ", 'norm_uncertainty = 1.0\nnorm_model = "linear"')
    for f in lar_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "lar_like.toml").write_text(text)
    with pytest.raises(InputError, match="norm_uncertainty.*lognormal"):
        load_detector_model(tmp_path / "lar_like.toml")


def test_shape_systematics_are_the_tables_binned_like_the_nominal(lar_model, lar_templates):
    from dataclasses import replace

    from cevns_fit.tables import read_table

    s = lar_templates.channels[0].sample("beam_neutrons")
    soft, hard = s.shape_sys["neutron_shape"]
    # the ±1σ templates are the nominal template with the soft/hard table in its place
    bkg = next(b for b in lar_model.backgrounds if b.name == "beam_neutrons")
    factor = bkg.table.total / read_table(lar_model.path.parent / "neutrons.csv").total
    for name, got in (("neutrons_soft.csv", soft), ("neutrons_hard.csv", hard)):
        table = read_table(lar_model.path.parent / name).scaled(factor)
        alt = replace(lar_model, backgrounds=(replace(bkg, table=table, systematics={}),))
        expected = build_templates(alt).channels[0].sample("beam_neutrons").counts
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert hard.sum() != pytest.approx(soft.sum(), rel=1e-3, abs=0)


def test_target_events_rescales_a_background(lar_templates, lar_model):
    assert lar_templates.channels[0].sample("nins").total == pytest.approx(5.0, rel=1e-12, abs=0)
    double = build_templates(lar_model, exposure_kg_yr=2 * lar_model.exposure_kg_yr)
    assert double.channels[0].sample("nins").total == pytest.approx(10.0, rel=1e-12, abs=0)


def test_duty_factor_of_a_time_axis_is_the_repetition_rate_times_the_window(lar_dir, lar_templates):
    """³⁹Ar-like rate 400 /keVee/kg/day × 60 Hz × 6 µs, flat in time, × the timing efficiency
    and the electron-recoil F90 acceptance (averaged by hand over the table rows of the bin),
    in the 30–35 keVee bin, where the energy efficiency is 1 to 1e-9."""
    main = lar_templates.channels[0]
    ar = main.sample("ar39").counts.reshape(main.shape)
    kg_days = 24.0 * 13.7e3 / 1.4 / 24.0  # beam exposure at 1.4 MW, live days
    rows = np.loadtxt(lar_dir / "psd_electron.csv", delimiter=",", skiprows=1)
    in_bin = (rows[:, 0] > 30) & (rows[:, 0] < 35) & (rows[:, 1] >= 0.5 - 1e-9)
    in_bin &= rows[:, 2] <= 0.9 + 1e-9
    f90_in = rows[in_bin, 3].sum() / 5.0  # 5 table rows of 1 keVee, each normalised to 1
    t = main.axis("time").edges
    mean_eff = np.mean(np.interp(np.linspace(0, 6, 100001), [0, 6], [0.98, 0.90]))
    expected = 400.0 * 60 * 6e-6 * kg_days * 5.0 * f90_in * mean_eff
    assert ar[5].sum() == pytest.approx(expected, rel=1e-4, abs=0)
    # flat in time apart from the timing efficiency: per-µs rate ∝ efficiency
    per_us = ar[5].sum(axis=1) / np.diff(t)
    eff = np.interp(0.5 * (t[1:] + t[:-1]), [0, 6], [0.98, 0.90])
    np.testing.assert_allclose(per_us / eff, (per_us / eff)[0], rtol=1e-9)


# ---- data and tables ---------------------------------------------------------------------------


def write_csv(path: Path, header: str, rows) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    return path


def test_matrix_and_rows_layouts_read_the_same_table(tmp_path):
    from cevns_fit.tables import read_matrix, read_table

    grid = np.arange(12.0).reshape(3, 4)
    e_edges, t_edges = np.array([0.0, 1, 2, 3]), np.array([0.0, 0.5, 1, 2, 4])
    (tmp_path / "m.txt").write_text("\n".join(" ".join(f"{v:g}" for v in r) for r in grid))
    rows = [
        (e_edges[i], e_edges[i + 1], t_edges[j], t_edges[j + 1], grid[i, j])
        for i in range(3)
        for j in range(4)
    ]
    header = "energy_low,energy_high,time_low,time_high,counts"
    a = read_table(write_csv(tmp_path / "r.csv", header, rows))
    b = read_matrix(tmp_path / "m.txt", ("energy", "time"), (e_edges, t_edges))
    np.testing.assert_array_equal(a.values, b.values)
    for x, y in zip(a.edges, b.edges, strict=True):
        np.testing.assert_array_equal(x, y)
    # as a density on other bins: half of bin [1, 2) and all of [2, 3) in energy
    on = a.on_bins({"energy": np.array([1.5, 3.0]), "time": t_edges[[0, -1]]}, ("energy",))
    assert on[0] == pytest.approx(0.5 * grid[1].sum() + grid[2].sum(), rel=1e-12, abs=0)


def test_finer_data_bins_are_summed_and_straddling_bins_are_refused(lar_dir, lar_templates):
    from cevns_fit.spectra import observed_counts

    model = load_detector_model(lar_dir / "lar_like.toml")
    data = observed_counts(lar_templates, axis_edges=model.axis_edges, path=lar_dir / "data.csv")
    main = lar_templates.channels[0]
    assert data[main.name].shape == (168,)
    # the same data with each energy bin split in two halves (finer binning) sums back
    lines = (lar_dir / "data.csv").read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        v = [float(x) for x in line.split(",")]
        mid = 0.5 * (v[0] + v[1])
        n = int(v[-1])
        out.append(",".join(f"{x:g}" for x in [v[0], mid, *v[2:-1], n // 2]))
        out.append(",".join(f"{x:g}" for x in [mid, v[1], *v[2:-1], n - n // 2]))
    finer = lar_dir.parent / "finer.csv"
    finer.write_text("\n".join(out) + "\n")
    again = observed_counts(lar_templates, axis_edges=model.axis_edges, path=finer)
    np.testing.assert_array_equal(again[main.name], data[main.name])
    # shifted energy bins straddle the model's edges: refused, naming both binnings
    shifted = lar_dir.parent / "shifted.csv"
    shifted.write_text(
        lines[0]
        + "\n"
        + "\n".join(
            ",".join(f"{float(x) + (2.5 if i < 2 else 0):g}" for i, x in enumerate(line.split(",")))
            for line in lines[1:]
        )
        + "\n"
    )
    with pytest.raises(InputError, match="energy bins .* do not line up with the model"):
        observed_counts(lar_templates, axis_edges=model.axis_edges, path=shifted)


@pytest.mark.parametrize(
    "mutation, needle",
    [
        ("extra_column", "columns"),
        ("missing_bin", "missing bin"),
        ("negative", "outside"),
        ("duplicate", "appears twice"),
    ],
)
def test_malformed_tables_are_exit_2_naming_the_file(lar_dir, tmp_path, capsys, mutation, needle):
    for f in lar_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    table = tmp_path / "psd_nuclear.csv"
    lines = table.read_text().splitlines()
    if mutation == "extra_column":
        lines[5] += ",1"
    elif mutation == "missing_bin":
        del lines[7]
    elif mutation == "negative":
        lines[3] = ",".join(lines[3].split(",")[:-1] + ["-0.1"])
    else:
        lines.append(lines[-1])
    table.write_text("\n".join(lines) + "\n")
    code, out, err = run("rate", tmp_path / "lar_like.toml", capsys=capsys)
    assert_clean_input_error(code, out, err, "psd_nuclear.csv", needle)


def test_data_binned_differently_from_the_model_is_exit_2_naming_both(lar_dir, tmp_path, capsys):
    rows = [(e, e + 1, 5) for e in range(5, 35)]  # 1-keVee bins, but no time or F90 columns
    data = write_csv(tmp_path / "d.csv", "energy_low,energy_high,counts", rows)
    code, out, err = run("fit", lar_dir / "lar_like.toml", "--data", data, capsys=capsys)
    assert_clean_input_error(code, out, err, "time")
    # a 1-D model against 1-D data with other edges
    cspbi3 = ROOT / "models" / "detectors" / "cspbi3_array.toml"
    rows = [(e, e + 2, 5) for e in range(2, 20, 2)]
    data = write_csv(tmp_path / "e.csv", "low,high,counts", rows)
    code, out, err = run("fit", cspbi3, "--data", data, capsys=capsys)
    assert_clean_input_error(code, out, err, "e.csv")


def test_options_that_do_not_apply_are_exit_2(lar_dir, tmp_path, capsys):
    cspbi3 = ROOT / "models" / "detectors" / "cspbi3_array.toml"
    data = write_csv(tmp_path / "d.csv", "low,high,counts", [(e, e + 1, 3) for e in range(2, 20)])
    code, out, err = run("fit", cspbi3, "--data", data, "--energy-only", capsys=capsys)
    assert_clean_input_error(code, out, err, "--project energy")
    code, out, err = run("fit", lar_dir / "lar_like.toml", capsys=capsys)
    assert_clean_input_error(code, out, err, "observations")


# ---- numerical accuracy without tuning --------------------------------------------------------


def _signal(model) -> np.ndarray:
    """CEvNS counts per analysis bin (all components, nominal response), per kg·day."""
    from cevns_fit.response import (
        recoil_counts_per_kg_day,
        response_matrix,
        true_recoil_edges_keVnr,
    )

    true = true_recoil_edges_keVnr(model)
    matrix = response_matrix(true, model)
    return sum(r @ matrix for r in recoil_counts_per_kg_day(model, true).values())


def _refined(model, factor: int = 20):
    from dataclasses import replace

    return replace(
        model,
        n_true_bins=model.n_true_bins * factor,
        fine_bins_per_bin=model.fine_bins_per_bin * factor,
    )


def steep_efficiency_model(tmp_path: Path) -> Path:
    """The CsPbI3 array with a tabulated efficiency rising from 0 to 1 within 0.1 keVee in the
    middle of a 1-keVee analysis bin: 4 uniform fine bins per bin put the whole rise in one."""
    text = (ROOT / "models" / "detectors" / "cspbi3_array.toml").read_text()
    text = text.replace(
        '[efficiency]\nmodel = "step"\nthreshold = 4.3',
        '[efficiency]\nmodel = "tabulated"\n'
        "x = [0.0, 4.1, 4.2, 30.0]\nvalues = [0.0, 0.0, 1.0, 1.0]",
    )
    text = text.replace(
        'file = "../sources/sns.toml"', f'file = "{ROOT / "models/sources/sns.toml"}"'
    )
    text = text.replace("threshold_sigma = 0.5 ", "")
    path = tmp_path / "steep.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_every_prediction_is_within_half_a_percent_of_a_20x_refined_calculation(
    lar_dir, tmp_path, monkeypatch
):
    paths = [ROOT / "models" / "detectors" / f"{n}.toml" for n in ("cspbi3_array", "ge_array")]
    paths += [ROOT / "models" / "detectors" / "coherent_csi_2017.toml"]
    paths += [lar_dir / "lar_like.toml", steep_efficiency_model(tmp_path)]
    for path in paths:
        model = load_detector_model(path)
        default, fine = _signal(model), _signal(_refined(model))
        assert default.sum() == pytest.approx(fine.sum(), rel=5e-3, abs=0), path.name
        big = fine > 0.01 * fine.sum()
        np.testing.assert_allclose(default[big], fine[big], rtol=5e-3, err_msg=path.name)
    # without the efficiency-driven refinement the steep model is off by more than 0.5 %
    import cevns_fit.response as response

    monkeypatch.setattr(response, "_MAX_HALVINGS", 0)
    model = load_detector_model(paths[-1])
    off = _signal(model).sum() / _signal(_refined(model)).sum() - 1
    assert abs(off) > 5e-3, off


# ---- inputs everywhere -------------------------------------------------------------------------


def test_inference_commands_take_a_pyhf_workspace_and_agree_with_the_model(tmp_path, capsys):
    model = ROOT / "models" / "detectors" / "cspbi3_array.toml"
    ws = tmp_path / "ws.json"
    assert run("workspace", model, "-o", ws, capsys=capsys)[0] == 0
    out = {}
    for source in (model, ws):
        code, text, err = run("significance", source, "--json", capsys=capsys)
        assert code == 0, err
        z = json.loads(text)["Z_expected"]
        code, text, err = run("exposure", source, "--json", capsys=capsys)
        assert code == 0, err
        out[source.suffix] = (z, json.loads(text)["exposure_kg_yr"])
    assert out[".json"][0] == pytest.approx(out[".toml"][0], rel=1e-6, abs=0)
    # a workspace has no exposure: the answer is a multiple of the workspace's own (10 kg·yr)
    exposure_model = load_detector_model(model).exposure_kg_yr
    assert out[".json"][1] * exposure_model == pytest.approx(out[".toml"][1], rel=1e-4, abs=0)


def test_a_workspace_with_an_unsupported_modifier_is_exit_2(tmp_path, capsys):
    model = ROOT / "models" / "detectors" / "cspbi3_array.toml"
    ws = tmp_path / "ws.json"
    assert run("workspace", model, "-o", ws, capsys=capsys)[0] == 0
    spec = json.loads(ws.read_text())
    sample = spec["channels"][0]["samples"][1]
    sample["modifiers"].append(
        {"name": "shape", "type": "shapesys", "data": [1.0] * len(sample["data"])}
    )
    ws.write_text(json.dumps(spec))
    code, out, err = run("significance", ws, capsys=capsys)
    assert_clean_input_error(code, out, err, "shapesys")
    code, out, err = run("significance", ws, "--project", "energy", capsys=capsys)
    assert_clean_input_error(code, out, err, "--project")


def test_significance_of_a_projection_is_below_the_full_analysis(lar_dir, capsys):
    zs = {}
    for extra in ((), ("--project", "energy")):
        code, out, err = run(
            "significance", lar_dir / "lar_like.toml", *extra, "--json", capsys=capsys
        )
        assert code == 0, err
        zs[extra] = json.loads(out)["Z_expected"]
    assert zs[("--project", "energy")] < zs[()]


def test_rate_reports_each_axis_projection_and_components_that_add_up(lar_dir, capsys):
    code, out, err = run("rate", lar_dir / "lar_like.toml", "--json", capsys=capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["axes"] == ["energy", "time", "psd"]
    for axis, p in r["projections"].items():
        assert len(p["signal"]) == len(p["edges"]) - 1, axis
        assert sum(p["signal"]) == pytest.approx(r["signal_events"], rel=1e-12, abs=0)
        assert sum(p["background"]) == pytest.approx(r["background_events"], rel=1e-12, abs=0)
    by_component = sum(r["signal_events_by_component"].values())
    assert by_component == pytest.approx(r["signal_events"], rel=1e-12, abs=0)


def test_a_tabulated_signal_replaces_the_computed_one(lar_dir, lar_templates, tmp_path):
    """The computed 3-D CEvNS prediction written out as a release would ship it (counts per
    bin at the model's exposure) and read back as [signal] gives the same template; the
    response's quenching/threshold variations no longer apply, μ and the flux still do."""
    main = lar_templates.channels[0]
    counts = main.sample("cevns").counts.reshape(main.shape)
    lines = ["energy_low,energy_high,time_low,time_high,psd_low,psd_high,counts"]
    for index in np.ndindex(*main.shape):
        edges = [
            f"{a.edges[i]:g},{a.edges[i + 1]:g}" for a, i in zip(main.axes, index, strict=True)
        ]
        lines.append(",".join(edges) + f",{float(counts[index])!r}")
    for f in lar_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "signal.csv").write_text("\n".join(lines) + "\n")
    text = (tmp_path / "lar_like.toml").read_text()
    text += '\n[signal]\nfile = "signal.csv"\nfile_units = "counts"\n'
    (tmp_path / "lar_like.toml").write_text(text)
    templates = build_templates(load_detector_model(tmp_path / "lar_like.toml"))
    cevns = templates.channels[0].sample("cevns")
    np.testing.assert_allclose(cevns.counts, main.sample("cevns").counts, rtol=1e-10)
    assert cevns.shape_sys == {} and cevns.norm_factor == "mu"
    assert cevns.norm_sys == main.sample("cevns").norm_sys


def test_observations_of_a_channel_the_model_does_not_have_are_refused(lar_dir, tmp_path):
    for f in lar_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    text = (tmp_path / "lar_like.toml").read_text()
    text += '\n[[observations]]\nchannel = "beam_off"\nfile = "data.csv"\n'
    (tmp_path / "lar_like.toml").write_text(text)
    with pytest.raises(InputError, match="observations\\[0\\].channel.*beam_on"):
        load_detector_model(tmp_path / "lar_like.toml")


def test_the_beam_timing_nuisance_is_the_templates_at_t0_plus_minus_sigma(lar_dir, tmp_path):
    """[analysis.time] t0_sigma_us: the 'timing' histosys of every beam-timed sample equals the
    nominal template of the same model with t0 moved by ∓σ; flat-in-time backgrounds have none."""
    from dataclasses import replace

    for f in lar_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "lar_like.toml"
    path.write_text(path.read_text().replace("t0_us = 1.0", "t0_us = 1.0\nt0_sigma_us = 0.2"))
    model = load_detector_model(path)
    main = build_templates(model).channels[0]
    for shift, side in ((-0.2, 0), (+0.2, 1)):
        moved = replace(model, time_axis=replace(model.time_axis, t0_us=1.0 + shift, t0_sigma_us=0))
        other = build_templates(moved).channels[0]
        for name in ("cevns", "beam_neutrons"):
            np.testing.assert_allclose(
                main.sample(name).shape_sys["timing"][side], other.sample(name).counts, rtol=1e-12
            )
        # NINs are rescaled to 5 events at the nominal timing: the variation keeps that scale
        varied, moved_nins = main.sample("nins").shape_sys["timing"][side], other.sample("nins")
        np.testing.assert_allclose(varied / varied.sum(), moved_nins.counts / 5.0, rtol=1e-12)
    assert "timing" not in main.sample("ar39").shape_sys
    # a later pulse moves prompt events to later bins
    down, up = main.sample("cevns").shape_sys["timing"]
    t_edges = main.axis("time").edges
    mean_t = [
        np.sum(main.project(v, "time") * 0.5 * (t_edges[1:] + t_edges[:-1])) / np.sum(v)
        for v in (down, up)
    ]
    assert mean_t[1] > mean_t[0]


def test_the_timing_nuisance_moves_tabulated_arrival_pdfs_too(tmp_path):
    """COHERENT CsI 2017 with a 0.5 µs timing 1σ (one time bin): the +1σ template of the
    signal and of the prompt neutrons (both from the release's tabulated PDFs) is the nominal
    one moved one bin later, the −1σ one bin earlier."""
    models = ROOT / "models"
    shutil.copytree(models / "data", tmp_path / "data")
    shutil.copytree(models / "sources", tmp_path / "sources")
    (tmp_path / "detectors").mkdir()
    text = (models / "detectors" / "coherent_csi_2017.toml").read_text()
    text = text.replace("[analysis.time]\n", "[analysis.time]\nt0_sigma_us = 0.5\n")
    (tmp_path / "detectors" / "m.toml").write_text(text)
    main = build_templates(load_detector_model(tmp_path / "detectors" / "m.toml")).channels[0]
    for name in ("cevns", "prompt_neutrons"):
        sample = main.sample(name)
        nominal = main.project(sample.counts, "time")
        down, up = (main.project(v, "time") for v in sample.shape_sys["timing"])
        np.testing.assert_allclose(up[1:], nominal[:-1], rtol=1e-12, atol=0)
        np.testing.assert_allclose(down[:-1], nominal[1:], rtol=1e-12, atol=0)
