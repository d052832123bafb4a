"""Shared fixtures: run the CLI in-process or as a subprocess, and locate shipped models.

Tolerances (enforced by tests/test_tolerances_are_relative.py): every ``pytest.approx`` passes
``abs=`` and every ``np.allclose``/``np.isclose`` passes ``atol=``. Their defaults (1e-12 and
1e-8) are larger than a cross-section in cm² or a rate per nucleus, so a defaulted comparison
cannot fail: ``0.0 == pytest.approx(2.07e-38, rel=2e-3)`` is True. Write
``pytest.approx(x, rel=r, abs=0)`` (or compare ratios) for physical quantities; note that
``approx(x, abs=a)`` without ``rel=`` drops the relative tolerance entirely.
``np.testing.assert_allclose`` already defaults to ``atol=0``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture
def models_dir() -> Path:
    return MODELS


# Shipped models loaded once per run (DetectorModel is frozen: tests cannot change them).
@pytest.fixture(scope="session")
def cspbi3():
    from cevns_fit.detector import load_detector_model

    return load_detector_model(MODELS / "detectors" / "cspbi3_array.toml")


@pytest.fixture(scope="session")
def coherent():
    from cevns_fit.detector import load_detector_model

    return load_detector_model(MODELS / "detectors" / "coherent_csi_2017.toml")


def write_edited_model(
    tmp_path: Path, name: str, *edits: tuple[str, str], filename: str = "model.toml"
) -> Path:
    """A shipped detector model written to ``tmp_path`` with each (old, new) text replaced,
    its source referenced by absolute path so the copy loads from anywhere. Every ``old``
    must occur: an edit that matches nothing would silently test the unedited model."""
    text = (MODELS / "detectors" / f"{name}.toml").read_text(encoding="utf-8")
    sns = (MODELS / "sources" / "sns.toml").as_posix()
    text = text.replace('"../sources/sns.toml"', f'"{sns}"')
    for old, new in edits:
        assert old in text, f"{name}.toml has no {old!r}"
        text = text.replace(old, new)
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def run_cli():
    """Run ``cevns-fit ARGS`` in a subprocess; returns (exit code, stdout, stderr)."""

    def _run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "cevns_fit", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd or ROOT,
        )
        return proc.returncode, proc.stdout, proc.stderr

    return _run


@pytest.fixture
def cli_json(run_cli):
    """Run ``cevns-fit ARGS --json`` and parse its single JSON object (asserting exit 0)."""

    def _run(*args: str) -> dict:
        code, out, err = run_cli(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    return _run


def assert_clean_input_error(code: int, out: str, err: str, *needles: str) -> None:
    """A user mistake: exit 2, one line on stderr naming the input, no traceback."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def cli_main(capsys):
    """Run ``cevns_fit.cli.main(ARGS)`` in this process (no interpreter start-up, ~10× faster
    than :func:`run_cli`); returns (exit code, stdout, stderr)."""
    from cevns_fit.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's --version, --help and usage errors
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return _run


def plain_q0(workspace: dict, data=None, *, asimov_pars=None) -> float:
    """Plain pyhf's discovery q0 (two minuit fits) on ``data`` (main bins, nominal auxiliary
    data) or, with ``asimov_pars`` (pyhf's parameter order), on pyhf's own Asimov data."""
    import numpy as np

    from cevns_fit.likelihood import pyhf_backend, pyhf_model

    with pyhf_backend() as pyhf:
        model, _ = pyhf_model(workspace)
        if asimov_pars is not None:
            full = model.expected_data(asimov_pars(model))
        else:
            full = np.concatenate([data, model.config.auxdata])
        return float(
            pyhf.infer.test_statistics.q0(
                0.0,
                full,
                model,
                model.config.suggested_init(),
                model.config.suggested_bounds(),
                model.config.suggested_fixed(),
            )
        )
