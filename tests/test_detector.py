"""Detector models: loading, exposure/cost bookkeeping, overrides, and bad model files."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from cevns_fit.cli import rate as rate_cli
from cevns_fit.cli._common import emit, run_guarded
from cevns_fit.detector import load_detector_model, protons_on_target
from cevns_fit.errors import InputError
from tests.conftest import write_edited_model

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


def test_cspbi3_array_bookkeeping_follows_the_seed(cspbi3):
    # Seed: 1 g sensors -> O(10^4) channels; 75 $/kg material (assumption-labelled cost).
    assert cspbi3.n_sensors == 10_000 and cspbi3.channels == 10_000
    assert cspbi3.mass_kg == pytest.approx(10.0, rel=1e-6, abs=0)
    assert cspbi3.exposure_kg_yr == pytest.approx(10.0, rel=1e-6, abs=0)
    assert cspbi3.cost_usd == pytest.approx(75.0 * 10.0 + 20.0 * 10_000, rel=1e-6, abs=0)
    assert cspbi3.cost.note.startswith("assumption")
    # 4.3 keVee at Q = 0.3 is the seed's ≈ 15 keVnr (14.3).
    assert cspbi3.threshold_keVnr == pytest.approx(4.3 / 0.3, rel=1e-3, abs=0)


def test_coherent_exposure_converts_to_the_release_protons_on_target(coherent):
    # Release README: 7.47594 GW·hr at 1 GeV ≈ 1.68e23 POT; E / P live hours at 1.4 MW.
    assert protons_on_target(7.47594, 1.0) == pytest.approx(1.68e23, rel=2e-3, abs=0)
    assert coherent.protons_on_target == pytest.approx(
        protons_on_target(7.47594, 1.0), rel=1e-9, abs=0
    )
    assert coherent.live_days * 24 == pytest.approx(7.47594e3 / 1.4, rel=1e-9, abs=0)
    assert coherent.mass_kg == pytest.approx(14.6, rel=1e-6, abs=0)
    assert coherent.quenching.value == pytest.approx(0.0878, rel=1e-6, abs=0)
    assert coherent.gain == pytest.approx(13.348, rel=1e-6, abs=0)


def test_ge_array_uses_lindhard_germanium():
    ge = load_detector_model(DETECTORS / "ge_array.toml")
    assert ge.quenching.k == pytest.approx(0.157, rel=1e-6, abs=0) and ge.quenching.Z == 32
    assert ge.mass_kg == pytest.approx(8 * 2.2, rel=1e-6, abs=0)
    # 1.5 keVee of Ge is the recoil E with Y(E) E = 1.5, Lindhard (k = 0.157, Z = 32):
    # ε = 11.5 E Z^(−7/3), g = 3ε^0.15 + 0.7ε^0.6 + ε, Y = k g/(1 + k g); solved by hand.
    from scipy.optimize import brentq

    def keVee(e):
        eps = 11.5 * e * 32 ** (-7 / 3)
        g = 3 * eps**0.15 + 0.7 * eps**0.6 + eps
        return e * 0.157 * g / (1 + 0.157 * g)

    expected = brentq(lambda e: keVee(e) - 1.5, 1.0, 20.0, xtol=1e-12)
    assert ge.threshold_keVnr == pytest.approx(expected, rel=1e-6, abs=0)
    assert 6.0 < expected < 7.5


def test_overrides_for_scans(cspbi3):
    m = cspbi3.with_overrides(threshold_keVnr=20.0)
    assert m.threshold_keVnr == pytest.approx(20.0, rel=1e-3, abs=0)
    assert m.threshold == pytest.approx(0.3 * 20.0, rel=1e-6, abs=0)
    m = cspbi3.with_overrides(mass_kg=2.5)
    assert m.n_sensors == 2500 and m.exposure_kg_yr == pytest.approx(2.5, rel=1e-6, abs=0)
    m = cspbi3.with_overrides(exposure_kg_yr=30.0)
    assert m.mass_kg == pytest.approx(10.0, rel=1e-6, abs=0) and m.live_time_yr == pytest.approx(
        3.0, rel=1e-6, abs=0
    )
    m = cspbi3.with_overrides(quenching=0.2)
    assert m.quenching.value == pytest.approx(0.2, rel=1e-6, abs=0)
    assert m.quenching.sigma == pytest.approx(
        0.2 / 3.0, rel=1e-6, abs=0
    )  # keeps the relative 1σ (0.1/0.3)
    assert m.threshold == pytest.approx(
        cspbi3.threshold, rel=1e-6, abs=0
    )  # the keVee cut does not move
    m = cspbi3.with_overrides(background_scale=0.5)
    assert m.backgrounds[0].density[0] == pytest.approx(
        0.5 * cspbi3.backgrounds[0].density[0], rel=1e-6, abs=0
    )
    with pytest.raises(InputError, match="mass_kg"):
        cspbi3.with_overrides(mass_kg=-1.0)


GOOD = (DETECTORS / "cspbi3_array.toml").read_text(encoding="utf-8")


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


BAD_MODELS = {
    "broken_toml": ("[array\nn_sensors = 3", "malformed TOML"),
    "missing_key": (_edit("value = 0.30\n", ""), "'quenching.value' is missing"),
    "unknown_key": (
        _edit("[array]\n", "[array]\nsensor_count = 3\n"),
        "unknown key 'array.sensor_count'",
    ),
    "wrong_type": (_edit("n_sensors = 10000", 'n_sensors = "many"'), "'array.n_sensors'"),
    "negative_mass": (
        _edit("sensor_mass_kg = 0.001", "sensor_mass_kg = -0.001"),
        "'array.sensor_mass_kg'",
    ),
    "negative_rate": (
        _edit("rate_per_kg_day = 10.0", "rate_per_kg_day = -1.0"),
        "'backgrounds[0].rate_per_kg_day'",
    ),
    "nan_value": (_edit("threshold = 4.3", "threshold = nan"), "'efficiency.threshold'"),
    "bad_choice": (_edit('model = "seed_perovskite"', 'model = "perfect"'), "'resolution.model'"),
    "missing_source": (
        _edit('file = "../sources/sns.toml"', 'file = "../sources/nowhere.toml"'),
        "'source.file'",
    ),
    "quenching_above_one": (_edit("value = 0.30", "value = 1.5"), "'quenching.value'"),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_model_files_name_the_file_and_the_key(case, tmp_path):
    text, expected = BAD_MODELS[case]
    # Written next to the shipped models' folder layout so relative paths resolve the same way.
    folder = tmp_path / "models" / "detectors"
    folder.mkdir(parents=True)
    (tmp_path / "models" / "sources").mkdir()
    (tmp_path / "models" / "sources" / "sns.toml").write_text(
        (DETECTORS.parent / "sources" / "sns.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = folder / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_detector_model(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"{case}.toml" in message and expected in message


def test_missing_background_file_is_named(tmp_path):
    text = (DETECTORS / "coherent_csi_2017.toml").read_text(encoding="utf-8")
    path = DETECTORS.parent / "data" / "coherent_csi_2017"
    text = text.replace('"../data/coherent_csi_2017/promptPDF.txt"', '"nowhere.txt"')
    text = text.replace(
        '"../sources/sns.toml"', f'"{(DETECTORS.parent / "sources" / "sns.toml").as_posix()}"'
    )
    text = text.replace('"../data/coherent_csi_2017/', f'"{path.as_posix()}/')
    model = tmp_path / "m.toml"
    model.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"backgrounds\[0\]\.file.*nowhere\.txt"):
        load_detector_model(model)


def test_rate_cli_bad_model_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    parser = argparse.ArgumentParser(prog="cevns-fit")
    rate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["rate", str(bad), "--json"])
    assert run_guarded(args.func, args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "bad.toml" in lines[0]
    emit(None, args)  # nothing to print after an error: stdout stays empty
    assert capsys.readouterr().out == ""


def test_model_to_dict_is_json_ready(cspbi3):
    d = cspbi3.to_dict()
    for key in (
        "name",
        "target",
        "mass_kg",
        "n_sensors",
        "sensor_mass_kg",
        "channels",
        "live_time_yr",
        "exposure_kg_yr",
        "cost_usd",
        "quenching",
        "resolution",
        "efficiency",
        "backgrounds",
        "bins",
    ):
        assert key in d
    assert math.isclose(d["exposure_kg_yr"], 10.0)


@pytest.mark.parametrize(
    ("edits", "needle"),
    [
        ((("bin_max = 20.0", "bin_max = 1.68e9"),), "at most 20000 bins per axis"),
        (
            (("bin_max = 20.0", "bin_max = 20.0\ntrue_bins = 200000"),),
            "must be an integer <= 100000",
        ),
        ((("bin_max = 20.0", "bin_max = 20.0\nfine_bins_per_bin = 5000"),), "<= 1000"),
        (
            (("bin_max = 20.0", "bin_max = 20.0\ntrue_bins = 90000\nfine_bins_per_bin = 900"),),
            "the response would not fit in memory",
        ),
        (  # 1800 energy × 6000 time bins
            (
                ("bin_width = 1.0", "bin_width = 0.01"),
                (
                    "[[backgrounds]]",
                    "[analysis.time]\nbin_min = 0.0\nbin_max = 6.0\nbin_width = 0.001\n\n"
                    "[[backgrounds]]",
                ),
            ),
            r"analysis\.bin_width.*10800000; at most 1000000 in all",
        ),
    ],
)
def test_an_analysis_too_large_for_memory_is_refused_naming_the_key(tmp_path, edits, needle):
    """A typo such as bin_max = 1.68e9 (3.4e9 bins, 25 GiB: found by the loader fuzz test) is
    an input error at load, not an allocation that kills the process."""
    path = write_edited_model(tmp_path, "cspbi3_array", *edits, filename="big.toml")
    with pytest.raises(InputError, match=needle) as info:
        load_detector_model(path)
    assert str(path) in str(info.value)
