"""Shipped models are installed with the package and found by name from any folder."""

from __future__ import annotations

import json
import shutil

import pytest

from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.registry import (
    data_set_path,
    detector_path,
    load_model,
    models_dir,
    shipped_models,
    source_path,
)
from tests.conftest import MODELS

CONTRACT = {  # DESIGN.md §3: these names are part of the public interface
    ("detector", "cspbi3_array"),
    ("detector", "ge_array"),
    ("detector", "coherent_csi_2017"),
    ("source", "sns"),
    ("source", "reactor"),
    ("data", "coherent_csi_2017"),
}


def test_every_repository_model_file_is_listed_once():
    listed = {(m.kind, m.name) for m in shipped_models()}
    assert CONTRACT <= listed
    on_disk = {("detector", p.stem) for p in (MODELS / "detectors").glob("*.toml")}
    on_disk |= {("source", p.stem) for p in (MODELS / "sources").glob("*.toml")}
    on_disk |= {("data", p.name) for p in (MODELS / "data").iterdir() if p.is_dir()}
    assert listed == on_disk
    assert len(shipped_models()) == len(listed)


def test_the_installed_models_are_the_repository_files():
    # the editable install maps cevns_fit.models onto models/, not onto a stale copy
    assert (models_dir() / "detectors" / "ge_array.toml").read_bytes() == (
        MODELS / "detectors" / "ge_array.toml"
    ).read_bytes()


def test_descriptions_come_from_the_files():
    by_name = {(m.kind, m.name): m for m in shipped_models()}
    assert "CsPbI3" in by_name["detector", "cspbi3_array"].description
    assert "SNS" in by_name["source", "sns"].description
    assert "COHERENT" in by_name["data", "coherent_csi_2017"].description


def test_names_and_files_resolve_to_the_same_model():
    by_name, by_file = load_model("ge_array"), load_model(MODELS / "detectors" / "ge_array.toml")
    assert by_name.path.samefile(by_file.path)
    assert _rate(by_name) == _rate(by_file)
    assert source_path("sns").samefile(MODELS / "sources" / "sns.toml")
    assert data_set_path("coherent_csi_2017").samefile(MODELS / "data" / "coherent_csi_2017")


@pytest.mark.parametrize("text", ["ge", "ge_array.toml", "models/ge_array", ""])
def test_unknown_names_list_what_is_shipped(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="shipped: coherent_csi_2017, cspbi3_array, ge_array"):
        detector_path(text)


def _rate(model) -> float:
    from cevns_fit.templates import build_templates

    templates = build_templates(model)
    return float(templates.channels[0].sample(templates.signal_sample).counts.sum())


def test_a_model_copied_elsewhere_keeps_its_shipped_source(tmp_path):
    copy = tmp_path / "mine.toml"
    shutil.copy(MODELS / "detectors" / "ge_array.toml", copy)
    assert 'file = "../sources/sns.toml"' in copy.read_text()
    model = load_detector_model(copy)
    assert model.source_path.samefile(MODELS / "sources" / "sns.toml")
    assert _rate(model) == _rate(load_model("ge_array"))


def test_a_model_may_name_a_source_preset_and_a_local_file_wins(tmp_path):
    text = (MODELS / "detectors" / "ge_array.toml").read_text()
    by_name = tmp_path / "by_name.toml"
    by_name.write_text(text.replace('file = "../sources/sns.toml"', 'file = "sns"'))
    assert load_detector_model(by_name).source.name == "SNS"
    # a local file of the same name shadows the shipped one
    sns = (MODELS / "sources" / "sns.toml").read_text()
    (tmp_path / "sns.toml").write_text(sns.replace('name = "SNS"', 'name = "my SNS"'))
    local = tmp_path / "local.toml"
    local.write_text(text.replace('file = "../sources/sns.toml"', 'file = "sns.toml"'))
    assert load_detector_model(local).source.name == "my SNS"


def test_an_unknown_source_names_the_key_and_the_shipped_sources(tmp_path):
    text = (MODELS / "detectors" / "ge_array.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('file = "../sources/sns.toml"', 'file = "snss"'))
    with pytest.raises(InputError, match=r"key 'source.file' = 'snss'.*shipped: csns, ess"):
        load_detector_model(bad)


def test_models_command_lists_one_line_each_and_json(run_cli, tmp_path):
    code, out, _ = run_cli("models", cwd=tmp_path)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(shipped_models())
    assert any(line.split()[:2] == ["detector", "cspbi3_array"] for line in lines)
    code, out, _ = run_cli("models", "--json", "--kind", "source", cwd=tmp_path)
    models = json.loads(out)["models"]
    assert {m["kind"] for m in models} == {"source"}
    assert set(models[0]) == {"name", "kind", "path", "description"}


def test_commands_take_shipped_names_from_any_folder(run_cli, tmp_path):
    code, out, err = run_cli("rate", "ge_array", "--json", cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["signal_events"] > 0
    code, out, err = run_cli(
        "spectrum", "--target", "Ge", "--source", "sns", "--json", cwd=tmp_path
    )
    assert code == 0, err
    code, _, err = run_cli("rate", "no_such_model", cwd=tmp_path)
    assert code == 2 and "shipped:" in err and "Traceback" not in err
