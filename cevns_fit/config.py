"""Configuration validated once, at the edge; errors name the file, the key and what is allowed.

Model files (sources, detectors) are TOML. Their loaders wrap each table in a
:class:`ConfigTable` and ask it for typed values: ``number``, ``integer``, ``string``,
``boolean``, ``numbers``, ``table``, ``file``. Each check that fails raises
:class:`~cevns_fit.errors.InputError` with one line such as::

    models/detectors/ge.toml: key 'array.sensor_mass_kg' = -0.001: must be > 0

so the CLI can report it (exit code 2) without a traceback. Sub-tables carry their dotted
prefix (``array.``, ``backgrounds[0].``), so a message always names the full key. Everything
downstream of a loader trusts the values it returns.

What to use when:

* ``number(key)`` / ``string(key)`` — a required value; give a ``default`` to make it optional
  with that value; ``optional_number`` / ``optional_string`` return ``None`` when absent.
* ``allow(keys)`` — reject unknown keys (typos) naming the allowed ones.
* ``table(key)`` — a sub-table; ``optional_table`` returns ``None`` when absent.
* ``file(key)`` — a path relative to the model file that must exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cevns_fit.errors import InputError

__all__ = ["ConfigTable"]


class ConfigTable:
    """Typed access to one TOML table of the file ``path``, errors naming the file and the key.

    ``prefix`` is the dotted path of this table inside the file (``""`` for the top level,
    ``"array."`` for ``[array]``); it is prepended to every key named in an error.
    """

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = ""):
        self.path, self.data, self.prefix = path, data, prefix

    def where(self, key: str) -> str:
        """``"<file>: key '<prefix><key>'"``, the start of every error message about ``key``."""
        return f"{self.path}: key '{self.prefix}{key}'"

    def has(self, key: str) -> bool:
        return key in self.data

    def allow(self, allowed: tuple[str, ...]) -> None:
        """Reject any key not in ``allowed`` (a misspelt key must not be silently ignored)."""
        extra = sorted(set(self.data) - set(allowed))
        if extra:
            raise InputError(
                f"{self.path}: unknown key '{self.prefix}{extra[0]}' "
                f"(allowed: {', '.join(allowed)})"
            )

    def _check_number(
        self, key: str, *, positive: bool, nonneg: bool, maximum: float | None
    ) -> float:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{self.where(key)} = {value!r}: must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{self.where(key)} = {value!r}: must be a finite number")
        if positive and value <= 0:
            raise InputError(f"{self.where(key)} = {value!r}: must be > 0")
        if nonneg and value < 0:
            raise InputError(f"{self.where(key)} = {value!r}: must be >= 0")
        if maximum is not None and value > maximum:
            raise InputError(f"{self.where(key)} = {value!r}: must be <= {maximum}")
        return value

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        positive: bool = False,
        nonneg: bool = False,
        maximum: float | None = None,
    ) -> float:
        """A finite number (``positive``: > 0, ``nonneg``: >= 0, ``maximum``: <= it); required
        unless a ``default`` is given."""
        if key not in self.data:
            if default is None:
                raise InputError(f"{self.where(key)} is missing (a number is required)")
            return default
        return self._check_number(key, positive=positive, nonneg=nonneg, maximum=maximum)

    def optional_number(
        self,
        key: str,
        *,
        positive: bool = False,
        nonneg: bool = False,
        maximum: float | None = None,
    ) -> float | None:
        """Like :meth:`number`, but ``None`` when the key is absent."""
        if key not in self.data:
            return None
        return self._check_number(key, positive=positive, nonneg=nonneg, maximum=maximum)

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int = 1,
        maximum: int | None = None,
    ) -> int:
        """An integer >= ``minimum`` (and <= ``maximum``); required unless a ``default`` is
        given."""
        if key not in self.data:
            if default is None:
                raise InputError(
                    f"{self.where(key)} is missing (an integer >= {minimum} is required)"
                )
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(f"{self.where(key)} = {value!r}: must be an integer >= {minimum}")
        if maximum is not None and value > maximum:
            raise InputError(f"{self.where(key)} = {value!r}: must be an integer <= {maximum}")
        return int(value)

    def _check_string(self, key: str, allowed: tuple[str, ...] | None) -> str:
        value = self.data[key]
        if not isinstance(value, str):
            raise InputError(f"{self.where(key)} = {value!r}: must be a string")
        if allowed is not None and value not in allowed:
            raise InputError(f"{self.where(key)} = {value!r}: allowed are {', '.join(allowed)}")
        return value

    def string(
        self, key: str, default: str | None = None, allowed: tuple[str, ...] | None = None
    ) -> str:
        """A string, one of ``allowed`` if given; required unless a ``default`` is given."""
        if key not in self.data:
            if default is None:
                hint = f" (allowed: {', '.join(allowed)})" if allowed else " (a string is required)"
                raise InputError(f"{self.where(key)} is missing{hint}")
            return default
        return self._check_string(key, allowed)

    def optional_string(self, key: str, allowed: tuple[str, ...] | None = None) -> str | None:
        """Like :meth:`string`, but ``None`` when the key is absent."""
        if key not in self.data:
            return None
        return self._check_string(key, allowed)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise InputError(f"{self.where(key)} = {value!r}: must be true or false")
        return value

    def numbers(self, key: str, *, min_length: int = 1, increasing: bool = False) -> np.ndarray:
        """A list of at least ``min_length`` finite numbers (strictly increasing if asked)."""
        value = self.data.get(key)
        if (
            not isinstance(value, list)
            or len(value) < min_length
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise InputError(f"{self.where(key)}: must be a list of at least {min_length} numbers")
        arr = np.array(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{self.where(key)}: values must be finite")
        if increasing and np.any(np.diff(arr) <= 0):
            raise InputError(f"{self.where(key)}: values must be strictly increasing")
        return arr

    def table(self, key: str) -> ConfigTable:
        """The required sub-table ``[prefix.key]``."""
        if key not in self.data:
            raise InputError(
                f"{self.where(key)} is missing (a table [{self.prefix}{key}] is required)"
            )
        value = self.data[key]
        if not isinstance(value, dict):
            raise InputError(f"{self.where(key)}: must be a table ([{self.prefix}{key}])")
        return ConfigTable(self.path, value, f"{self.prefix}{key}.")

    def optional_table(self, key: str) -> ConfigTable | None:
        """Like :meth:`table`, but ``None`` when the key is absent."""
        return self.table(key) if key in self.data else None

    def file(self, key: str) -> Path:
        """An existing file, the string value taken relative to the model file's folder."""
        rel = self.string(key)
        path = (self.path.parent / rel).resolve()
        if not path.is_file():
            raise InputError(f"{self.where(key)} = {rel!r}: file not found ({path})")
        return path
