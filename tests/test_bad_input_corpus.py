"""A hostile user's corpus (issue 14): every command, every kind of bad value, path, permission
and file. Each case must end with its promised exit code (2 bad input, 3 failed fit), exactly
one line on stderr naming the input, no traceback, nothing on stdout and no output file left
behind. Every input file is generated here, in a temporary folder.

The cases run in-process (``cevns_fit.cli.main``), which is fast; only what needs a real
process (SIGINT, kill -9) runs as a subprocess, in ``test_robustness.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cevns_fit.cli import main as cli_main
from tests.conftest import MODELS
from tests.test_fit import on_off_spec

SOURCES = MODELS / "sources"

# A small, fast model (a line source, ten bins): most cases fail before any physics anyway.
SMALL_MODEL = f"""
name = "small"
target = "Ge"
[source]
file = "{SOURCES / "line_example.toml"}"
[array]
n_sensors = 1
sensor_mass_kg = 1.0
channels_per_sensor = 1
live_time_yr = 1.0
[quenching]
model = "constant"
value = 0.2
sigma = 0.02
[resolution]
model = "gaussian"
sigma0_keVee = 0.2
[efficiency]
model = "step"
threshold = 1.0
[analysis]
observable = "keVee"
bin_min = 0.5
bin_max = 5.5
bin_width = 0.5
[[backgrounds]]
name = "flat"
kind = "steady_state"
rate_per_kg_day = 1.0
duty_factor = 1.0
norm_uncertainty = 0.1
"""


def _model_variant(old: str, new: str) -> str:
    assert old in SMALL_MODEL, old
    return SMALL_MODEL.replace(old, new)


BAD_MODELS = {
    "malformed.toml": "name = \n[array",
    "empty.toml": "",
    "binary.toml": bytes(range(256)),
    "latin1.toml": "name = 'caf\xe9'\n".encode("latin-1"),
    "no_source.toml": _model_variant(
        f'file = "{SOURCES / "line_example.toml"}"', 'file = "nope.toml"'
    ),
    "source_dir.toml": _model_variant(f'file = "{SOURCES / "line_example.toml"}"', 'file = "."'),
    "neg_mass.toml": _model_variant("sensor_mass_kg = 1.0", "sensor_mass_kg = -1.0"),
    "zero_sensors.toml": _model_variant("n_sensors = 1", "n_sensors = 0"),
    "nan_live.toml": _model_variant("live_time_yr = 1.0", "live_time_yr = nan"),
    "bad_target.toml": _model_variant('target = "Ge"', 'target = "Xx"'),
    "bad_observable.toml": _model_variant('observable = "keVee"', 'observable = "eV"'),
    "bad_bins.toml": _model_variant("bin_max = 5.5", "bin_max = 0.1"),
    "zero_width.toml": _model_variant("bin_width = 0.5", "bin_width = 0.0"),
    "unknown_key.toml": _model_variant("[array]", "[array]\nbogus_key = 3"),
    "bad_bkg_kind.toml": _model_variant('kind = "steady_state"', 'kind = "cosmic"'),
    "neg_bkg.toml": _model_variant("rate_per_kg_day = 1.0", "rate_per_kg_day = -1.0"),
    "bkg_file_missing.toml": _model_variant(
        'kind = "steady_state"\nrate_per_kg_day = 1.0',
        'kind = "tabulated"\nfile = "missing.csv"\nfile_units = "counts"',
    ),
    "bkg_file_binary.toml": _model_variant(
        'kind = "steady_state"\nrate_per_kg_day = 1.0',
        'kind = "tabulated"\nfile = "binary.dat"\nfile_units = "counts"',
    ),
    "bad_quenching_model.toml": _model_variant('model = "constant"', 'model = "magic"'),
    "neg_quenching.toml": _model_variant("value = 0.2", "value = -0.2"),
    "bad_resolution.toml": _model_variant('model = "gaussian"', 'model = "magic"'),
    "bad_efficiency.toml": _model_variant('model = "step"', 'model = "magic"'),
    "array_not_table.toml": SMALL_MODEL.replace("[array]", "array = 3\n[array_x]"),
    "string_mass.toml": _model_variant("sensor_mass_kg = 1.0", 'sensor_mass_kg = "heavy"'),
}

BAD_DATA = {
    "empty.json": "",
    "not_json.json": "{on: [1, 2]",
    "list.json": "[1, 2, 3]",
    "wrong_bins.json": '{"on": [85, 62, 3], "control": [50, 40]}',
    "negative.json": '{"on": [85, -62], "control": [50, 40]}',
    "fraction.json": '{"on": [85, 62.5], "control": [50, 40]}',
    "nan.json": '{"on": [85, NaN], "control": [50, 40]}',
    "inf.json": '{"on": [85, Infinity], "control": [50, 40]}',
    "missing_channel.json": '{"on": [85, 62]}',
    "strings.json": '{"on": ["a", "b"], "control": [50, 40]}',
    "nested.json": '{"on": [[1], [2]], "control": [50, 40]}',
    "binary.json": bytes(range(256)),
    "huge_number.json": '{"on": [1e400, 2], "control": [50, 40]}',
    "empty.csv": "",
    "header_only.csv": "channel,bin,count\n",
    "garbage.csv": "a;b;c\nx;y;z\n",
    "binary.csv": bytes(range(256)),
}

BAD_WORKSPACES = {
    "ws_empty.json": "",
    "ws_channels_int.json": '{"channels": 3}',
    "ws_no_poi.json": json.dumps(
        {**on_off_spec(), "measurements": [{"name": "m", "config": {"parameters": []}}]}
    ),
    "ws_poi_unknown.json": json.dumps(
        {
            **on_off_spec(),
            "measurements": [{"name": "m", "config": {"poi": "nope", "parameters": []}}],
        }
    ),
    "ws_not_json.json": "not json",
    "ws_binary.json": bytes(range(256)),
    "ws_list.json": "[]",
}


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    _write(root / "good.toml", SMALL_MODEL)
    _write(root / "binary.dat", bytes(range(256)) * 4)
    for name, content in {**BAD_MODELS, **BAD_DATA, **BAD_WORKSPACES}.items():
        _write(root / name, content)
    _write(root / "ws.json", json.dumps(on_off_spec()))
    _write(root / "data.json", json.dumps({"on": [85, 62], "control": [50, 40]}))
    # legal inputs whose fit fails (exit 3): μ would need to exceed its bound of 10, and
    # events where the model predicts none at any parameter values
    _write(root / "huge_signal.json", json.dumps({"on": [700, 700], "control": [50, 40]}))
    empty_bin = on_off_spec(signal=(20.0, 0.0), background=(50.0, 0.0), histosys=False)
    _write(root / "ws_empty_bin.json", json.dumps(empty_bin))
    _write(root / "events_in_empty_bin.json", json.dumps({"on": [70, 3], "control": [50, 0]}))
    (root / "a_folder").mkdir()
    (root / "a_folder.toml").mkdir()
    _write(root / "not_a_scan.jsonl", "this is my lab notebook\n")
    return root


def run_in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# (command line with {placeholders}, expected exit code, text the error line must contain).
# {c} is the corpus folder; {new} an output path that must not exist afterwards.
MODEL_COMMANDS = ("rate", "workspace", "significance", "exposure", "limit", "scan")


def _model_argv(command: str, model: str) -> list[str]:
    extra = {
        "workspace": ["-o", "{new}.json"],
        "scan": ["--vary", "threshold=5,6", "--no-progress", "--workers", "1"],
    }.get(command, [])
    return [command, model, *extra]


CASES: list[tuple[str, list[str], int, str]] = []
# the file named is the one at fault: a binary background table names the table
NAMED = {"bkg_file_binary.toml": "binary.dat"}


def case(case_id: str, argv: list[str], code: int = 2, needle: str = "") -> None:
    CASES.append((case_id, argv, code, needle))


# --- argparse level, every command (its required arguments given, one flag too many)
MINIMAL = {
    "xsec": ["--target", "Ge", "--enu", "30"],
    "ratio-map": ["--target", "CsPbI3", "--reference", "Ge"],
    "resolution": [],
    "spectrum": ["--target", "Ge", "--source", "sns"],
    "rate": ["{c}/good.toml"],
    "workspace": ["{c}/good.toml", "-o", "{new}.json"],
    "significance": ["{c}/good.toml"],
    "exposure": ["{c}/good.toml"],
    "limit": ["{c}/good.toml"],
    "fit": ["{c}/ws.json", "--data", "{c}/data.json"],
    "compare": ["{c}/good.toml"],
    "scan": ["{c}/good.toml", "--vary", "threshold=5"],
}
for cmd, required in MINIMAL.items():
    case(f"{cmd}-unknown-flag", [cmd, *required, "--no-such-flag"], 2, "--no-such-flag")
    if required:
        case(f"{cmd}-missing-arguments", [cmd], 2, "required")
case("no-command-bogus", ["bogus"], 2, "bogus")
case("xsec-missing-enu", ["xsec", "--target", "Ge"], 2, "--enu")
case("xsec-enu-text", ["xsec", "--target", "Ge", "--enu", "thirty"], 2, "--enu")
case("xsec-enu-nan", ["xsec", "--target", "Ge", "--enu", "nan"], 2, "--enu")
case("xsec-enu-inf", ["xsec", "--target", "Ge", "--enu", "inf"], 2, "--enu")
case("xsec-enu-1e300", ["xsec", "--target", "Ge", "--enu", "1e300"], 2, "--enu")
case("xsec-enu-1e400", ["xsec", "--target", "Ge", "--enu", "1e400"], 2, "--enu")
case("xsec-enu-negative", ["xsec", "--target", "Ge", "--enu", "-5"], 2, "--enu")
case("xsec-enu-zero", ["xsec", "--target", "Ge", "--enu", "0"], 2, "--enu")
case(
    "xsec-threshold-nan",
    ["xsec", "--target", "Ge", "--enu", "30", "--threshold", "nan"],
    2,
    "--threshold",
)
case(
    "xsec-threshold-neg",
    ["xsec", "--target", "Ge", "--enu", "30", "--threshold", "-1"],
    2,
    "threshold",
)
case("xsec-bad-formula", ["xsec", "--target", "Xx", "--enu", "30"], 2, "Xx")
case("xsec-formula-paren", ["xsec", "--target", "CsPbI3(", "--enu", "30"], 2, "CsPbI3(")
case("xsec-formula-empty", ["xsec", "--target", "", "--enu", "30"], 2, "")
case(
    "xsec-form-factor",
    ["xsec", "--target", "Ge", "--enu", "30", "--form-factor", "gauss"],
    2,
    "--form-factor",
)
case(
    "xsec-composition-foreign",
    ["xsec", "--target", "Ge", "--enu", "30", "--composition", "Pb:208=1"],
    2,
    "Pb",
)
case(
    "xsec-composition-garbage",
    ["xsec", "--target", "Ge", "--enu", "30", "--composition", "garbage"],
    2,
    "composition",
)
case(
    "xsec-composition-isotope",
    ["xsec", "--target", "Ge", "--enu", "30", "--composition", "Ge:999=1"],
    2,
    "Ge",
)
case(
    "xsec-composition-negative",
    ["xsec", "--target", "Ge", "--enu", "30", "--composition", "Ge:76=-1"],
    2,
    "",
)
case(
    "xsec-sin2-text",
    ["xsec", "--target", "Ge", "--enu", "30", "--sin2-theta-w", "x"],
    2,
    "--sin2-theta-w",
)
# --- ratio-map
RM = ["ratio-map", "--target", "CsPbI3", "--reference", "Ge"]
case("ratio-enu-text", [*RM, "--enu", "a:b"], 2, "--enu")
case("ratio-enu-two-fields", [*RM, "--enu", "1:2"], 2, "--enu")
case("ratio-enu-one-point", [*RM, "--enu", "5:50:1"], 2, "--enu")
case("ratio-enu-negative", [*RM, "--enu", "-5:50:3"], 2, "--enu")
case("ratio-enu-overflow", [*RM, "--enu", "1:1e300:3"], 2, "--enu")
case("ratio-thr-negative", [*RM, "--thresholds", "-1:10:3"], 2, "--thresholds")
case("ratio-thr-text", [*RM, "--thresholds", "x"], 2, "--thresholds")
case("ratio-composition-foreign", [*RM, "--composition", "Xe:132=1"], 2, "Xe")
case("ratio-bad-reference", ["ratio-map", "--target", "Ge", "--reference", "Qq"], 2, "Qq")
case(
    "ratio-out-dir",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "{c}/a_folder"],
    2,
    "--out",
)
case(
    "ratio-out-no-suffix",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "{new}"],
    2,
    "--out",
)
case(
    "ratio-out-missing-dir",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "{c}/no/such/x.png"],
    2,
    "--out",
)
case(
    "ratio-out-dev-full",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "/dev/full"],
    2,
    "--out",
)
case(
    "ratio-out-bad-suffix",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "{new}.toml"],
    2,
    "--out",
)
case(
    "ratio-fig3-dir",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--fig3", "{c}/a_folder"],
    2,
    "--fig3",
)
case(
    "ratio-out-proc",
    [*RM, "--enu", "10:50:3", "--thresholds", "0:10:3", "--out", "/proc/x.png"],
    2,
    "--out",
)
case("ratio-out-empty", [*RM, "--out", ""], 2, "--out")
# --- resolution
case("resolution-level-1e200", ["resolution", "--level", "1e200"], 2, "--level")
case("resolution-level-nan", ["resolution", "--level", "nan"], 2, "--level")
case("resolution-level-zero", ["resolution", "--level", "0"], 2, "--level")
case("resolution-level-negative", ["resolution", "--level", "-50"], 2, "--level")
case("resolution-level-below-floor", ["resolution", "--level", "0.1"], 2, "resolution level")
case("resolution-quenching-2", ["resolution", "--quenching", "2"], 2, "--quenching")
case("resolution-quenching-zero", ["resolution", "--quenching", "0"], 2, "--quenching")
case("resolution-quenching-text", ["resolution", "--quenching", "high"], 2, "--quenching")
case("resolution-out-dir", ["resolution", "--out", "{c}/a_folder"], 2, "--out")
case("resolution-out-no-suffix", ["resolution", "--out", "{new}"], 2, "--out")
case("resolution-out-dev-full", ["resolution", "--out", "/dev/full"], 2, "--out")
case("resolution-out-missing-dir", ["resolution", "--out", "{c}/nope/r.png"], 2, "--out")
case("resolution-out-root-png", ["resolution", "--out", "/"], 2, "--out")
case("resolution-out-trailing-slash", ["resolution", "--out", "{new}/"], 2, "--out")
# --- spectrum
SP = ["spectrum", "--target", "Ge"]
case("spectrum-source-missing", [*SP, "--source", "{c}/nope.toml"], 2, "--source")
case("spectrum-source-dir", [*SP, "--source", "{c}/a_folder"], 2, "a_folder")
case("spectrum-source-binary", [*SP, "--source", "{c}/binary.toml"], 2, "binary.toml")
case("spectrum-source-malformed", [*SP, "--source", "{c}/malformed.toml"], 2, "malformed.toml")
case("spectrum-source-empty", [*SP, "--source", "{c}/empty.toml"], 2, "empty.toml")
case("spectrum-source-preset-typo", [*SP, "--source", "snss"], 2, "snss")
case("spectrum-threshold-nan", [*SP, "--source", "sns", "--threshold", "nan"], 2, "--threshold")
case("spectrum-threshold-neg", [*SP, "--source", "sns", "--threshold", "-3"], 2, "--threshold")
case("spectrum-distance-zero", [*SP, "--source", "sns", "--distance", "0"], 2, "--distance")
case("spectrum-distance-inf", [*SP, "--source", "sns", "--distance", "inf"], 2, "--distance")
case("spectrum-emax-neg", [*SP, "--source", "sns", "--emax", "-1"], 2, "--emax")
case("spectrum-npoints-1", [*SP, "--source", "sns", "--n-points", "1"], 2, "--n-points")
case("spectrum-npoints-text", [*SP, "--source", "sns", "--n-points", "many"], 2, "--n-points")
case("spectrum-npoints-float", [*SP, "--source", "sns", "--n-points", "2.5"], 2, "--n-points")
case("spectrum-out-dir", [*SP, "--source", "sns", "--out", "{c}/a_folder"], 2, "--out")
case("spectrum-out-no-suffix", [*SP, "--source", "sns", "--out", "{new}"], 2, "--out")
case("spectrum-bad-target", ["spectrum", "--target", "Zz", "--source", "sns"], 2, "Zz")
# --- every model command: the model file itself
for cmd in MODEL_COMMANDS:
    case(f"{cmd}-model-missing", _model_argv(cmd, "{c}/nope.toml"), 2, "nope.toml")
    case(f"{cmd}-model-dir", _model_argv(cmd, "{c}/a_folder.toml"), 2, "a_folder.toml")
    case(f"{cmd}-model-malformed", _model_argv(cmd, "{c}/malformed.toml"), 2, "malformed.toml")
    case(f"{cmd}-model-binary", _model_argv(cmd, "{c}/binary.toml"), 2, "binary.toml")
for name in BAD_MODELS:
    if name not in ("malformed.toml", "binary.toml"):
        case(f"significance-{name}", ["significance", f"{{c}}/{name}"], 2, NAMED.get(name, name))
for name in ("neg_mass.toml", "no_source.toml", "bkg_file_binary.toml", "latin1.toml"):
    for cmd in ("rate", "exposure", "limit", "compare"):
        case(f"{cmd}-{name}", [cmd, f"{{c}}/{name}"], 2, NAMED.get(name, name))
# --- exposure-like options
for cmd in ("rate", "workspace", "significance", "exposure", "limit"):
    for bad in ("0", "-1", "nan", "inf", "lots"):
        argv = _model_argv(cmd, "{c}/good.toml") + ["--exposure", bad]
        case(f"{cmd}-exposure-{bad}", argv, 2, "--exposure")
for bad in ("0", "-1", "nan", "inf"):
    case(f"exposure-sigma-{bad}", ["exposure", "{c}/good.toml", "--sigma", bad], 2, "--sigma")
for bad in ("0", "1", "1.5", "-0.9", "nan", "0.4"):
    case(f"limit-cl-{bad}", ["limit", "{c}/good.toml", "--cl", bad], 2, "--cl")
case(
    "significance-seed-negative",
    ["significance", "{c}/good.toml", "--method", "toys", "--seed", "-1"],
    2,
    "--seed",
)
case("significance-seed-text", ["significance", "{c}/good.toml", "--seed", "x"], 2, "--seed")
case("significance-toys-zero", ["significance", "{c}/good.toml", "--toys", "0"], 2, "--toys")
case("significance-toys-negative", ["significance", "{c}/good.toml", "--toys", "-5"], 2, "--toys")
case("significance-method", ["significance", "{c}/good.toml", "--method", "bayes"], 2, "--method")
case(
    "significance-exact-multibin",
    ["significance", "{c}/good.toml", "--method", "exact"],
    2,
    "exact",
)
# --- --data for the model commands
for name in (
    "empty.json",
    "not_json.json",
    "binary.json",
    "a_folder",
    "nope.json",
    "garbage.csv",
    "empty.csv",
):
    for cmd in ("significance", "limit"):
        case(f"{cmd}-data-{name}", [cmd, "{c}/good.toml", "--data", f"{{c}}/{name}"], 2, name)
# --- workspace outputs
for out, needle in (
    ("{c}/a_folder", "--out"),
    ("/dev/full", "--out"),
    ("{c}/no/such/ws.json", "--out"),
    ("/proc/ws.json", "--out"),
    ("", "--out"),
):
    case(
        f"workspace-out-{out.strip('/{}').replace('/', '_') or 'empty'}",
        ["workspace", "{c}/good.toml", "-o", out],
        2,
        needle,
    )
case("workspace-missing-out", ["workspace", "{c}/good.toml"], 2, "-o")
# --- fit
case("fit-missing-data-flag", ["fit", "{c}/ws.json"], 2, "--data")
case("fit-model-missing", ["fit", "{c}/nope.json", "--data", "{c}/data.json"], 2, "nope.json")
case("fit-data-missing", ["fit", "{c}/ws.json", "--data", "{c}/nope.json"], 2, "nope.json")
case("fit-data-dir-for-ws", ["fit", "{c}/ws.json", "--data", "{c}/a_folder"], 2, "a_folder")
for name in BAD_DATA:
    if name.endswith(".json"):
        case(f"fit-data-{name}", ["fit", "{c}/ws.json", "--data", f"{{c}}/{name}"], 2, name)
for name in BAD_WORKSPACES:
    case(f"fit-workspace-{name}", ["fit", f"{{c}}/{name}", "--data", "{c}/data.json"], 2, name)
case(
    "fit-out-dir",
    ["fit", "{c}/ws.json", "--data", "{c}/data.json", "--out", "{c}/a_folder"],
    2,
    "--out",
)
case(
    "fit-out-dev-full",
    ["fit", "{c}/ws.json", "--data", "{c}/data.json", "--out", "/dev/full"],
    2,
    "--out",
)
case(
    "fit-out-no-suffix",
    ["fit", "{c}/ws.json", "--data", "{c}/data.json", "--out", "{new}"],
    2,
    "--out",
)
case(
    "fit-mu-beyond-its-bound",
    ["fit", "{c}/ws.json", "--data", "{c}/huge_signal.json"],
    3,
    "mu at its upper bound 10",
)
case(
    "fit-events-where-none-predicted",
    ["fit", "{c}/ws_empty_bin.json", "--data", "{c}/events_in_empty_bin.json"],
    3,
    "bin(s) [1]",
)
case("fit-model-binary", ["fit", "{c}/binary.toml", "--data", "{c}/data.json"], 2, "binary.toml")
# --- compare
case("compare-no-models", ["compare"], 2, "MODEL")
case("compare-missing", ["compare", "{c}/good.toml", "{c}/nope.toml"], 2, "nope.toml")
case("compare-workers-negative", ["compare", "{c}/good.toml", "--workers", "-1"], 2, "--workers")
case("compare-workers-zero", ["compare", "{c}/good.toml", "--workers", "0"], 2, "--workers")
case(
    "compare-ref-exposure-zero",
    ["compare", "{c}/good.toml", "--reference-exposure", "0"],
    2,
    "--reference-exposure",
)
case(
    "compare-ref-exposure-nan",
    ["compare", "{c}/good.toml", "--reference-exposure", "nan"],
    2,
    "--reference-exposure",
)
case("compare-out-is-file", ["compare", "{c}/good.toml", "--out", "{c}/data.json"], 2, "--out")
case("compare-out-dev-full", ["compare", "{c}/good.toml", "--out", "/dev/full"], 2, "--out")
case("compare-out-proc", ["compare", "{c}/good.toml", "--out", "/proc/newdir"], 2, "--out")
case(
    "compare-thresholds-text",
    ["compare", "{c}/good.toml", "{c}/good.toml", "--thresholds", "x"],
    2,
    "--vary",
)
# --- scan
SC = ["scan", "{c}/good.toml", "--no-progress", "--workers", "1"]
case("scan-no-vary", ["scan", "{c}/good.toml"], 2, "--vary")
# map: two axes of one model against another
MP = ["map", "{c}/good.toml", "{c}/good.toml"]
case("map-one-vary", [*MP, "--vary", "threshold=1:2:2"], 2, "exactly two")
case("map-same-axis", [*MP, "--vary", "threshold=1:2:2", "--vary", "threshold=3,4"], 2, "twice")
case("map-vary-name", [*MP, "--vary", "bogus=1:2:2", "--vary", "mass=1,2"], 2, "--vary")
case(
    "map-missing-model",
    ["map", "{c}/nowhere.toml", "{c}/good.toml", "--vary", "mass=1,2", "--vary", "background=1,2"],
    2,
    "nowhere.toml",
)
case(
    "map-sigma-zero",
    [*MP, "--vary", "mass=1,2", "--vary", "background=1,2", "--sigma", "0"],
    2,
    "--sigma",
)
case(
    "map-reference",
    [*MP, "--vary", "mass=1,2", "--vary", "background=1,2", "--reference", "x"],
    2,
    "--reference",
)
# measure: profile-likelihood scans of physics parameters
ME = ["measure", "{c}/good.toml", "--expected"]
case("measure-no-poi", ["measure", "{c}/good.toml", "--expected"], 2, "--poi")
case("measure-unknown-poi", [*ME, "--poi", "bogus=0:1:3"], 2, "bogus")
case("measure-bad-grid", [*ME, "--poi", "sin2_theta_w=0.1:0.5"], 2, "--poi")
case("measure-grid-text", [*ME, "--poi", "sin2_theta_w=a:b:3"], 2, "--poi")
case(
    "measure-missing-model",
    ["measure", "{c}/nowhere.toml", "--expected", "--poi", "sin2_theta_w=0.1:0.5:3"],
    2,
    "nowhere.toml",
)
case(
    "measure-data-and-expected",
    [*ME, "--data", "{c}/good.toml", "--poi", "sin2_theta_w=0.1:0.5:3"],
    2,
    "--expected",
)
# models: the list of shipped models
case("models-kind", ["models", "--kind", "bogus"], 2, "--kind")
case("models-extra-argument", ["models", "extra"], 2, "extra")
case("scan-vary-name", [*SC, "--vary", "bogus=1:2:2"], 2, "--vary")
case("scan-vary-no-equals", [*SC, "--vary", "threshold"], 2, "--vary")
case("scan-vary-text", [*SC, "--vary", "mass=1:x:3"], 2, "--vary")
case("scan-vary-negative-mass", [*SC, "--vary", "mass=-1,2"], 2, "--vary")
case("scan-vary-zero-exposure", [*SC, "--vary", "exposure=0:1:3"], 2, "--vary")
case("scan-vary-nan", [*SC, "--vary", "threshold=nan"], 2, "--vary")
case("scan-vary-zero-points", [*SC, "--vary", "threshold=1:2:0"], 2, "--vary")
case("scan-vary-twice", [*SC, "--vary", "threshold=1,2", "--vary", "threshold=3"], 2, "twice")
case("scan-executor", [*SC, "--vary", "threshold=5", "--executor", "mpi"], 2, "--executor")
case("scan-workers-negative", [*SC[:2], "--vary", "threshold=5", "--workers", "-1"], 2, "--workers")
case("scan-workers-zero", [*SC[:2], "--vary", "threshold=5", "--workers", "0"], 2, "--workers")
for bad in ("0", "-1", "nan", "inf", "x"):
    case(f"scan-sigma-{bad}", [*SC, "--vary", "threshold=5", "--sigma", bad], 2, "--sigma")
case("scan-out-dir", [*SC, "--vary", "threshold=5", "--out", "{c}/a_folder"], 2, "--out")
case("scan-out-dev-full", [*SC, "--vary", "threshold=5", "--out", "/dev/full"], 2, "--out")
case(
    "scan-out-missing-dir",
    [*SC, "--vary", "threshold=5", "--out", "{c}/no/such/s.jsonl"],
    2,
    "--out",
)
case("scan-out-proc", [*SC, "--vary", "threshold=5", "--out", "/proc/s.jsonl"], 2, "--out")
case(
    "scan-out-model-file",
    [*SC, "--vary", "threshold=5", "--out", "{c}/good.toml"],
    2,
    "not a scan results file",
)
case(
    "scan-out-notebook",
    [*SC, "--vary", "threshold=5", "--out", "{c}/not_a_scan.jsonl"],
    2,
    "not a scan results file",
)
case(
    "scan-dask-unreachable",
    [*SC, "--vary", "threshold=5", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"],
    2,
    "--scheduler",
)
case(
    "scan-dask-bad-address",
    [*SC, "--vary", "threshold=5", "--executor", "dask", "--scheduler", "nonsense::"],
    2,
    "--scheduler",
)


@pytest.mark.parametrize("argv, code, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(corpus, tmp_path, capsys, argv, code, needle):
    new = tmp_path / "output"
    before = set(corpus.iterdir())
    argv = [a.replace("{c}", str(corpus)).replace("{new}", str(new)) for a in argv]
    got, out, err = run_in_process(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code, (got, err)
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert out == ""
    # nothing left behind: no new output, no temporary files, the corpus untouched
    assert list(tmp_path.iterdir()) == []
    assert set(corpus.iterdir()) == before


def test_the_corpus_is_large_and_covers_every_command():
    from cevns_fit.cli import COMMAND_MODULES

    assert len(CASES) >= 150
    commands = {c[1][0] for c in CASES}
    assert {m.replace("_", "-") for m in COMMAND_MODULES} <= commands


def test_corpus_files_are_left_as_they_were(corpus):
    assert (corpus / "good.toml").read_text() == SMALL_MODEL
    assert (corpus / "not_a_scan.jsonl").read_text() == "this is my lab notebook\n"
    assert not any(p.name.startswith(".") for p in corpus.iterdir())
    assert os.access(corpus, os.W_OK)
