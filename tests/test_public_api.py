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
    for path in package.rglob("*.py"):  # sub-packages (sources/, detector/, ...) included
        if path.name == "__main__.py" or "cli" in path.relative_to(package).parts[:-1]:
            continue  # the entry point and the command line itself
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("cevns_fit.cli"), (
                    f"{path.name} imports {node.module}"
                )


def test_the_package_exports_what_a_notebook_needs():
    needed = {
        "load_model",  # a model, shipped or from a file
        "build_templates",
        "expected_significance",
        "exposure_needed",
        "upper_limit",
        "fit_workspace",
        "run_scan",
        "summarize",
        "plots",
    }
    assert needed <= set(cevns_fit.__all__)
    for name in cevns_fit.__all__:
        assert getattr(cevns_fit, name) is not None, name
    # each export is the object of the module that defines it, not a copy
    from cevns_fit import inference, registry

    assert cevns_fit.expected_significance is inference.expected_significance
    assert cevns_fit.load_model is registry.load_model
    with pytest.raises(AttributeError):
        cevns_fit.no_such_name  # noqa: B018


def test_importing_the_package_is_light():
    import subprocess
    import sys

    code = (
        "import sys, cevns_fit; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy', 'pyhf'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_package_docstring_example_gives_the_exposure_of_the_exposure_command(cli_json):
    import cevns_fit as cf

    templates = cf.build_templates(cf.load_model("cspbi3_array"))
    exposure = cf.exposure_needed(templates, sigma=5.0).exposure_kg_yr
    assert exposure == cli_json("exposure", "cspbi3_array", "--sigma", "5")["exposure_kg_yr"]
