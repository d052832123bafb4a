"""Nothing crashes, nothing lies (issue 14): failing fits, parameters on bounds, zero
background, huge counts, interrupted and concurrent scans."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import norm

from cevns_fit.cli import main as cli_main
from cevns_fit.fit import fit_workspace
from cevns_fit.inference import expected_significance, exposure_needed, upper_limit
from tests.conftest import MODELS
from tests.test_fit import on_off_spec
from tests.test_inference import counting


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


# ------------------------------------------------------------- zero background, huge counts
def one_bin_workspace(s: float, b: float, n: float) -> dict:
    return {
        "version": "1.0.0",
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "cevns",
                        "data": [s],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [b], "modifiers": []},
                ],
            }
        ],
        "observations": [{"name": "c", "data": [n]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
    }


def cowan_z(n: float, s: float, b: float) -> float:
    """Z = √(2 (n ln(n/b) − (n − b))) for n = b + s counts on a known b (arXiv:1007.1727
    Eq. 97), with ln(n/b) as log1p(s/b) so that it is exact at 10¹⁵ counts."""
    return math.sqrt(2.0 * (n * math.log1p(s / b) - s))


def test_fit_at_1e15_counts_matches_cowans_formula():
    b, s = 1e15, 1e8
    result = fit_workspace(one_bin_workspace(s, b, b + s))
    assert result.converged
    assert result.mu == pytest.approx(1.0, abs=1e-6)
    assert result.mu_err == pytest.approx(math.sqrt(b) / s, rel=0.01)
    assert result.Z_observed == pytest.approx(cowan_z(b + s, s, b), rel=1e-6, abs=0)


def test_significance_exposure_limit_at_1e15_counts_match_the_closed_forms():
    b, s = 1e15, 1e8
    z_a = cowan_z(b + s, s, b)  # on Asimov data n = s + b: Eq. 97 is Z_A
    assert expected_significance(counting(s, b)).Z_expected == pytest.approx(z_a, rel=1e-6, abs=0)
    observed = expected_significance(counting(s, b, data=b + s))
    assert observed.Z_observed == pytest.approx(z_a, rel=1e-6, abs=0)
    # Z ∝ √exposure at s ≪ b: 5σ at (5/Z_A)² times the exposure
    needed = exposure_needed(counting(s, b), 5.0)
    assert needed.exposure_kg_yr == pytest.approx((5.0 / z_a) ** 2, rel=1e-4, abs=0)
    # median CLs limit at s ≪ b: μ_up = Φ⁻¹(1 − α/2) √b / s (arXiv:1007.1727 Eq. 89)
    limit = upper_limit(counting(s, b), 0.9)
    assert limit.mu_upper_expected == pytest.approx(
        norm.isf(0.05) * math.sqrt(b) / s, rel=1e-3, abs=0
    )


@pytest.mark.parametrize("s", [10.0, 0.5])
def test_zero_background_significance_follows_the_counting_limit(s):
    # b = 0: one event excludes μ = 0 (p0 = 0); the median count is ≥ 1 iff s ≥ ln 2
    result = expected_significance(counting(s, 0.0))
    assert result.method == "background-free"
    if s >= math.log(2):
        assert result.Z_expected == math.inf and result.p0_expected == 0.0
    else:
        assert result.Z_expected == 0.0 and result.p0_expected == 1.0
    assert expected_significance(counting(s, 0.0, data=1)).Z_observed == math.inf
    assert expected_significance(counting(s, 0.0, data=0)).Z_observed == 0.0


def test_zero_background_exposure_is_where_the_median_count_reaches_one():
    result = exposure_needed(counting(10.0, 0.0), 5.0)
    assert result.exposure_kg_yr == pytest.approx(math.log(2) / 10.0, rel=1e-12, abs=0)
    assert "ln 2" in result.notes[0]


def test_zero_background_limit_is_the_exact_poisson_limit():
    # the classic 90 % CL upper limits on a Poisson mean without background: 2.303 (n = 0)
    # and 6.681 (n = 3) (PDG Statistics review, Table 40.3)
    limit = upper_limit(counting(10.0, 0.0), 0.9)
    assert limit.signal_events_upper_expected == pytest.approx(2.303, abs=1e-3)
    observed = upper_limit(counting(10.0, 0.0, data=3), 0.9)
    assert observed.signal_events_upper_observed == pytest.approx(6.681, abs=1e-3)


def test_zero_background_fit_reports_p0_zero_not_a_failure():
    result = fit_workspace(one_bin_workspace(2.0, 0.0, 3.0))
    assert result.converged and result.mu == pytest.approx(1.5, rel=1e-4)
    assert result.Z_observed == math.inf and result.p0_observed == 0.0


def test_zero_background_model_file_gives_results_from_every_command(tmp_path, capsys):
    model = tmp_path / "nobg.toml"
    text = (MODELS / "detectors" / "ge_array.toml").read_text()
    text = text.split("[[backgrounds]]")[0].replace(
        "../sources/sns.toml", str(MODELS / "sources" / "sns.toml")
    )
    model.write_text(text)
    for command in ("significance", "exposure", "limit"):
        assert cli_main([command, str(model), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["notes"], command
