"""The README's promises: .ci/run runs its test command verbatim, its commands and its Python
example work, its links lead to pages the documentation build includes."""

import contextlib
import io
import re

from tests.conftest import ROOT


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _quickstart_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", _section("Quickstart"), flags=re.S)


def test_quickstart_has_exactly_two_commands_main_job_and_tests():
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert "cevns-fit" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim_then_linters_and_docs():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_line = ci.index(_quickstart_commands()[1])
    rest = "\n".join(ci[test_line + 1 :])
    for step in ("ruff check .", "ruff format --check .", "sphinx -W"):
        assert step in rest, step


def test_the_python_example_runs_and_prints_z_and_exposure():
    (example,) = re.findall(r"```python\n(.+?)\n```", _section("From Python"), flags=re.S)
    assert len(example.strip().splitlines()) <= 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    z, exposure = map(float, out.getvalue().split())
    assert z > 5.0 and 0.0 < exposure < 10.0  # 10 kg·yr reach 5σ, so 5σ needs < 10 kg·yr


def test_readme_links_lead_to_documentation_pages_in_the_toctree():
    text = (ROOT / "README.md").read_text()
    index = (ROOT / "docs" / "index.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+)\)", text):
        assert (ROOT / link).is_file(), link
        page = link.removeprefix("docs/").removesuffix(".md")
        assert page == "index" or f"\n{page}\n" in index, page
