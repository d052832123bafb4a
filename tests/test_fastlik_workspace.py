"""The fast path's workspace compiler (cevns_fit.fastlik.workspace): what it accepts is read
as pyhf 0.7.6 reads it, and what it cannot compile is refused with an error naming it."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.fastlik import FastModel
from cevns_fit.likelihood import pyhf_backend


def spec(
    signal_mods=None,
    background_mods=None,
    measurements=None,
    *,
    signal=(5.0, 0.0, 3.0),
    background=(10.0, 0.0, 2.0),
) -> dict:
    """One channel, signal × μ over a background (by default three bins, the middle one
    empty), observed data their sum."""
    mu = {"name": "mu", "type": "normfactor", "data": None}
    return {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {"name": "s", "data": list(signal), "modifiers": [mu, *(signal_mods or [])]},
                    {"name": "b", "data": list(background), "modifiers": background_mods or []},
                ],
            }
        ],
        "observations": [
            {"name": "c", "data": [s + b for s, b in zip(signal, background, strict=True)]}
        ],
        "measurements": measurements or [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def test_staterror_of_an_empty_bin_is_fixed_and_the_others_have_pyhfs_widths():
    # pyhf's staterror_builder: σ_i = √(Σ_samples unc²)/Σ_samples nominal, and γ_i fixed
    # where the nominal sum is zero
    st_s = {"name": "st", "type": "staterror", "data": [1.0, 0.0, 0.5]}
    st_b = {"name": "st", "type": "staterror", "data": [2.0, 0.0, 0.5]}
    ws_spec = spec([st_s], [st_b])
    fm = FastModel.from_workspace(ws_spec)
    sl = fm.set_slices["st"]
    np.testing.assert_array_equal(fm.fixed[sl], [False, True, False])
    by_hand = [np.sqrt(1.0 + 4.0) / 15.0, np.sqrt(0.25 + 0.25) / 5.0]
    np.testing.assert_allclose(fm.aux_sigma[sl][[0, 2]], by_hand, rtol=1e-12, atol=0)
    with pyhf_backend() as pyhf:
        model = pyhf.Workspace(ws_spec).model()
        assert list(fm.fixed) == model.config.suggested_fixed()
        pyhf_sigmas = model.config.param_set("st").sigmas
        np.testing.assert_allclose(
            fm.aux_sigma[sl][[0, 2]], np.asarray(pyhf_sigmas)[[0, 2]], rtol=1e-12, atol=0
        )


def test_a_named_measurement_chooses_the_poi_and_an_unknown_one_is_refused():
    measurements = [
        {"name": "first", "config": {"poi": "mu", "parameters": []}},
        {"name": "second", "config": {"poi": "k", "parameters": []}},
    ]
    k = {"name": "k", "type": "normfactor", "data": None}
    ws_spec = spec(background_mods=[k], measurements=measurements)
    assert (
        FastModel.from_workspace(ws_spec).poi_index
        == FastModel.from_workspace(ws_spec).set_slices["mu"].start
    )
    second = FastModel.from_workspace(ws_spec, "second")
    assert second.poi_index == second.set_slices["k"].start
    assert FastModel.from_workspace(ws_spec, "first").poi_index == second.set_slices["mu"].start
    with pytest.raises(InputError, match=r"^workspace has no measurement 'third'$"):
        FastModel.from_workspace(ws_spec, "third")


def test_a_modifier_the_fast_path_cannot_compile_is_named():
    shapesys = {"name": "unc", "type": "shapesys", "data": [1.0, 0.0, 1.0]}
    with pytest.raises(InputError) as err:
        FastModel.from_workspace(spec(background_mods=[shapesys]))
    assert str(err.value) == (
        "workspace modifier 'unc' has type 'shapesys'; the fast path supports "
        "normfactor, normsys, histosys, staterror (use fast=False)"
    )


def test_one_name_for_two_kinds_of_parameter_is_refused_except_normsys_with_histosys():
    norm = {"name": "x", "type": "normfactor", "data": None}
    sys_ = {"name": "x", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}
    histo = {
        "name": "x",
        "type": "histosys",
        "data": {"hi_data": [11.0, 0.0, 2.0], "lo_data": [9.0, 0.0, 2.0]},
    }
    with pytest.raises(
        InputError, match=r"^workspace parameter 'x' is used as both normfactor and normsys$"
    ):
        FastModel.from_workspace(spec([norm], [sys_]))
    with pytest.raises(
        InputError, match=r"^workspace parameter 'x' is used as both normsys and normfactor$"
    ):
        FastModel.from_workspace(spec([sys_], [norm]))
    # HistFactory's OverallSys + HistoSys of one α: one constrained parameter
    both = FastModel.from_workspace(spec(background_mods=[sys_, histo]))
    assert both.set_slices["x"] == slice(both.set_slices["x"].start, both.set_slices["x"].start + 1)


def test_a_staterror_shared_by_two_channels_is_refused():
    st = {"name": "st", "type": "staterror", "data": [1.0, 0.0, 1.0]}
    ws_spec = spec(background_mods=[st])
    other = copy.deepcopy(ws_spec["channels"][0])
    other["name"] = "d"
    ws_spec["channels"].append(other)
    ws_spec["observations"].append({"name": "d", "data": [15.0, 0.0, 5.0]})
    with pytest.raises(InputError, match=r"^workspace staterror 'st' appears in two channels$"):
        FastModel.from_workspace(ws_spec)


@pytest.mark.parametrize("poi", ["absent", "unc"])
def test_the_poi_must_be_a_normfactor_of_some_sample(poi):
    unc = {"name": "unc", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}
    measurements = [{"name": "m", "config": {"poi": poi, "parameters": []}}]
    with pytest.raises(
        InputError, match=rf"^workspace POI '{poi}' must be a normfactor of some sample$"
    ):
        FastModel.from_workspace(spec(background_mods=[unc], measurements=measurements))


def test_staterror_width_of_a_bin_expecting_less_than_one_event_is_relative_to_it():
    # σ = unc/nominal, the nominal summed over the samples carrying the modifier (here the
    # background alone: 1/10), also below one event: 0.2/0.5 = 0.4, as pyhf has it
    st = {"name": "st", "type": "staterror", "data": [1.0, 0.0, 0.2]}
    ws_spec = spec(background_mods=[st], signal=(5.0, 0.0, 0.0), background=(10.0, 0.0, 0.5))
    fm = FastModel.from_workspace(ws_spec)
    sl = fm.set_slices["st"]
    np.testing.assert_allclose(fm.aux_sigma[sl][[0, 2]], [0.1, 0.4], rtol=1e-12, atol=0)
    with pyhf_backend() as pyhf:
        sigmas = pyhf.Workspace(ws_spec).model().config.param_set("st").sigmas
        np.testing.assert_allclose(
            fm.aux_sigma[sl][[0, 2]], np.asarray(sigmas)[[0, 2]], rtol=1e-12, atol=0
        )


def test_the_measurements_parameter_settings_are_read_as_pyhf_reads_them():
    # bounds, inits and fixed of the measurement's config; a setting for a parameter the
    # model does not have (listed first) is skipped, not the end of the list
    unc = {"name": "unc", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}}
    settings = [
        {"name": "mu", "bounds": [[0.0, 5.0]], "inits": [2.0]},
        {"name": "unc", "fixed": True, "inits": [0.5]},
    ]
    ws_spec = spec(background_mods=[unc])
    ws_spec["measurements"][0]["config"]["parameters"] = settings
    fm = FastModel.from_workspace(ws_spec)
    with pyhf_backend() as pyhf:
        model = pyhf.Workspace(ws_spec).model()
        order = [fm.set_slices[n].start for n in model.config.par_order]
        np.testing.assert_array_equal(fm.init[order], model.config.suggested_init())
        np.testing.assert_array_equal(fm.bounds[order], model.config.suggested_bounds())
        assert list(fm.fixed[order]) == model.config.suggested_fixed()
    mu, u = fm.set_slices["mu"].start, fm.set_slices["unc"].start
    assert (fm.init[mu], fm.init[u], fm.fixed[u], fm.fixed[mu]) == (2.0, 0.5, True, False)
    ghost = copy.deepcopy(ws_spec)
    ghost["measurements"][0]["config"]["parameters"].insert(0, {"name": "ghost", "fixed": True})
    again = FastModel.from_workspace(ghost)
    np.testing.assert_array_equal(again.init, fm.init)
    np.testing.assert_array_equal(again.bounds, fm.bounds)
    np.testing.assert_array_equal(again.fixed, fm.fixed)


def test_a_sample_with_two_staterror_modifiers_is_refused():
    one = {"name": "st1", "type": "staterror", "data": [1.0, 0.0, 1.0]}
    two = {"name": "st2", "type": "staterror", "data": [1.0, 0.0, 1.0]}
    with pytest.raises(InputError, match=r"^sample 'b' carries two staterror modifiers$"):
        FastModel.from_workspace(spec(background_mods=[one, two]))


def test_an_empty_bin_with_a_stated_uncertainty_is_still_fixed_as_in_pyhf():
    # no nominal count to be relative to: pyhf fixes γ there whatever the uncertainty says
    ws_spec = spec([{"name": "st", "type": "staterror", "data": [1.0, 0.3, 0.5]}])
    fm = FastModel.from_workspace(ws_spec)
    with pyhf_backend() as pyhf:
        assert list(fm.fixed) == pyhf.Workspace(ws_spec).model().config.suggested_fixed()
    assert fm.fixed[fm.set_slices["st"]].tolist() == [False, True, False]


def test_two_staterrors_on_a_one_bin_sample_are_refused_whatever_their_order():
    # the first staterror of the model is parameter 0: still a staterror already there
    one = {"name": "a1", "type": "staterror", "data": [1.0]}
    two = {"name": "a2", "type": "staterror", "data": [1.0]}
    ws_spec = spec(background_mods=[one, two], signal=(5.0,), background=(10.0,))
    with pytest.raises(InputError, match=r"^sample 'b' carries two staterror modifiers$"):
        FastModel.from_workspace(ws_spec)
