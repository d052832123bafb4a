"""The wheel carries the models: installed (not editable) into a fresh environment, the
README's main job runs by model name from a folder that is not the repository.

Nothing is downloaded: the wheel is built with this environment's setuptools and installed
with ``--no-deps --no-index``; the new environment sees this one's dependencies (numpy, pyhf,
...) through a ``.pth`` file but not its editable ``cevns_fit``.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
import zipfile

import pytest

from tests.conftest import MODELS, ROOT

pytestmark = pytest.mark.slow  # ~1 min: a build, an install and the README's comparison


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--wheel-dir", out, ROOT],
        cwd=out,
    )
    (path,) = out.glob("cevns_fit-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    parent = [p for p in site.getsitepackages() if os.path.isdir(p)]
    with open(os.path.join(purelib, "_parent_env.pth"), "w") as fh:
        fh.write("\n".join(parent) + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
        + ["--no-deps", "--no-index", wheel]
    )
    return env_dir


def test_the_wheel_contains_every_model_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in MODELS.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(MODELS).as_posix()
            assert f"cevns_fit/models/{rel}" in names, rel


def test_readme_main_job_by_name_outside_the_repository(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    exe = installed / "bin" / "cevns-fit"
    where = _run(
        [installed / "bin" / "python", "-c", "import cevns_fit; print(cevns_fit.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert str(installed) in where.stdout  # the wheel, not the editable checkout
    listing = json.loads(_run([exe, "models", "--json"], cwd=tmp_path, env=env).stdout)
    assert {"cspbi3_array", "ge_array", "sns"} <= {m["name"] for m in listing["models"]}
    proc = _run(
        [exe, "compare", "cspbi3_array", "ge_array", "--out", "results", "--no-progress", "--json"],
        cwd=tmp_path,
        env=env,
    )
    result = json.loads(proc.stdout)
    assert [d["name"] for d in result["detectors"]] == ["cspbi3_array", "ge_array"]
    assert all(d["exposure_kg_yr_5sigma"] > 0 for d in result["detectors"])
    for name in ("compare.json", "compare.txt", "exposure_vs_threshold.png", "z_vs_exposure.png"):
        assert (tmp_path / "results" / name).stat().st_size > 0
