"""The workspace builder: valid pyhf JSON with self-explaining parameters, validated inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cevns_fit.likelihood as likelihood
from cevns_fit.errors import InputError
from cevns_fit.likelihood import build_workspace, parameter_names, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample


def two_channel_templates(**signal_overrides) -> AnalysisTemplates:
    """Beam-on (signal, steady-state, neutrons) + beam-off control sharing a free norm."""
    sig = np.array([12.0, 8.0, 4.0, 1.0])
    ss = np.array([20.0, 20.0, 20.0, 20.0])
    neu = np.array([3.0, 2.0, 1.0, 0.5])
    signal = dict(
        counts=sig,
        norm_factor="mu",
        norm_sys={"flux": 0.1},
        shape_sys={"quenching": (sig * 0.8, sig * 1.2), "threshold": (sig * 0.95, sig * 1.05)},
        stat_error=0.05 * sig,
    )
    signal.update(signal_overrides)
    beam_on = Channel(
        "beam_on",
        np.arange(5.0),
        "PE",
        (
            Sample("cevns", **signal),
            Sample("steady_state", ss, norm_factor="steady_state_norm"),
            Sample("prompt_neutrons", neu, norm_sys={"prompt_neutrons_norm": 0.25}),
        ),
    )
    beam_off = Channel(
        "beam_off",
        np.arange(5.0),
        "PE",
        (Sample("steady_state", 4 * ss, norm_factor="steady_state_norm"),),
    )
    return AnalysisTemplates((beam_on, beam_off), exposure_kg_yr=3.0)


def test_workspace_is_valid_pyhf_and_loads_in_plain_pyhf():
    workspace = build_workspace(two_channel_templates())
    # through JSON text, as a user would get it
    text = json.dumps(workspace)
    with pyhf_backend() as pyhf:
        ws = pyhf.Workspace(json.loads(text))
        model = ws.model()
        assert model.config.poi_name == "mu"
        assert set(model.config.parameters) == {
            "mu",
            "flux",
            "quenching",
            "threshold",
            "steady_state_norm",
            "prompt_neutrons_norm",
            "staterror_beam_on",
        }
        assert model.config.channels == ["beam_off", "beam_on"]
        modifiers = dict(model.config.modifiers)
        assert modifiers["flux"] == "normsys"
        assert modifiers["quenching"] == "histosys"
        assert modifiers["steady_state_norm"] == "normfactor"
        assert modifiers["staterror_beam_on"] == "staterror"


def test_default_observations_are_asimov_at_mu_one():
    templates = two_channel_templates()
    workspace = build_workspace(templates)
    obs = {o["name"]: np.array(o["data"]) for o in workspace["observations"]}
    for ch in templates.channels:
        np.testing.assert_allclose(obs[ch.name], np.sum([s.counts for s in ch.samples], axis=0))
    with pyhf_backend():
        model, data = pyhf_model(workspace)
        pars = np.array(model.config.suggested_init())
        pars[model.config.poi_index] = 1.0
        np.testing.assert_allclose(data, model.expected_data(pars), rtol=1e-12)


def test_given_data_become_the_observations():
    templates = two_channel_templates()
    data = {"beam_on": [40, 31, 22, 20], "beam_off": [79, 83, 80, 77]}
    workspace = build_workspace(templates, data=data)
    obs = {o["name"]: o["data"] for o in workspace["observations"]}
    assert obs == {k: [float(v) for v in vals] for k, vals in data.items()}
    attached = build_workspace(templates.with_data(data))
    assert attached["observations"] == workspace["observations"]


def test_without_systematics_only_normfactors_remain():
    workspace = build_workspace(two_channel_templates(), systematics=False)
    assert parameter_names(workspace) == ["mu", "steady_state_norm"]
    for ch in workspace["channels"]:
        for s in ch["samples"]:
            assert all(m["type"] == "normfactor" for m in s["modifiers"])


def test_histosys_bound_keeps_every_template_non_negative():
    """A −60 % down variation reaches zero at α = −1/0.6: the bound stops short of it."""
    sig = np.array([10.0, 10.0, 10.0, 10.0])
    templates = two_channel_templates(
        counts=sig, shape_sys={"quenching": (sig * 0.4, sig * 1.1)}, stat_error=None
    )
    workspace = build_workspace(templates)
    bounds = {
        p["name"]: p.get("bounds") for p in workspace["measurements"][0]["config"]["parameters"]
    }
    lo, hi = bounds["quenching"][0]
    assert lo == pytest.approx(-0.95 / 0.6, rel=1e-6, abs=0)
    assert hi == -lo
    delta_dn = sig - 0.4 * sig
    assert np.all(sig + lo * delta_dn >= 0)


def test_fixed_parameters_are_fixed_in_the_measurement():
    workspace = build_workspace(two_channel_templates(), fixed=("quenching",))
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        fixed = model.config.suggested_fixed()
        assert fixed[model.config.par_slice("quenching")][0] is True
        assert fixed[model.config.par_slice("flux")][0] is False
    with pytest.raises(InputError, match="nonexistent"):
        build_workspace(two_channel_templates(), fixed=("nonexistent",))


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"counts": np.array([1.0, np.nan, 1.0, 1.0])}, "finite"),
        ({"counts": np.array([1.0, -2.0, 1.0, 1.0])}, ">= 0"),
        ({"counts": np.array([1.0, 2.0])}, "4 bins"),
        ({"norm_sys": {"flux": 1.5}}, "flux"),
        ({"norm_factor": None}, "norm_factor 'mu'"),
        ({"stat_error": np.array([0.1, 0.1, -1.0, 0.1])}, "stat_error"),
    ],
)
def test_malformed_templates_raise_one_line_input_errors(overrides, needle):
    with pytest.raises(InputError, match=needle) as info:
        build_workspace(two_channel_templates(**overrides))
    assert "\n" not in str(info.value)


def test_round_off_negative_templates_are_zeroed_not_rejected():
    sig = np.array([12.0, 8.0, 4.0, 1.0])
    down = sig * 0.8
    down[-1] = -5e-15  # smearing round-off
    workspace = build_workspace(two_channel_templates(shape_sys={"quenching": (down, sig * 1.2)}))
    mod = next(
        m for m in workspace["channels"][0]["samples"][0]["modifiers"] if m["name"] == "quenching"
    )
    assert mod["data"]["lo_data"][-1] == 0.0


def test_observed_data_with_wrong_shape_or_negative_counts_are_rejected():
    templates = two_channel_templates()
    with pytest.raises(InputError, match="beam_off"):
        build_workspace(templates, data={"beam_on": [1, 2, 3, 4], "beam_off": [1, 2]})
    with pytest.raises(InputError, match="beam_off"):
        build_workspace(templates, data={"beam_on": [1, 2, 3, 4]})


def test_pyhf_backend_is_set_and_restored():
    import pyhf

    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    with pyhf_backend():
        assert type(pyhf.optimizer).__name__ == "minuit_optimizer"
    assert type(pyhf.optimizer).__name__ == "scipy_optimizer"


def test_public_api():
    assert set(likelihood.__all__) >= {"build_workspace", "pyhf_backend", "pyhf_model"}
    for name in likelihood.__all__:
        assert hasattr(likelihood, name)
