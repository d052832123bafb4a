"""Physics sanity at load: quenching in (0, 1] and efficiency in [0, 1] over the analysis
range, including the ±1σ models the likelihood uses; repeated or unordered table entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.quenching import load_quenching_table

MODELS = Path(__file__).resolve().parents[1] / "models"
BASE = (MODELS / "detectors" / "cspbi3_array.toml").read_text(encoding="utf-8")
QUENCHING = 'model = "constant"\nvalue = 0.30\nsigma = 0.10\n'
EFFICIENCY = 'model = "step"\nthreshold = 4.3                    # keVee, R(E) = 100 % (seed)\n'
BINS = "bin_min = 2.0\nbin_max = 20.0\n"


def _write(tmp_path: Path, *, quenching=QUENCHING, efficiency=EFFICIENCY, bins=BINS) -> Path:
    """cspbi3_array.toml (SNS source, keVee bins 2–20, step threshold 4.3 keVee) with one
    table replaced; its largest recoil is that of 127I at 52.8 MeV, ≈ 47 keVnr."""
    text = BASE
    for old, new in ((QUENCHING, quenching), (EFFICIENCY, efficiency), (BINS, bins)):
        assert old in text
        text = text.replace(old, new)
    sns = (MODELS / "sources" / "sns.toml").as_posix()
    path = tmp_path / "model.toml"
    path.write_text(text.replace('"../sources/sns.toml"', f'"{sns}"'), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_detector_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    ("quenching", "expected"),
    [
        # issue 14: Q = 0.3 ± 0.5 is negative at −1σ
        ('model = "constant"\nvalue = 0.3\nsigma = 0.5\n', "Q at −1σ of quenching = -0.2"),
        # Lindhard k − σ_k < 0
        ('model = "lindhard"\nZ = 55\nk = 0.157\nsigma_k = 0.5\n', "Q at −1σ of quenching"),
        # Q > 1 at +1σ
        ('model = "constant"\nvalue = 0.95\nsigma = 0.1\n', "Q at +1σ of quenching = 1.05"),
        # 0.3 − 0.02 E is negative above 15 keVnr, inside the range (up to ≈ 47 keVnr)
        ('model = "polynomial"\ncoefficients = [0.3, -0.02]\n', "Q = -0.6"),
        # 0.9 + 0.01 E exceeds 1 above 10 keVnr; the range ends where Q·E = 20 keVee (18.47)
        ('model = "polynomial"\ncoefficients = [0.9, 0.01]\n', "Q = 1.085 at 18.47 keVnr"),
        # an eigen-direction of the coefficient covariance that goes negative
        (
            'model = "polynomial"\ncoefficients = [0.3, 1e-3]\nsigmas = [0.35, 1e-5]\n',
            "at −1σ of quenching_0",
        ),
    ],
)
def test_unphysical_quenching_in_the_analysis_range_is_an_input_error(
    tmp_path, quenching, expected
):
    message = _error(_write(tmp_path, quenching=quenching))
    assert "key 'quenching'" in message and expected in message
    assert "keVnr" in message


def test_the_recoil_range_follows_the_analysis_bins(tmp_path):
    # Q = 0.5 − 0.012 E turns negative at 41.7 keVnr, below the source's ≈ 47 keVnr endpoint.
    # Its observable Q·E peaks at 5.2 keVee: with bins up to 20 keVee every recoil up to the
    # endpoint is in range (rejected); with bins up to 5 keVee the range ends where Q·E = 5,
    # at E = (0.5 − 0.1)/0.024 = 16.7 keVnr, where Q = 0.3 (accepted).
    poly = 'model = "polynomial"\ncoefficients = [0.5, -0.012]\n'
    assert "Q = " in _error(_write(tmp_path, quenching=poly))
    model = load_detector_model(
        _write(tmp_path, quenching=poly, bins="bin_min = 2.0\nbin_max = 5.0\n")
    )
    assert model.quenching.coefficients == (0.5, -0.012)


def test_quenching_that_is_bad_only_beyond_the_source_endpoint_is_accepted(tmp_path):
    # 0.3 − 1e-4 E is negative only above 3000 keVnr; SNS neutrinos give at most ≈ 47 keVnr.
    poly = 'model = "polynomial"\ncoefficients = [0.3, -1e-4]\n'
    assert load_detector_model(_write(tmp_path, quenching=poly)).quenching.coefficients[0] == 0.3


@pytest.mark.parametrize(
    ("efficiency", "expected"),
    [
        # a logistic whose plateau a = 1.2 exceeds 1 in the range
        ('model = "logistic"\na = 1.2\nk = 2.0\nx0 = 4.3\nheaviside = false\n', "efficiency = 1.2"),
        # an offset that lifts the plateau above 1
        (
            'model = "logistic"\na = 0.9\nk = 2.0\nx0 = 4.3\noffset = 0.2\nheaviside = false\n',
            "efficiency = 1.1",
        ),
        # the loader's own bound on the erf plateau
        ('model = "erf"\nthreshold = 4.3\nwidth = 0.3\nplateau = 1.5\n', "'efficiency.plateau'"),
    ],
)
def test_efficiency_outside_zero_one_is_an_input_error(tmp_path, efficiency, expected):
    message = _error(_write(tmp_path, efficiency=efficiency))
    assert "efficiency" in message and expected in message


def test_release_style_logistic_with_a_negative_offset_loads(tmp_path):
    # COHERENT CsI 2021 form, scaled to this model's keVee axis: plateau a + d = 0.95.
    eff = 'model = "logistic"\na = 1.3\nk = 3.0\nx0 = 4.3\noffset = -0.35\nheaviside = false\n'
    model = load_detector_model(_write(tmp_path, efficiency=eff))
    assert model.efficiency.offset == -0.35
    assert model.efficiency(2.0) == 0.0
    assert model.efficiency(20.0) == pytest.approx(0.95, rel=1e-9, abs=0)


@pytest.mark.parametrize(
    ("table", "text", "expected"),
    [
        (
            "quenching",
            'model = "tabulated"\nenergy_keVnr = [5.0, 5.0, 20.0]\nvalues = [0.1, 0.2, 0.3]\n',
            "'quenching.energy_keVnr': values must be strictly increasing",
        ),
        (
            "quenching",
            'model = "tabulated"\nenergy_keVnr = [5.0, 30.0, 20.0]\nvalues = [0.1, 0.2, 0.3]\n',
            "'quenching.energy_keVnr': values must be strictly increasing",
        ),
        (
            "efficiency",
            'model = "tabulated"\nx = [3.0, 4.0, 4.0, 6.0]\nvalues = [0, 0.5, 0.7, 1]\n',
            "'efficiency.x': values must be strictly increasing",
        ),
        (
            "efficiency",
            'model = "tabulated"\nx = [3.0, 5.0, 4.0, 6.0]\nvalues = [0, 0.5, 0.7, 1]\n',
            "'efficiency.x': values must be strictly increasing",
        ),
        (
            "efficiency",
            'model = "tabulated"\nx = [3.0, 4.0, 5.0]\nvalues = [0, 0.5, 1.2]\n',
            "'efficiency.values': one efficiency in [0, 1]",
        ),
    ],
)
def test_repeated_or_unordered_table_entries_are_input_errors(tmp_path, table, text, expected):
    message = _error(_write(tmp_path, **{table: text}))
    assert expected in message


def test_repeated_energy_in_quenching_files_is_an_input_error(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("5.0, 0.08\n10.0, 0.09\n", encoding="utf-8")
    b.write_text("20.0, 0.1\n10.0, 0.07\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.txt, b\.txt: energy 10 keVnr appears twice"):
        load_quenching_table([a, b])
    # unordered but distinct measurements are merged in energy order
    b.write_text("20.0, 0.1\n12.0, 0.07\n", encoding="utf-8")
    assert load_quenching_table([a, b]).energy_keVnr == (5.0, 10.0, 12.0, 20.0)


@pytest.mark.parametrize("name", ["cspbi3_array", "ge_array", "coherent_csi_2017"])
def test_shipped_models_pass_the_checks(name):
    load_detector_model(MODELS / "detectors" / f"{name}.toml")


def test_cli_reports_an_unphysical_quenching_in_one_line(tmp_path, run_cli):
    path = _write(tmp_path, quenching='model = "constant"\nvalue = 0.3\nsigma = 0.5\n')
    code, out, err = run_cli("rate", path, "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "model.toml: key 'quenching'" in lines[0]
    assert "Traceback" not in err


def test_tabulated_quenching_is_checked_at_its_varied_points(tmp_path):
    table = 'model = "tabulated"\nenergy_keVnr = [1.0, 50.0]\nvalues = [0.2, 0.3]\n'
    assert load_detector_model(_write(tmp_path, quenching=table)).quenching.values == (0.2, 0.3)
    message = _error(_write(tmp_path, quenching=table + "relative_sigma = 1.2\n"))
    # worst at the endpoint ≈ 47.2 keVnr: (0.2 + 0.1 × 46.2/49) × (1 − 1.2) = −0.0588
    assert "Q at −1σ of quenching = -0.0588" in message


def test_release_quenching_points_with_their_errors_pass(tmp_path):
    release = (MODELS / "data" / "coherent_csi_2017").as_posix()
    files = f'["{release}/qfData_chicago.txt", "{release}/qfData_tunl.txt"]'
    table = f'model = "tabulated"\nfiles = {files}\n'
    model = load_detector_model(_write(tmp_path, quenching=table))
    assert len(model.quenching.energy_keVnr) == 19 and model.quenching.sigma_hi is not None
