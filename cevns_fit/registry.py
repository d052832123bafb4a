"""The shipped models by name: detectors, sources and data sets installed with the package.

The repository keeps the model files at ``models/detectors/*.toml``, ``models/sources/*.toml``
and ``models/data/<name>/`` (DESIGN.md §3); the package installs them as the package data of
``cevns_fit.models`` (editable or not), so they are found with :mod:`importlib.resources`,
never relative to the current folder.

What to use when:

* :func:`shipped_models` lists what is installed (``cevns-fit models``).
* :func:`detector_path` / :func:`source_path` turn what a user typed (a file, or a shipped
  model's name such as ``cspbi3_array`` or ``sns``) into a file, or raise
  :class:`~cevns_fit.errors.InputError` naming the shipped names.
* :func:`source_file_for_model` resolves a detector model's ``[source] file``: a path relative
  to the model file, else a shipped source of that name (``"sns"``) or file name
  (``"../sources/sns.toml"`` from a model copied to another folder).
* :func:`load_model` / :func:`load_source_model` load either by name or by path.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from cevns_fit.errors import InputError

if TYPE_CHECKING:  # the loaders import this module; import them back only when called
    from cevns_fit.detector import DetectorModel
    from cevns_fit.sources import Source

__all__ = [
    "KINDS",
    "ShippedModel",
    "data_set_path",
    "detector_path",
    "load_model",
    "load_source_model",
    "models_dir",
    "shipped_models",
    "source_file_for_model",
    "source_path",
]

KINDS = ("detector", "source", "data")
_FOLDERS = {"detector": "detectors", "source": "sources", "data": "data"}


@dataclass(frozen=True)
class ShippedModel:
    """One installed model: its ``name`` (what commands accept), ``kind`` (``detector``,
    ``source`` or ``data``), ``path`` on disk and one-line ``description``."""

    name: str
    kind: str
    path: Path
    description: str

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": str(self.path),
            "description": self.description,
        }


def models_dir() -> Path:
    """The folder holding ``detectors/``, ``sources/`` and ``data/`` of the installed package."""
    return Path(str(importlib.resources.files("cevns_fit.models")))


def _toml_description(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "(unreadable)"
    return str(data.get("description", data.get("name", "")))


def _data_description(folder: Path) -> str:
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.strip():
                return line.lstrip("# ").strip()
    return ""


@cache
def _scan(root: Path) -> tuple[ShippedModel, ...]:
    found = []
    for kind in ("detector", "source"):
        for path in sorted((root / _FOLDERS[kind]).glob("*.toml")):
            found.append(ShippedModel(path.stem, kind, path, _toml_description(path)))
    for folder in sorted(p for p in (root / "data").iterdir() if p.is_dir()):
        if not folder.name.startswith(("_", ".")):
            found.append(ShippedModel(folder.name, "data", folder, _data_description(folder)))
    return tuple(found)


def shipped_models(kind: str | None = None) -> list[ShippedModel]:
    """The installed models, detectors then sources then data sets, each sorted by name;
    only those of ``kind`` if given."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"model kind {kind!r}: must be one of {', '.join(KINDS)}")
    return [m for m in _scan(models_dir()) if kind is None or m.kind == kind]


def _names(kind: str) -> str:
    return ", ".join(m.name for m in shipped_models(kind))


def _shipped(kind: str, name: str) -> Path | None:
    for m in shipped_models(kind):
        if m.name == name:
            return m.path
    return None


def _looks_like_name(text: str) -> bool:
    return "/" not in text and "\\" not in text and Path(text).suffix == ""


def _file_or_shipped(kind: str, text: str | Path) -> Path:
    path = Path(text)
    if path.is_file():
        return path
    if _looks_like_name(str(text)):
        shipped = _shipped(kind, str(text))
        if shipped is not None:
            return shipped
    raise InputError(
        f"{kind} model {text}: no such file and no shipped {kind} of that name "
        f"(shipped: {_names(kind)})"
    )


def detector_path(text: str | Path) -> Path:
    """A detector model file: ``text`` itself if it is a file, else the shipped detector of that
    name (``cspbi3_array``). Anything else is an :class:`InputError` listing the shipped names."""
    return _file_or_shipped("detector", text)


def source_path(text: str | Path) -> Path:
    """A source model file: ``text`` itself if it is a file, else the shipped source of that
    name (``sns``, ``reactor``)."""
    return _file_or_shipped("source", text)


def data_set_path(text: str | Path) -> Path:
    """Measured data: ``text`` itself if it exists, else the shipped data set of that name
    (``coherent_csi_2017``), else ``Path(text)`` unchanged for the caller to report."""
    path = Path(text)
    if not path.exists() and _looks_like_name(str(text)):
        return _shipped("data", str(text)) or path
    return path


def source_file_for_model(text: str, model_path: Path) -> Path | None:
    """The source file a detector model's ``[source] file = text`` means, or ``None``.

    In order: a file at ``text`` relative to the model file's folder; a shipped source named
    ``text`` (``"sns"``); a shipped source with ``text``'s file name, so that a shipped model
    copied elsewhere (``file = "../sources/sns.toml"``) still finds its source."""
    local = (model_path.parent / text).resolve()
    if local.is_file():
        return local
    if _looks_like_name(text):
        return _shipped("source", text)
    if Path(text).suffix == ".toml":
        return _shipped("source", Path(text).stem)
    return None


def load_model(name_or_path: str | Path) -> DetectorModel:
    """Load and validate a detector model given by file or by shipped name.

    >>> load_model("ge_array").target.formula
    'Ge'
    """
    from cevns_fit.detector import load_detector_model

    return load_detector_model(detector_path(name_or_path))


def load_source_model(name_or_path: str | Path) -> Source:
    """Load and validate a source model given by file or by shipped name (``"sns"``)."""
    from cevns_fit.sources import load_source

    return load_source(source_path(name_or_path))
