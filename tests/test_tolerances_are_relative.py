"""The test suite's own rule: every tolerance on a physical quantity is stated, never defaulted.

``pytest.approx(x, rel=r)`` keeps a default absolute tolerance of 1e-12, and ``np.allclose`` /
``np.isclose`` one of 1e-8: for a cross-section in cm² (~1e-38) or a rate per nucleus (~1e-24)
that absolute term accepts anything, even 0 (``0.0 == approx(2.07e-38, rel=2e-3)`` is True).
So every ``approx(...)`` in ``tests/`` must pass ``abs=`` and every ``np.allclose`` /
``np.isclose`` must pass ``atol=`` (``abs=0`` / ``atol=0`` for a purely relative comparison).
``np.testing.assert_allclose`` and ``math.isclose`` default to an absolute tolerance of 0 and
need nothing. A line that means to keep a default says so with the marker ``# default-tol:``
followed by the reason. See tests/conftest.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MARKER = "# default-tol:"


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def defaulted_tolerances(source: str) -> list[tuple[int, str]]:
    """(line, call) of every approx without ``abs=`` and np.allclose/isclose without ``atol=``."""
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if MARKER in lines[node.lineno - 1]:
            continue
        name, keywords = _call_name(node), {k.arg for k in node.keywords}
        if name == "approx" and "abs" not in keywords:
            found.append((node.lineno, "approx without abs="))
        elif name in ("allclose", "isclose") and "atol" not in keywords:
            if not (isinstance(node.func, ast.Attribute) and _is_math(node.func.value)):
                found.append((node.lineno, f"{name} without atol="))
    return sorted(found)


def _is_math(value: ast.expr) -> bool:
    return isinstance(value, ast.Name) and value.id == "math"


def test_the_lint_catches_a_defaulted_absolute_tolerance():
    bad = (
        "assert s == pytest.approx(2.07e-38, rel=2e-3)\n"
        "assert np.allclose(a, b, rtol=1e-9)\n"
        "assert np.isclose(a, b)\n"
    )
    assert [line for line, _ in defaulted_tolerances(bad)] == [1, 2, 3]
    good = (
        "assert s == pytest.approx(2.07e-38, rel=2e-3, abs=0)\n"
        "assert np.allclose(a, b, rtol=1e-9, atol=0)\n"
        "assert math.isclose(a, b, rel_tol=1e-9)\n"
        "np.testing.assert_allclose(a, b, rtol=1e-9)\n"
    )
    assert defaulted_tolerances(good) == []
    assert defaulted_tolerances("x == pytest.approx(1.0)  # default-tol: an exact 1\n") == []
    # why: the default absolute term really does accept zero for a cross-section in cm²
    assert 0.0 == pytest.approx(2.07e-38, rel=2e-3)  # default-tol: shows the trap
    assert 0.0 != pytest.approx(2.07e-38, rel=2e-3, abs=0)


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_test_file_leaves_an_absolute_tolerance_at_its_default(path):
    found = defaulted_tolerances(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.name}:{line}: {what}" for line, what in found)
