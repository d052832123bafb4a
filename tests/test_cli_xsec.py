"""The xsec and ratio-map commands honour the CLI/JSON contract (README, "Commands")."""

import json

import pytest

from cevns_fit.cross_section import sigma_eff
from cevns_fit.targets import make_target
from tests.conftest import assert_clean_input_error


def test_xsec_json_has_the_contract_keys(cli_json):
    out = cli_json("xsec", "--target", "CsPbI3", "--enu", "30", "--threshold", "5")
    for key in (
        "target",
        "enu_MeV",
        "threshold_keVnr",
        "sigma_eff_cm2_per_nucleus",
        "sigma_eff_cm2_per_kg",
        "recoil_max_keVnr",
    ):
        assert key in out
    assert out["sigma_eff_cm2_per_kg"] == pytest.approx(
        out["sigma_eff_cm2_per_nucleus"] * out["nuclei_per_kg"], rel=1e-9, abs=0
    )
    # the lightest nucleus (127I) recoils furthest: 2E²/(M+2E) ≈ 15.2 keVnr at 30 MeV
    assert out["recoil_max_keVnr"] == pytest.approx(15.22, abs=0.01)


def test_threshold_above_every_recoil_is_a_result_with_a_note(cli_json):
    out = cli_json("xsec", "--target", "CsPbI3", "--enu", "10", "--threshold", "50")
    assert out["sigma_eff_cm2_per_nucleus"] == 0.0
    assert "above every recoil" in out["note"]


def test_ratio_map_json_is_enu_by_threshold_and_writes_figures(cli_json, tmp_path):
    fig4, fig3 = tmp_path / "map.png", tmp_path / "fig3.png"
    out = cli_json(
        "ratio-map",
        "--target",
        "CsPbI3",
        "--reference",
        "Ge",
        "--enu",
        "10:50:5",
        "--thresholds",
        "0:20:3",
        "--out",
        str(fig4),
        "--fig3",
        str(fig3),
    )
    assert len(out["ratio"]) == 5 and len(out["ratio"][0]) == 3
    assert out["enu_MeV"] == [10, 20, 30, 40, 50]
    # zero threshold, 30 MeV: the per-nucleus σ_eff ratio (≈ the Q_W² ratio at q → 0:
    # 4.2–4.7), the same number the library gives point by point
    a, g = make_target("CsPbI3"), make_target("Ge")
    expected = sigma_eff(30.0, 0.0, a)[0, 0] / sigma_eff(30.0, 0.0, g)[0, 0]
    assert out["ratio"][2][0] == pytest.approx(expected, rel=1e-9, abs=0)
    assert 4.2 < expected < 4.7
    # 20 keVnr at 10 MeV is above every CsPbI3 recoil: the seed's convention is a ratio of 0
    assert out["ratio"][0][2] == 0.0
    assert fig4.stat().st_size > 10_000 and fig3.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, needle",
    [
        (("xsec", "--target", "Xx", "--enu", "30"), "Xx"),
        (("xsec", "--target", "CsPbI3(", "--enu", "30"), "CsPbI3("),
        (("xsec", "--target", "Ge", "--enu", "0"), "neutrino energy"),
        (("xsec", "--target", "Ge", "--enu", "30", "--threshold", "-1"), "threshold"),
        (("ratio-map", "--target", "CsPbI3", "--reference", "Ge", "--enu", "a:b"), "--enu"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(run_cli, args, needle):
    assert_clean_input_error(*run_cli(*args), needle)


def test_json_output_is_a_single_object(run_cli):
    code, out, _ = run_cli("xsec", "--target", "Ge", "--enu", "30", "--json")
    assert code == 0
    assert isinstance(json.loads(out), dict)


def test_unwritable_figure_path_is_a_clean_error(run_cli, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "map.png"
    code, out, err = run_cli(
        "ratio-map",
        "--target",
        "CsPbI3",
        "--reference",
        "Ge",
        "--enu",
        "10:50:3",
        "--thresholds",
        "0:10:3",
        "--out",
        str(missing),
    )
    assert_clean_input_error(code, out, err, "--out")
