"""The README's promises: .ci/run runs its test command verbatim, its commands exist."""

import re

from tests.conftest import ROOT


def _quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quickstart, flags=re.S)


def test_quickstart_has_exactly_two_commands_main_job_and_tests():
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert "cevns-fit" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _quickstart_commands()[1] in ci
