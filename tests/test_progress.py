"""Progress off a terminal is plain lines, at most one per period, never carriage returns."""

from __future__ import annotations

import io

from cevns_fit.progress import LineProgress, progress


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_line_progress_prints_once_per_period_and_at_the_end():
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(100, initial=20, desc="scan", unit="pt", file=out, every_s=10, clock=clock)
    for _ in range(40):  # 40 points in 20 s: one line at 10 s, one at 20 s
        clock.t += 0.5
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 3
    assert lines[0].startswith("scan: 40/100 pt (40 %), 10 s")
    # 20 points took 10 s, so the 60 left take ~30 s (resumed points do not count)
    assert lines[0].endswith("~30 s left")
    assert lines[-1] == "scan: 60/100 pt (60 %), 20 s, ~20 s left"


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys):
    bar = progress(3, desc="scan", unit="pt")  # pytest's captured stderr is not a tty
    assert isinstance(bar, LineProgress)
    for _ in range(3):
        bar.update()
    bar.close()
    assert capsys.readouterr().err == "scan: 3/3 pt (100 %), 0 s\n"


def test_no_progress_writes_nothing(capsys):
    bar = progress(3, desc="scan", enabled=False)
    bar.update(3)
    bar.close()
    assert capsys.readouterr().err == ""
