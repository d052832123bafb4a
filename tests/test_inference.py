"""Discovery significance, exposure needed and CLs limits against closed forms and plain pyhf.

References: Cowan et al., EPJC 71:1554 (2011) (Z_A with and without background uncertainty,
Eq. 97, and Cowan's note "Discovery sensitivity for a counting experiment with background
uncertainty", 2012), the exact Poisson tail for single-bin counting, and pyhf 0.7.6 itself.
"""

from __future__ import annotations

import argparse
import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm, poisson

import cevns_fit.inference as inference
from cevns_fit.cli import _common
from cevns_fit.errors import InputError
from cevns_fit.inference import (
    expected_significance,
    exposure_needed,
    significance_impacts,
    upper_limit,
)
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample


def counting(
    s: float,
    b: float,
    *,
    rel_b: float = 0.0,
    control_tau: float | None = None,
    data: float | None = None,
) -> AnalysisTemplates:
    """One-bin counting: signal s (μ), background b (normsys rel_b, or a free normalisation
    measured in an off channel with τ·b expected counts)."""
    bkg = Sample(
        "bkg",
        np.array([b]),
        norm_sys={"bkg_norm": rel_b} if rel_b else {},
        norm_factor="bkg_norm" if control_tau else None,
    )
    chans = [
        Channel(
            "on", np.array([0.0, 1.0]), "n", (Sample("cevns", np.array([s]), norm_factor="mu"), bkg)
        )
    ]
    if control_tau:
        chans.append(
            Channel(
                "off",
                np.array([0.0, 1.0]),
                "n",
                (Sample("bkg", np.array([control_tau * b]), norm_factor="bkg_norm"),),
            )
        )
    t = AnalysisTemplates(tuple(chans), exposure_kg_yr=1.0)
    if data is not None:
        t = t.with_data({"on": [data]} | ({"off": [control_tau * b]} if control_tau else {}))
    return t


def cowan_za(s: float, b: float) -> float:
    return math.sqrt(2 * ((s + b) * math.log(1 + s / b) - s))


def cowan_za_sigma_b(s: float, b: float, sb: float) -> float:
    v = sb * sb
    return math.sqrt(
        2
        * (
            (s + b) * math.log((s + b) * (b + v) / (b * b + (s + b) * v))
            - (b * b / v) * math.log(1 + v * s / (b * (b + v)))
        )
    )


def shape_templates(scale: float = 1.0, *, background_sys: float = 0.0) -> AnalysisTemplates:
    """Six-bin spectrum with a control channel; optional background normsys and shape sys."""
    x = np.linspace(0, 1, 6)
    sig = scale * 20 * np.exp(-2 * x)
    bkg = scale * np.full(6, 40.0)
    neu = scale * 5 * (1 - 0.5 * x)
    samples = (
        Sample(
            "cevns",
            sig,
            norm_factor="mu",
            norm_sys={"flux": 0.1},
            shape_sys={"quenching": (0.85 * sig, 1.15 * sig)},
            stat_error=0.02 * sig,
        ),
        Sample("steady_state", bkg, norm_factor="steady_state_norm"),
        Sample(
            "neutrons",
            neu,
            norm_sys={"neutron_norm": 0.3}
            | ({"neutron_shape": background_sys} if background_sys else {}),
        ),
    )
    chans = (
        Channel("beam_on", np.arange(7.0), "PE", samples),
        Channel(
            "beam_off",
            np.array([0.0, 1.0]),
            "PE",
            (Sample("steady_state", np.array([2 * bkg.sum()]), norm_factor="steady_state_norm"),),
        ),
    )
    return AnalysisTemplates(chans, exposure_kg_yr=scale)


# ----------------------------------------------------------------------------- Cowan Z_A
@pytest.mark.parametrize("s, b", [(10.0, 50.0), (5.0, 100.0), (30.0, 10.0)])
def test_single_bin_reproduces_cowan_za_without_background_uncertainty(s, b):
    result = expected_significance(counting(s, b))
    assert result.Z_expected == pytest.approx(cowan_za(s, b), rel=1e-3, abs=0)
    assert result.p0_expected == pytest.approx(norm.sf(result.Z_expected), rel=1e-6, abs=0)
    assert result.method == "asymptotic"


@pytest.mark.parametrize(
    "s, b, sigma_b", [(10.0, 50.0, 5.0), (20.0, 100.0, 20.0), (8.0, 20.0, 2.0)]
)
def test_on_off_counting_reproduces_cowan_za_with_background_uncertainty(s, b, sigma_b):
    """σ_b from an off measurement with τ = b/σ_b² (the model behind Cowan's formula)."""
    result = expected_significance(counting(s, b, control_tau=b / sigma_b**2))
    assert result.Z_expected == pytest.approx(cowan_za_sigma_b(s, b, sigma_b), rel=1e-3, abs=0)
    # and the background uncertainty costs significance
    assert result.Z_expected < cowan_za(s, b)


def test_observed_significance_of_a_count_is_the_closed_form():
    s, b, n = 10.0, 50.0, 68.0
    result = expected_significance(counting(s, b, data=n))
    z_obs = math.sqrt(2 * (n * math.log(n / b) - (n - b)))
    assert result.Z_observed == pytest.approx(z_obs, rel=1e-4, abs=0)
    assert expected_significance(counting(s, b, data=40.0)).Z_observed == 0.0  # deficit: q0 = 0


# ----------------------------------------------------------------------------- plain pyhf
def test_fast_and_plain_pyhf_give_the_same_z():
    templates = shape_templates(background_sys=0.2)
    data = {
        "beam_on": np.round(np.sum([s.counts for s in templates.channels[0].samples], 0) * 1.1),
        "beam_off": templates.channels[1].samples[0].counts,
    }
    templates = templates.with_data(data)
    fast = expected_significance(templates)
    plain = expected_significance(templates, fast=False)
    assert fast.Z_expected == pytest.approx(plain.Z_expected, rel=1e-3, abs=0)
    assert fast.Z_observed == pytest.approx(plain.Z_observed, rel=1e-3, abs=0)


def test_exported_workspace_gives_the_same_z_in_plain_pyhf():
    """Only the JSON text and pyhf: Asimov at μ = 1, q0 at μ = 0."""
    templates = shape_templates()
    text = json.dumps(build_workspace(templates))
    with pyhf_backend() as pyhf:
        ws = pyhf.Workspace(json.loads(text))
        model = ws.model()
        pars = np.array(model.config.suggested_init())
        pars[model.config.poi_index] = 1.0
        q0 = pyhf.infer.test_statistics.q0(
            0.0,
            model.expected_data(pars),
            model,
            model.config.suggested_init(),
            model.config.suggested_bounds(),
            model.config.suggested_fixed(),
        )
    assert expected_significance(templates).Z_expected == pytest.approx(
        math.sqrt(float(q0)), rel=1e-3, abs=0
    )


# ----------------------------------------------------------------------------- exposure
def test_z_grows_as_sqrt_exposure_without_systematics():
    templates = shape_templates()
    z1 = expected_significance(templates, systematics=False).Z_expected
    z4 = expected_significance(templates.scaled_to(4.0), systematics=False).Z_expected
    z100 = expected_significance(templates.scaled_to(100.0), systematics=False).Z_expected
    assert z4 / z1 == pytest.approx(2.0, rel=1e-4, abs=0)
    assert z100 / z1 == pytest.approx(10.0, rel=1e-4, abs=0)


@pytest.mark.parametrize("systematics", [True, False])
@pytest.mark.parametrize("sigma", [3.0, 5.0])
def test_exposure_significance_round_trip(sigma, systematics):
    templates = shape_templates()
    solved = exposure_needed(templates, sigma, systematics=systematics)
    assert solved.reason is None
    assert solved.n_fits <= 12
    at = expected_significance(templates.scaled_to(solved.exposure_kg_yr), systematics=systematics)
    assert at.Z_expected == pytest.approx(sigma, rel=1e-3, abs=0)


def test_stat_only_exposure_follows_the_sqrt_law():
    templates = shape_templates()
    z_ref = expected_significance(templates, systematics=False).Z_expected
    solved = exposure_needed(templates, 5.0, systematics=False)
    assert solved.exposure_kg_yr == pytest.approx(
        templates.exposure_kg_yr * (5.0 / z_ref) ** 2, rel=1e-4, abs=0
    )


def test_unreachable_significance_is_null_with_the_limiting_systematic():
    """s/b = 0.1 with a 20 % background normalisation: Z saturates near s/(0.2 b) = 0.5."""
    templates = counting(10.0, 100.0, rel_b=0.2)
    solved = exposure_needed(templates, 3.0)
    assert solved.exposure_kg_yr is None
    assert "bkg_norm" in solved.reason and "saturates" in solved.reason
    assert solved.limiting_parameter == "bkg_norm"
    # without that systematic it is reachable
    assert exposure_needed(templates, 3.0, systematics=False).exposure_kg_yr > 0


def test_impacts_rank_the_costliest_nuisance_and_stat_only_matches():
    templates = shape_templates(background_sys=0.3)
    impacts = significance_impacts(templates)
    stat = expected_significance(templates, systematics=False).Z_expected
    assert impacts.Z_stat_only == pytest.approx(stat, rel=1e-6, abs=0)
    assert impacts.Z_expected <= impacts.Z_stat_only
    deltas = [i.delta_Z for i in impacts.impacts]
    assert deltas == sorted(deltas, reverse=True)
    assert all(d >= -1e-6 for d in deltas)
    # a signal-only normalisation does not change q0 at μ = 0
    flux = next(i for i in impacts.impacts if i.parameter == "flux")
    assert flux.delta_Z == pytest.approx(0.0, abs=1e-6)
    assert impacts.most_costly in {"neutron_norm", "neutron_shape", "steady_state_norm"}


# ----------------------------------------------------------------------------- toys
def test_toys_agree_with_asymptotics_at_high_counts():
    s, b = 25.0, 100.0
    asym = expected_significance(counting(s, b))
    toys = expected_significance(counting(s, b), method="toys", n_toys=1000, seed=1)
    assert toys.method == "toys" and toys.n_toys == 1000 and toys.seed == 1
    # p0 ≈ 0.009 from 1000 toys: ~10 % statistical error on p0, ~0.05 on Z
    assert toys.Z_expected == pytest.approx(asym.Z_expected, abs=0.15)


def test_toys_are_reproducible_with_a_seed():
    a = expected_significance(counting(3.0, 2.0), method="toys", n_toys=200, seed=7)
    b = expected_significance(counting(3.0, 2.0), method="toys", n_toys=200, seed=7)
    assert a == b


def test_low_counts_use_toys_or_exact_poisson_and_asymptotics_overstate():
    """s = 3, b = 0.5: the median count is 3 and P(n ≥ 3 | 0.5) gives Z = 2.19 (not 2.40)."""
    templates = counting(3.0, 0.5)
    exact_p0 = poisson.sf(2, 0.5)
    auto = expected_significance(templates, method="auto")
    assert auto.method == "exact"
    assert auto.p0_expected == pytest.approx(exact_p0, rel=1e-12, abs=0)
    assert auto.Z_expected == pytest.approx(norm.isf(exact_p0), rel=1e-12, abs=0)
    asym = expected_significance(templates)
    assert asym.Z_expected > auto.Z_expected + 0.15
    assert any("toys" in note for note in asym.notes)
    toys = expected_significance(templates, method="toys", n_toys=3000, seed=3)
    assert toys.p0_expected == pytest.approx(exact_p0, rel=0.3, abs=0)


def test_auto_chooses_toys_for_low_count_shape_models():
    templates = counting(3.0, 1.0, rel_b=0.1)
    result = expected_significance(templates, method="auto", n_toys=200, seed=0)
    assert result.method == "toys"


# ----------------------------------------------------------------------------- limits
def test_expected_cls_limit_single_bin_closed_form():
    """Median: 2 Φ(−√q_A) = α with q_A(μ) = 2(μs − b ln(1 + μs/b)) on Asimov n = b."""
    s, b, cl = 10.0, 50.0, 0.9
    result = upper_limit(counting(s, b), cl)
    target = norm.isf((1 - cl) / 2)
    mu = brentq(lambda m: math.sqrt(2 * (m * s - b * math.log(1 + m * s / b))) - target, 1e-6, 100)
    assert result.mu_upper_expected == pytest.approx(mu, rel=1e-4, abs=0)
    assert result.signal_events_upper_expected == pytest.approx(mu * s, rel=1e-4, abs=0)
    band = result.mu_upper_expected_band
    assert band["-2"] < band["-1"] < band["0"] < band["1"] < band["2"]


def test_cls_limits_equal_pyhf_hypotest():
    """At our expected band limits and observed limit, pyhf's CLs equals α = 1 − CL."""
    templates = counting(10.0, 50.0, rel_b=0.1, data=55.0)
    result = upper_limit(templates, 0.95)
    workspace = build_workspace(templates)
    with pyhf_backend() as pyhf:
        model, data = pyhf_model(workspace)
        pars = np.array(model.config.suggested_init())
        pars[model.config.poi_index] = 0.0
        bonly = model.expected_data(pars)
        for k, index in zip(("-2", "-1", "0", "1", "2"), range(5), strict=True):
            _, expected = pyhf.infer.hypotest(
                result.mu_upper_expected_band[k],
                bonly,
                model,
                test_stat="qtilde",
                return_expected_set=True,
            )
            assert float(expected[index]) == pytest.approx(0.05, rel=2e-3, abs=0)
        cls_obs = pyhf.infer.hypotest(result.mu_upper_observed, data, model, test_stat="qtilde")
        assert float(cls_obs) == pytest.approx(0.05, rel=2e-3, abs=0)


# ----------------------------------------------------------------------------- edges
def test_no_signal_is_a_result_with_a_note_not_an_error():
    templates = counting(0.0, 10.0)
    z = expected_significance(templates)
    assert z.Z_expected == 0.0 and z.notes
    e = exposure_needed(templates, 3.0)
    assert e.exposure_kg_yr is None and "no CEvNS signal" in e.reason
    lim = upper_limit(templates)
    assert lim.mu_upper_expected is None and lim.notes


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda t: expected_significance(t, method="bayes"), "method"),
        (lambda t: exposure_needed(t, -3.0), "sigma"),
        (lambda t: upper_limit(t, 1.5), "confidence level"),
        (lambda t: expected_significance(t, method="exact"), "single-bin"),
        (lambda t: significance_impacts(t, exposure_kg_yr=float("nan")), "exposure"),
    ],
)
def test_bad_arguments_are_input_errors(call, needle):
    with pytest.raises(InputError, match=needle):
        call(shape_templates())


def test_results_serialise_to_json():
    templates = shape_templates()
    for result in (
        expected_significance(templates),
        exposure_needed(templates, 3.0),
        upper_limit(templates),
        significance_impacts(templates),
    ):
        json.dumps(_common.to_jsonable(result), allow_nan=False)


def test_public_api():
    for name in inference.__all__:
        assert hasattr(inference, name)


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def cli():
    from cevns_fit.cli import exposure, limit, significance, workspace

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for module in (workspace, significance, exposure, limit):
        module.add_parser(sub)

    def run(*argv: str):
        args = parser.parse_args(list(argv))
        return _common.run_guarded(args.func, args)

    return run


@pytest.fixture
def fake_model(monkeypatch, tmp_path):
    """A model file whose templates are :func:`shape_templates` (loader monkeypatched)."""
    import cevns_fit.detector
    import cevns_fit.templates

    path = tmp_path / "model.toml"
    path.write_text("# stand-in\n")
    stand_in = types.SimpleNamespace(axis_names=("energy",), axis_edges={})
    monkeypatch.setattr(cevns_fit.detector, "load_detector_model", lambda p: stand_in)
    monkeypatch.setattr(
        cevns_fit.templates,
        "build_templates",
        lambda m, exposure_kg_yr=None: shape_templates(exposure_kg_yr or 1.0),
    )
    return path


def test_cli_significance_exposure_limit_keys(cli, fake_model, tmp_path):
    sig = cli("significance", str(fake_model), "--exposure", "2")
    assert {"Z_expected", "p0_expected", "method"} <= set(sig)
    assert sig["Z_expected"] == pytest.approx(
        expected_significance(shape_templates(2.0)).Z_expected, rel=1e-6, abs=0
    )
    exp = cli("exposure", str(fake_model), "--sigma", "3")
    assert {"exposure_kg_yr", "sigma"} <= set(exp) and exp["sigma"] == 3.0
    lim = cli("limit", str(fake_model), "--cl", "0.9")
    assert "mu_upper_expected" in lim and "mu_upper_observed" not in lim
    out = tmp_path / "ws.json"
    ws = cli("workspace", str(fake_model), "-o", str(out))
    assert ws["path"] == str(out) and "mu" in ws["parameters"]
    assert json.loads(out.read_text())["measurements"][0]["config"]["poi"] == "mu"


def test_cli_with_data_reports_observed(cli, fake_model, tmp_path):
    t = shape_templates()
    data = {
        ch.name: np.round(np.sum([s.counts for s in ch.samples], 0)).tolist() for ch in t.channels
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    sig = cli("significance", str(fake_model), "--data", str(path))
    assert "Z_observed" in sig and "p0_observed" in sig
    lim = cli("limit", str(fake_model), "--data", str(path))
    assert lim["mu_upper_observed"] > 0


def test_cli_bad_input_exits_2(cli, fake_model, capsys):
    assert cli("significance", str(fake_model), "--exposure", "-1") == 2
    assert cli("exposure", str(fake_model), "--sigma", "0") == 2
    assert cli("limit", "missing_model.toml") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 3


SHIPPED = sorted((Path(__file__).resolve().parents[1] / "models" / "detectors").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_fast_and_plain_pyhf_agree_on_shipped_models(path):
    from cevns_fit.detector import load_detector_model
    from cevns_fit.templates import build_templates

    templates = build_templates(load_detector_model(path)).scaled_to(1.0)
    for systematics in (True, False):
        fast = expected_significance(templates, systematics=systematics)
        plain = expected_significance(templates, systematics=systematics, fast=False)
        assert fast.Z_expected == pytest.approx(plain.Z_expected, rel=1e-3, abs=0)


def _tiny_signal_templates():
    from cevns_fit.templates import AnalysisTemplates, Channel, Sample

    signal = Sample("cevns", np.array([1e-9, 2e-9]), norm_factor="mu", norm_sys={"flux": 0.1})
    background = Sample("bkg", np.array([100.0, 80.0]), norm_sys={"bkg_norm": 0.05})
    channel = Channel("signal", np.array([0.0, 1.0, 2.0]), "keVee", (signal, background))
    return AnalysisTemplates((channel,), exposure_kg_yr=1.0)


def test_a_signal_too_small_to_constrain_is_a_result_with_a_note_not_an_error():
    limit = upper_limit(_tiny_signal_templates())
    assert limit.mu_upper_expected is None
    assert any("too small" in note for note in limit.notes)


def test_unreachable_exposure_blames_the_small_signal_not_a_harmless_systematic():
    result = exposure_needed(_tiny_signal_templates(), sigma=5.0)
    assert result.exposure_kg_yr is None
    assert result.limiting_parameter != "flux"  # a signal-only normsys cannot limit discovery
    assert "too small" in result.reason or result.limiting_parameter == "bkg_norm"


def test_a_small_observed_excess_gives_a_small_z_not_a_floor():
    # n = 52 on b = 50: q0 = 2 (n ln(n/b) − (n − b)) = 0.079, Z = 0.28 (well below 1)
    s, b, n = 10.0, 50.0, 52.0
    result = expected_significance(counting(s, b, data=n))
    z_obs = math.sqrt(2 * (n * math.log(n / b) - (n - b)))
    assert z_obs < 0.3
    assert result.Z_observed == pytest.approx(z_obs, rel=1e-4, abs=0)


def test_observed_data_must_cover_every_channel():
    from dataclasses import replace

    templates = counting(10.0, 50.0, control_tau=2.0)
    on, off = templates.channels
    on_only = replace(templates, channels=(replace(on, data=np.array([55.0])), off))
    with pytest.raises(InputError) as info:
        expected_significance(on_only)
    assert str(info.value) == "observed data: channel(s) ['off'] have no data attached"


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("asimov", "μ = 0 fit to the Asimov data did not converge: stub"),
        ("free", "free fit for q0 did not converge: stub"),
        ("null", "μ = 0 fit for q0 did not converge: stub"),
    ],
)
def test_a_fit_that_does_not_converge_raises_fit_failed_naming_the_fit(monkeypatch, which, message):
    # Each of the three fits behind Z (the Asimov μ = 0 fit, and the free and μ = 0 fits to
    # the observed count) made to fail in turn: an error naming that fit, never a number.
    from cevns_fit.errors import FitFailedError
    from cevns_fit.fastlik import FastFitResult, FastModel

    original = FastModel.fit

    def fit(self, main, aux=None, **kwargs):
        kind = (
            "asimov"
            if kwargs.get("reference_nll") is not None
            else ("null" if kwargs.get("fix") else "free")
        )
        if kind == which:
            return FastFitResult(self.init.copy(), math.inf, False, 1, "stub")
        return original(self, main, aux, **kwargs)

    monkeypatch.setattr(FastModel, "fit", fit)
    with pytest.raises(FitFailedError) as info:
        expected_significance(counting(10.0, 50.0, data=68.0))
    assert str(info.value) == message


# ----------------------------------------------------------------------------- toy p-values
def test_observed_toy_p_value_counts_ties_as_in_the_poisson_tail():
    # One bin, b = 20: q0 rises with n above b, so P(q0 >= q0_obs) = P(N >= n_obs) including
    # the toys that land exactly on n_obs (P(N = 27 | 20) = 0.03 of all toys).
    s, b, n = 8.0, 20.0, 27.0
    result = expected_significance(counting(s, b, data=n), method="toys", n_toys=3000, seed=11)
    p_exact = poisson.sf(n - 1, b)
    assert abs(result.p0_observed - p_exact) < 4 * math.sqrt(p_exact * (1 - p_exact) / 3000)
    assert result.Z_observed == pytest.approx(norm.isf(result.p0_observed), rel=1e-12, abs=0)


def test_toys_for_a_deficit_and_for_an_excess_beyond_every_toy():
    deficit = expected_significance(counting(8.0, 20.0, data=15.0), method="toys", n_toys=50)
    assert deficit.p0_observed == 1.0 and deficit.Z_observed == 0.0
    # 24 on 20: q0 = 2 (24 ln 1.2 − 4) = 0.75 < 1, P(N >= 24 | 20) = 0.24: Z ≈ 0.7, not 0
    small = expected_significance(counting(8.0, 20.0, data=24.0), method="toys", n_toys=400)
    assert 0.15 < small.p0_observed < 0.35 and 0.0 < small.Z_observed < 1.0
    # 60 events on 20: no background-only toy of 20 gets there, p0 < 1/n_toys is a bound
    huge = expected_significance(counting(8.0, 20.0, data=60.0), method="toys", n_toys=20)
    assert huge.p0_observed == pytest.approx(1 / 20, rel=1e-12, abs=0)
    assert huge.Z_observed == pytest.approx(norm.isf(1 / 20), rel=1e-12, abs=0)
    assert any(
        note.startswith("observed: no background-only toy reached q0 = ")
        and note.endswith("p0 < 0.05, so Z is a lower bound; use more toys")
        for note in huge.notes
    ), huge.notes


def test_exact_method_is_refused_for_shapes_and_nuisances():
    with pytest.raises(InputError) as info:
        expected_significance(shape_templates(), method="exact")
    assert str(info.value) == (
        "method 'exact' needs a single-bin counting model without nuisance parameters"
    )


def test_toys_fluctuate_the_auxiliary_data_of_free_constrained_parameters_only():
    # pyhf's model.make_pdf(pars).sample(): Gaussian auxiliary data N(θ, σ) for constrained
    # parameters, none for free normalisations (NaN here); fixed staterror γ stay nominal.
    from cevns_fit.inference import _sample_toys, compile_model

    fm = compile_model(shape_templates(background_sys=0.2))
    pars = fm.nominal_pars(mu=1.0)
    mains, auxes = _sample_toys(fm, pars, 4000, np.random.default_rng(5))
    np.testing.assert_array_equal(mains.shape, (4000, fm.n_bins))
    free = fm.constrained & ~fm.fixed
    assert free.any() and (~fm.constrained).any()
    np.testing.assert_allclose(auxes[:, free].std(axis=0), fm.aux_sigma[free], rtol=0.06)
    np.testing.assert_allclose(auxes[:, free].mean(axis=0), pars[free], atol=0.06)
    assert np.all(np.isnan(auxes[:, ~fm.constrained]))
    fixed = fm.constrained & fm.fixed
    np.testing.assert_array_equal(
        auxes[:, fixed], np.broadcast_to(pars[fixed], auxes[:, fixed].shape)
    )


# ----------------------------------------------------------------------------- argument rules
def test_impacts_at_an_exposure_and_its_validation():
    templates = shape_templates(background_sys=0.2)
    half = significance_impacts(templates, exposure_kg_yr=0.5)
    assert half.exposure_kg_yr == 0.5
    assert half.Z_expected == pytest.approx(
        expected_significance(templates.scaled_to(0.5)).Z_expected, rel=1e-9, abs=0
    )
    for bad in (0.0, -1.0, math.inf, "2"):
        with pytest.raises(InputError) as info:
            significance_impacts(templates, exposure_kg_yr=bad)
        assert str(info.value) == f"exposure must be a positive number of kg·yr, got {bad!r}"


def test_exposure_needed_defaults_to_five_sigma_and_accepts_any_positive_sigma():
    templates = shape_templates()
    assert exposure_needed(templates).sigma == 5.0
    assert exposure_needed(templates).exposure_kg_yr == pytest.approx(
        exposure_needed(templates, 5.0).exposure_kg_yr, rel=1e-12, abs=0
    )
    low = exposure_needed(templates, 0.5, systematics=False)
    z1 = expected_significance(templates, systematics=False).Z_expected
    # Z_A² ∝ exposure without systematics (a free background normalisation scales too)
    assert low.exposure_kg_yr == pytest.approx((0.5 / z1) ** 2, rel=1e-3, abs=0)
    for bad in (0.0, -3.0, math.nan):
        with pytest.raises(InputError) as info:
            exposure_needed(templates, bad)
        assert str(info.value) == f"sigma must be a positive number, got {bad!r}"


def test_exact_method_notes_the_median_count():
    result = expected_significance(counting(3.0, 0.5), method="exact")
    assert "median signal-plus-background count n = 3" in result.notes


def test_exact_observed_and_expected_significance_are_poisson_tails():
    # One bin, b = 20, n = 31: p0 = P(N >= 31 | 20); a deficit gives Z = 0, not a negative Z.
    result = expected_significance(counting(8.0, 20.0, data=31.0), method="exact")
    assert result.p0_observed == pytest.approx(poisson.sf(30, 20.0), rel=1e-12, abs=0)
    assert result.Z_observed == pytest.approx(norm.isf(poisson.sf(30, 20.0)), rel=1e-12, abs=0)
    deficit = expected_significance(counting(8.0, 20.0, data=12.0), method="exact")
    assert deficit.p0_observed == pytest.approx(poisson.sf(11, 20.0), rel=1e-12, abs=0)
    assert deficit.Z_observed == 0.0
    # a weak signal: median n = 5 on b = 5, p0 = P(N >= 5 | 5) = 0.56 > 0.5, so Z = 0
    weak = expected_significance(counting(0.3, 5.0), method="exact")
    assert weak.p0_expected == pytest.approx(poisson.sf(4, 5.0), rel=1e-12, abs=0)
    assert weak.Z_expected == 0.0
    # without data there is no observed significance at all
    assert weak.Z_observed is None and weak.p0_observed is None
    assert "Z_observed" not in weak.to_dict()


# ---- exposure by Newton's method on the concave q0(exposure) ----------------------------------


@pytest.mark.parametrize("scale", [0.3, 1e-3])
@pytest.mark.parametrize("name", ["cspbi3_array", "ge_array", "coherent_csi_2017"])
def test_q0_slope_from_one_fit_equals_the_numerical_derivative(name, scale):
    """Envelope theorem: dq0/df from the μ = 0 fit's Poisson part alone equals the central
    difference of q0 over ±1e-4 of the exposure (two more fits), at a sizeable exposure and
    at a tiny one (q0 ≪ 1)."""
    from cevns_fit.detector import load_detector_model
    from cevns_fit.registry import detector_path
    from cevns_fit.templates import build_templates

    model = load_detector_model(detector_path(name))
    fm = inference.compile_model(build_templates(model)).scaled(scale)
    q0, pars = inference._asimov_q0(fm)
    slope = inference._q0_slope(fm, pars, q0, 1.0)
    h = 1e-4
    q_up = inference._asimov_q0(fm.scaled(1 + h))[0]
    q_dn = inference._asimov_q0(fm.scaled(1 - h))[0]
    assert slope == pytest.approx((q_up - q_dn) / (2 * h), rel=1e-5, abs=0)
    # concave: the slope is at most the secant from the origin
    assert slope <= q0 * (1 + 1e-12)


@pytest.mark.parametrize("name", ["cspbi3_array", "ge_array", "coherent_csi_2017"])
@pytest.mark.parametrize("sigma", [3.0, 5.0])
def test_exposure_needed_lands_on_the_target_z_in_few_fits(name, sigma):
    """At the returned exposure the median Z is σ to 1e-6 (an independent evaluation from
    templates rescaled to it), reached in at most 4 μ = 0 fits (bisection took 6–9)."""
    from cevns_fit.detector import load_detector_model
    from cevns_fit.registry import detector_path
    from cevns_fit.templates import build_templates

    templates = build_templates(load_detector_model(detector_path(name)))
    solved = exposure_needed(templates, sigma)
    z = expected_significance(templates.scaled_to(solved.exposure_kg_yr)).Z_expected
    assert z == pytest.approx(sigma, rel=1e-6, abs=0)
    assert solved.n_fits <= 4


@pytest.mark.parametrize(("a", "b"), [(2.0, 0.0), (2.0, -0.02), (0.3, -1e-4), (1.0, 0.01)])
def test_the_origin_parabola_step_is_exact_for_a_parabola_through_the_origin(a, b):
    """q(x) = a x + b x²: from its value and slope at any f the step lands on q = target."""
    from cevns_fit.inference.exposure import _origin_quadratic_root

    target = 25.0
    for f in (0.5, 3.0, 9.0):
        x = _origin_quadratic_root(f, a * f + b * f * f, a + 2 * b * f, target)
        assert a * x + b * x * x == pytest.approx(target, rel=1e-12, abs=0)
    # a saturating parabola that never reaches the target has no step
    assert _origin_quadratic_root(1.0, 0.9, 0.8, 1e3) is None


# ---- the Newton exposure solver on closed-form q0(f) ------------------------------------------


def _closed_form(q0, dq0):
    """z_at and the slopes it records, as exposure_needed gives them to _newton_exposure."""
    slopes: dict[float, float] = {}
    calls: list[float] = []

    def z_at(f: float) -> float:
        calls.append(f)
        slopes[f] = dq0(f)
        return math.sqrt(q0(f))

    return z_at, slopes, calls


def test_newton_exposure_without_systematics_is_sigma_squared_over_q0_per_unit_exposure():
    # q0 = a f (Z ∝ √exposure): the parabola through the origin is the line itself, one step
    from cevns_fit.inference.exposure import _newton_exposure

    z_at, slopes, calls = _closed_form(lambda f: 4.0 * f, lambda f: 4.0)
    f = _newton_exposure(z_at, slopes, 5.0, 1e6, 1e-4)
    assert f == pytest.approx(25.0 / 4.0, rel=1e-12, abs=0)
    assert calls == [1.0, 6.25]


@pytest.mark.parametrize("start_above", [False, True])
def test_newton_exposure_on_a_saturating_q0_reaches_the_closed_form_root(start_above):
    # q0 = Q f/(f + c), concave, saturating at Q: q0 = σ² at f* = c σ²/(Q − σ²)
    from cevns_fit.inference.exposure import _newton_exposure

    big_q, c, sigma = 30.0, 0.05 if start_above else 20.0, 5.0
    z_at, slopes, _ = _closed_form(
        lambda f: big_q * f / (f + c), lambda f: big_q * c / (f + c) ** 2
    )
    f = _newton_exposure(z_at, slopes, sigma, 1e6, 1e-6)
    assert f == pytest.approx(c * sigma**2 / (big_q - sigma**2), rel=1e-8, abs=0)


def test_newton_exposure_gives_up_where_it_cannot_decide():
    from cevns_fit.inference.exposure import _newton_exposure

    # saturating below σ² = 25: the factor runs past max_factor
    z_at, slopes, _ = _closed_form(lambda f: 20.0 * f / (f + 1.0), lambda f: 20.0 / (f + 1.0) ** 2)
    assert _newton_exposure(z_at, slopes, 5.0, 1e6, 1e-4) is None
    # no slope (a flat q0): no Newton step at all
    z_at, slopes, calls = _closed_form(lambda f: 4.0, lambda f: 0.0)
    assert _newton_exposure(z_at, slopes, 5.0, 1e6, 1e-4) is None and calls == [1.0]
    # the root lies beyond max_factor
    z_at, slopes, _ = _closed_form(lambda f: 4.0 * f, lambda f: 4.0)
    assert _newton_exposure(z_at, slopes, 5.0, 6.0, 1e-4) is None
    assert _newton_exposure(z_at, slopes, 5.0, 6.25, 1e-4) == pytest.approx(6.25, rel=1e-12, abs=0)


def test_q0_slope_counts_the_staterror_constraints_too():
    """The envelope-theorem slope with Gaussian-constrained staterror γ's (nominal 1, σ = the
    relative MC error, both ≠ the normsys' 0 and 1) equals the central difference of q0."""
    bkg = Sample(
        "bkg",
        np.array([40.0, 10.0]),
        norm_sys={"bkg_norm": 0.1},
        stat_error=np.array([8.0, 3.0]),
    )
    sig = Sample("cevns", np.array([12.0, 9.0]), norm_factor="mu")
    templates = AnalysisTemplates(
        (Channel("on", np.array([0.0, 1.0, 2.0]), "n", (sig, bkg)),), exposure_kg_yr=1.0
    )
    fm = inference.compile_model(templates)
    q0, pars = inference._asimov_q0(fm)
    slope = inference._q0_slope(fm, pars, q0, 1.0)
    h = 1e-3
    q_up = inference._asimov_q0(fm.scaled(1 + h))[0]
    q_dn = inference._asimov_q0(fm.scaled(1 - h))[0]
    # the slope is first order in the fitted θ's residual error (q0 only second order): 1e-4
    assert slope == pytest.approx((q_up - q_dn) / (2 * h), rel=1e-4, abs=0)
    assert slope < q0  # the constraints take a share: strictly below the secant


def test_origin_parabola_edge_cases():
    from cevns_fit.inference.exposure import _origin_quadratic_root

    # a straight line through the origin (b = 0) with a small slope: x = target/a
    assert _origin_quadratic_root(2.0, 0.6, 0.3, 25.0) == pytest.approx(
        25.0 / 0.3, rel=1e-12, abs=0
    )
    # flat at zero: no root
    assert _origin_quadratic_root(1.0, 0.0, 0.0, 25.0) is None
    # q(x) = 2x − x²/16 peaks at exactly the target 16, at x = 16 (a double root)
    assert _origin_quadratic_root(1.0, 1.9375, 1.875, 16.0) == 16.0


def test_newton_exposure_on_a_parabola_through_the_origin_needs_one_step():
    # q0 = 2f − f²/16 (a concave parabola through the origin, as with one systematic):
    # the step to its parabola's root lands on q0 = σ² = 12 at f = 16 − 8 = 8 exactly
    from cevns_fit.inference.exposure import _newton_exposure

    z_at, slopes, calls = _closed_form(lambda f: 2 * f - f * f / 16, lambda f: 2 - f / 8)
    f = _newton_exposure(z_at, slopes, math.sqrt(12.0), 1e6, 1e-6)
    assert f == pytest.approx(8.0, rel=1e-12, abs=0)
    assert len(calls) == 2
