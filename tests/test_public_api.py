"""The public surface is what it claims to be: every ``__all__`` name exists, once."""

import importlib
import pkgutil

import pytest

import cevns_fit

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(cevns_fit.__path__, "cevns_fit.")
    if m.name != "cevns_fit.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_exists_and_is_listed_once(name):
    module = importlib.import_module(name)
    public = getattr(module, "__all__", [])
    assert len(public) == len(set(public)), f"{name}: duplicate names in __all__"
    for attr in public:
        assert hasattr(module, attr), f"{name}.__all__ lists missing {attr!r}"


def test_library_modules_do_not_import_the_cli():
    # one direction of data flow: presentation sits on top, nothing below imports it
    import ast
    from pathlib import Path

    package = Path(cevns_fit.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "__main__.py":  # the entry point is the CLI
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("cevns_fit.cli"), (
                    f"{path.name} imports {node.module}"
                )
