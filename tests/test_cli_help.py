"""Help a user can read: every option explained, no reST markup, quiet broken pipes."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from cevns_fit.cli import COMMAND_MODULES, build_parser
from tests.conftest import ROOT


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_module_is_a_command():
    assert set(_subparsers()) == {m.replace("_", "-") for m in COMMAND_MODULES}


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_has_help_and_no_rest_markup(command):
    parser = _subparsers()[command]
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings or action.dest}: no help"
    text = parser.format_help()
    assert not re.search(r"``|:(mod|func|class|meth|attr):`", text), text


@pytest.mark.parametrize(
    ("command", "option", "unit"),
    [
        ("xsec", "--enu", "[MeV]"),
        ("xsec", "--threshold", "[keVnr]"),
        ("scan", "--vary", "threshold [keVnr"),
        ("scan", "--vary", "exposure [kg·yr]"),
        ("scan", "--vary", "mass [kg]"),
        ("compare", "--thresholds", "[keVnr]"),
        ("compare", "--reference-exposure", "[kg·yr]"),
        ("spectrum", "--distance", "[m]"),
        ("rate", "--exposure", "[kg·yr]"),
    ],
)
def test_options_with_a_quantity_name_its_unit(command, option, unit):
    parser = _subparsers()[command]
    (action,) = [a for a in parser._actions if option in a.option_strings]
    assert unit in " ".join(action.help.split())


def test_a_closed_pipe_ends_quietly():
    # `cevns-fit models | head -1`: the reader leaves after one line
    with subprocess.Popen(
        [sys.executable, "-m", "cevns_fit", "models"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        proc.stdout.close()  # nobody reads: the first write meets a closed pipe
        err = proc.stderr.read().decode()
        proc.wait()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 141


def test_building_the_parser_imports_nothing_heavy():
    # the structure behind a fast `cevns-fit --help` (timed in benchmarks/bench_startup.py)
    code = (
        "import sys; from cevns_fit.cli import build_parser; build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'scipy', 'pyhf', 'matplotlib', 'dask', 'periodictable'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_form_factor_choices_are_the_library_s():
    from cevns_fit.cli.xsec import FORM_FACTOR_NAMES
    from cevns_fit.form_factors import FORM_FACTORS

    assert tuple(FORM_FACTORS) == FORM_FACTOR_NAMES


def test_every_option_of_every_command_appears_in_some_test():
    """A standing check of issue 16's "every CLI option exercised": each long option of each
    command occurs in a test file other than this one (a new option without a test fails)."""
    here = __file__
    texts = "\n".join(
        p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "tests").glob("*.py"))
        if str(p) != here
    )
    missing = [
        f"{command} {option}"
        for command, parser in _subparsers().items()
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help" and option not in texts
    ]
    assert not missing, f"options no test uses: {missing}"
