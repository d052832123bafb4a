"""Nothing crashes, nothing lies (issue 14): failing fits, parameters on bounds, zero
background, huge counts, interrupted and concurrent scans."""

from __future__ import annotations

import json

import pytest

from cevns_fit.cli import main as cli_main
from cevns_fit.fit import fit_workspace
from tests.test_fit import on_off_spec


# ------------------------------------------------------------------------------------ fits
def test_a_fit_stopped_by_the_call_limit_reports_the_minimisers_status():
    result = fit_workspace(on_off_spec(), max_calls=5)
    assert result.converged is False
    assert "call limit reached" in result.status


def test_a_failed_fit_exits_3_with_the_minimisers_status(tmp_path, monkeypatch, capsys):
    import cevns_fit.fit as fit_module

    real = fit_module.fit_workspace
    monkeypatch.setattr(
        fit_module, "fit_workspace", lambda *a, **k: real(*a, **{**k, "max_calls": 5})
    )
    ws, data = tmp_path / "ws.json", tmp_path / "d.json"
    ws.write_text(json.dumps(on_off_spec()))
    data.write_text(json.dumps({"on": [85, 62], "control": [50, 40]}))
    code = cli_main(["fit", str(ws), "--data", str(data), "--json"])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "call limit reached" in lines[0], captured.err


def test_mu_pinned_at_its_upper_bound_is_a_failed_fit_naming_the_bound():
    result = fit_workspace(on_off_spec(), {"on": [700, 700], "control": [50, 40]})
    assert result.converged is False
    assert result.at_bounds["mu"]["bound"] == "upper"
    assert result.at_bounds["mu"]["limit"] == 10.0
    assert "mu at its upper bound 10" in result.status


def test_mu_at_zero_is_a_flagged_result_at_the_physical_boundary():
    result = fit_workspace(on_off_spec(), {"on": [50, 40], "control": [50, 40]})
    assert result.converged is True
    assert result.at_bounds["mu"]["physical_boundary"] is True
    assert "mu at its lower bound 0 (physical boundary)" in result.status
    assert result.Z_observed == 0.0


def test_a_fit_to_all_zero_data_is_never_a_plain_success():
    result = fit_workspace(on_off_spec(), {"on": [0, 0], "control": [0, 0]})
    assert "HESSE accurate" not in result.status
    assert "the data hold no events" in result.status
    assert set(result.at_bounds) >= {"mu"}


def test_a_clean_fit_has_no_bound_flags():
    result = fit_workspace(on_off_spec(), {"on": [85, 62], "control": [50, 40]})
    assert result.converged is True and result.at_bounds == {} and result.near_bounds == {}
    assert result.status == "MIGRAD converged, HESSE accurate"


def test_events_where_the_model_predicts_none_are_a_failed_fit_naming_the_bins():
    from cevns_fit.errors import FitFailedError

    spec = on_off_spec(signal=(20.0, 0.0), background=(50.0, 0.0), histosys=False)
    with pytest.raises(FitFailedError, match=r"channel 'on' bin\(s\) \[1\]"):
        fit_workspace(spec, {"on": [70, 3], "control": [50, 0]})
