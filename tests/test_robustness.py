"""Nothing crashes, nothing lies (issue 14): failing fits, parameters on bounds, zero
background, huge counts, interrupted and concurrent scans."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.stats import norm

from cevns_fit.cli import main as cli_main
from cevns_fit.errors import InputError
from cevns_fit.fit import fit_workspace
from cevns_fit.inference import expected_significance, exposure_needed, upper_limit
from cevns_fit.scan import Axis, parse_vary, run_scan, validate_record
from tests.conftest import MODELS, ROOT
from tests.test_fit import on_off_spec
from tests.test_inference import counting


# ------------------------------------------------------------------------------------ fits
def test_a_fit_stopped_by_the_call_limit_reports_the_minimisers_status():
    result = fit_workspace(on_off_spec(), max_calls=5)
    assert result.converged is False
    assert "call limit reached" in result.status


def test_a_failed_fit_exits_3_with_the_minimisers_status(tmp_path, monkeypatch, capsys):
    import cevns_fit.fit as fit_module

    real = fit_module.fit_workspace
    monkeypatch.setattr(
        fit_module, "fit_workspace", lambda *a, **k: real(*a, **{**k, "max_calls": 5})
    )
    ws, data = tmp_path / "ws.json", tmp_path / "d.json"
    ws.write_text(json.dumps(on_off_spec()))
    data.write_text(json.dumps({"on": [85, 62], "control": [50, 40]}))
    code = cli_main(["fit", str(ws), "--data", str(data), "--json"])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "call limit reached" in lines[0], captured.err


def test_mu_pinned_at_its_upper_bound_is_a_failed_fit_naming_the_bound():
    result = fit_workspace(on_off_spec(), {"on": [700, 700], "control": [50, 40]})
    assert result.converged is False
    assert result.at_bounds["mu"]["bound"] == "upper"
    assert result.at_bounds["mu"]["limit"] == 10.0
    assert "mu at its upper bound 10" in result.status


def test_mu_at_zero_is_a_flagged_result_at_the_physical_boundary():
    result = fit_workspace(on_off_spec(), {"on": [50, 40], "control": [50, 40]})
    assert result.converged is True
    assert result.at_bounds["mu"]["physical_boundary"] is True
    assert "mu at its lower bound 0 (physical boundary)" in result.status
    assert result.Z_observed == 0.0


def test_a_fit_to_all_zero_data_is_never_a_plain_success():
    result = fit_workspace(on_off_spec(), {"on": [0, 0], "control": [0, 0]})
    assert "HESSE accurate" not in result.status
    assert "the data hold no events" in result.status
    assert set(result.at_bounds) >= {"mu"}


def test_a_clean_fit_has_no_bound_flags():
    result = fit_workspace(on_off_spec(), {"on": [85, 62], "control": [50, 40]})
    assert result.converged is True and result.at_bounds == {} and result.near_bounds == {}
    assert result.status == "MIGRAD converged, HESSE accurate"


def test_events_where_the_model_predicts_none_are_a_failed_fit_naming_the_bins():
    from cevns_fit.errors import FitFailedError

    spec = on_off_spec(signal=(20.0, 0.0), background=(50.0, 0.0), histosys=False)
    with pytest.raises(FitFailedError, match=r"channel 'on' bin\(s\) \[1\]"):
        fit_workspace(spec, {"on": [70, 3], "control": [50, 0]})


# ------------------------------------------------------------- zero background, huge counts
def one_bin_workspace(s: float, b: float, n: float) -> dict:
    return {
        "version": "1.0.0",
        "channels": [
            {
                "name": "c",
                "samples": [
                    {
                        "name": "cevns",
                        "data": [s],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [b], "modifiers": []},
                ],
            }
        ],
        "observations": [{"name": "c", "data": [n]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
    }


def cowan_z(n: float, s: float, b: float) -> float:
    """Z = √(2 (n ln(n/b) − (n − b))) for n = b + s counts on a known b (arXiv:1007.1727
    Eq. 97), with ln(n/b) as log1p(s/b) so that it is exact at 10¹⁵ counts."""
    return math.sqrt(2.0 * (n * math.log1p(s / b) - s))


def test_fit_at_1e15_counts_matches_cowans_formula():
    b, s = 1e15, 1e8
    result = fit_workspace(one_bin_workspace(s, b, b + s))
    assert result.converged
    assert result.mu == pytest.approx(1.0, abs=1e-6)
    assert result.mu_err == pytest.approx(math.sqrt(b) / s, rel=0.01, abs=0)
    assert result.Z_observed == pytest.approx(cowan_z(b + s, s, b), rel=1e-6, abs=0)


def test_significance_exposure_limit_at_1e15_counts_match_the_closed_forms():
    b, s = 1e15, 1e8
    z_a = cowan_z(b + s, s, b)  # on Asimov data n = s + b: Eq. 97 is Z_A
    assert expected_significance(counting(s, b)).Z_expected == pytest.approx(z_a, rel=1e-6, abs=0)
    observed = expected_significance(counting(s, b, data=b + s))
    assert observed.Z_observed == pytest.approx(z_a, rel=1e-6, abs=0)
    # Z ∝ √exposure at s ≪ b: 5σ at (5/Z_A)² times the exposure
    needed = exposure_needed(counting(s, b), 5.0)
    assert needed.exposure_kg_yr == pytest.approx((5.0 / z_a) ** 2, rel=1e-4, abs=0)
    # median CLs limit at s ≪ b: μ_up = Φ⁻¹(1 − α/2) √b / s (arXiv:1007.1727 Eq. 89)
    limit = upper_limit(counting(s, b), 0.9)
    assert limit.mu_upper_expected == pytest.approx(
        norm.isf(0.05) * math.sqrt(b) / s, rel=1e-3, abs=0
    )


@pytest.mark.parametrize("s", [10.0, 0.5])
def test_zero_background_significance_follows_the_counting_limit(s):
    # b = 0: one event excludes μ = 0 (p0 = 0); the median count is ≥ 1 iff s ≥ ln 2
    result = expected_significance(counting(s, 0.0))
    assert result.method == "background-free"
    if s >= math.log(2):
        assert result.Z_expected == math.inf and result.p0_expected == 0.0
    else:
        assert result.Z_expected == 0.0 and result.p0_expected == 1.0
    assert expected_significance(counting(s, 0.0, data=1)).Z_observed == math.inf
    assert expected_significance(counting(s, 0.0, data=0)).Z_observed == 0.0


def test_zero_background_exposure_is_where_the_median_count_reaches_one():
    result = exposure_needed(counting(10.0, 0.0), 5.0)
    assert result.exposure_kg_yr == pytest.approx(math.log(2) / 10.0, rel=1e-12, abs=0)
    assert "ln 2" in result.notes[0]


def test_zero_background_limit_is_the_exact_poisson_limit():
    # the classic 90 % CL upper limits on a Poisson mean without background: 2.303 (n = 0)
    # and 6.681 (n = 3) (PDG Statistics review, Table 40.3)
    limit = upper_limit(counting(10.0, 0.0), 0.9)
    assert limit.signal_events_upper_expected == pytest.approx(2.303, abs=1e-3)
    observed = upper_limit(counting(10.0, 0.0, data=3), 0.9)
    assert observed.signal_events_upper_observed == pytest.approx(6.681, abs=1e-3)


def test_zero_background_fit_reports_p0_zero_not_a_failure():
    result = fit_workspace(one_bin_workspace(2.0, 0.0, 3.0))
    assert result.converged and result.mu == pytest.approx(1.5, rel=1e-4, abs=0)
    assert result.Z_observed == math.inf and result.p0_observed == 0.0


def test_zero_background_model_file_gives_results_from_every_command(tmp_path, capsys):
    model = tmp_path / "nobg.toml"
    text = (MODELS / "detectors" / "ge_array.toml").read_text()
    text = text.split("[[backgrounds]]")[0].replace(
        "../sources/sns.toml", str(MODELS / "sources" / "sns.toml")
    )
    model.write_text(text)
    for command in ("significance", "exposure", "limit"):
        assert cli_main([command, str(model), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["notes"], command


# ------------------------------------------------------------------------------------ scans
@pytest.fixture
def small_model(tmp_path) -> Path:
    from tests.test_bad_input_corpus import SMALL_MODEL

    path = tmp_path / "small.toml"
    path.write_text(SMALL_MODEL)
    return path


def scan_small(model, out, values=(5.0, 6.0, 7.0), **kwargs):
    kwargs.setdefault("workers", 1)
    return run_scan(model, [Axis("threshold", tuple(values))], out=out, progress=False, **kwargs)


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_torn_last_line_is_cut_off_and_its_point_recomputed(small_model, tmp_path):
    out = tmp_path / "scan.jsonl"
    scan_small(small_model, out)
    text = out.read_text()
    out.write_text(text[: len(text) - 40])  # killed in the middle of the last record
    resumed = scan_small(small_model, out)
    assert (resumed.resumed, resumed.computed) == (2, 1)
    assert any("torn" in note for note in resumed.notes)
    lines = records(out)  # every line parses: the partial record was cut, not glued onto
    assert [r["threshold"] for r in lines] == [5.0, 6.0, 7.0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: {**r, "Z_expected": "nonsense"},
        lambda r: {"key": r["key"], "fingerprint": r["fingerprint"]},
        lambda r: {**r, "threshold": 99.0},  # values no longer match the key
        lambda r: {k: v for k, v in r.items() if k != "exposure_kg_yr_5sigma"},
    ],
    ids=["nonsense", "key-only", "key-mismatch", "incomplete"],
)
def test_invalid_or_incomplete_records_are_recomputed_with_a_note(small_model, tmp_path, edit):
    out = tmp_path / "scan.jsonl"
    first = scan_small(small_model, out)
    lines = records(out)
    lines[1] = edit(lines[1])
    out.write_text("".join(json.dumps(r) + "\n" for r in lines))
    resumed = scan_small(small_model, out)
    assert (resumed.resumed, resumed.computed) == (2, 1)
    assert any("recomputed" in note for note in resumed.notes)
    assert resumed.points[1]["Z_expected"] == pytest.approx(first.points[1]["Z_expected"], abs=0)


def test_validate_record_accepts_what_a_scan_writes_and_nothing_less(small_model, tmp_path):
    out = tmp_path / "scan.jsonl"
    scan_small(small_model, out, values=(5.0,))
    (record,) = records(out)
    assert validate_record(record, ["threshold"], (3.0, 5.0)) is None
    assert "3sigma" in validate_record(record, ["threshold"], (3.0, 4.0, 5.0)).replace("4", "3")
    assert validate_record({**record, "p0_expected": 2.0}, ["threshold"], (3.0, 5.0))


def test_a_second_scan_on_the_same_file_is_refused(small_model, tmp_path):
    import fcntl

    out = tmp_path / "scan.jsonl"
    with out.open("a") as held:  # another scan holds the file
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another scan is writing"):
            scan_small(small_model, out)
    assert out.read_text() == ""
    assert scan_small(small_model, out).computed == 3  # free again once the first is done


def test_the_fingerprint_covers_the_data_files_a_model_reads(tmp_path):
    from cevns_fit.detector import load_detector_model
    from cevns_fit.scan import model_files, scan_fingerprint
    from tests.test_bad_input_corpus import SMALL_MODEL

    table = tmp_path / "bkg.csv"
    table.write_text("1.0, 10\n2.0, 10\n3.0, 10\n4.0, 10\n5.0, 10\n")
    model_path = tmp_path / "tab.toml"
    model_path.write_text(
        SMALL_MODEL.replace(
            'kind = "steady_state"\nrate_per_kg_day = 1.0',
            'kind = "tabulated"\nfile = "bkg.csv"\nfile_units = "counts"',
        )
    )
    model = load_detector_model(model_path)
    assert table.resolve() in model_files(model)
    assert (MODELS / "sources" / "line_example.toml").resolve() in model_files(model)
    before = scan_fingerprint(model, (3.0, 5.0))
    table.write_text(table.read_text().replace("10", "1000"))  # the table changed x100
    assert scan_fingerprint(load_detector_model(model_path), (3.0, 5.0)) != before


def test_repeated_grid_values_are_computed_once(small_model, tmp_path):
    axis = parse_vary("threshold=5,6,5,6.0000000000001")
    assert axis.values == (5.0, 6.0) and axis.dropped == 2
    result = run_scan(small_model, [axis], workers=1, progress=False)
    assert result.computed == 2 and any("repeated" in n for n in result.notes)


def test_the_grid_is_generated_lazily_and_points_in_flight_are_bounded():
    import itertools
    import time

    from cevns_fit.executors import bounded
    from cevns_fit.scan import grid_size, iter_grid

    axes = [Axis("threshold", tuple(range(1, 1001))), Axis("exposure", tuple(range(1, 1001)))]
    start = time.perf_counter()
    grid = iter_grid(axes)
    assert next(grid) == {"threshold": 1, "exposure": 1}
    assert time.perf_counter() - start < 0.1 and grid_size(axes) == 10**6

    in_flight, most = set(), 0

    class Done:
        def __init__(self, point):
            self.point = point

    def submit(point):
        nonlocal most
        future = Done(point)
        in_flight.add(future)
        most = max(most, len(in_flight))
        return future

    def wait_any(pending):
        first = next(iter(pending))
        in_flight.discard(first)
        return {first}, pending - {first}

    finished = list(itertools.islice(bounded(submit, iter_grid(axes), 8, wait_any), 5000))
    assert len(finished) == 5000 and most <= 8


def test_the_local_dask_cluster_listens_on_localhost_only():
    from cevns_fit.executors import dask_client

    client, cluster = dask_client(None, 1)
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    finally:
        client.close()
        cluster.close()


# --------------------------------------------------------------- real processes: kill, SIGINT
def _start_scan(model: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cevns_fit",
            "scan",
            str(model),
            "--vary",
            "threshold=5:9:25",
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # a shell's background job (CI scripts, `cmd &`) starts with SIGINT ignored, and Python
        # keeps an inherited "ignore": give the scan the default an interactive user's has
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"scan ended early: {proc.communicate()[1]}")
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    pytest.fail("the scan wrote nothing")


@pytest.fixture
def slow_model(tmp_path) -> Path:
    """The small model at ~0.2 s a point (10 000 true bins, 100 bins): its 25-point scan
    computes for seconds after its first line, so a Ctrl-C then lands mid-scan (the small
    model's points take milliseconds, and the signal could arrive as the process exited)."""
    from tests.test_bad_input_corpus import SMALL_MODEL

    old = "bin_width = 0.5"
    assert old in SMALL_MODEL
    path = tmp_path / "slow.toml"
    path.write_text(SMALL_MODEL.replace(old, "bin_width = 0.05\ntrue_bins = 10000"))
    return path


def test_sigint_ends_a_scan_with_exit_130_one_line_and_an_intact_file(slow_model, tmp_path):
    out = tmp_path / "scan.jsonl"
    proc = _start_scan(slow_model, out, "--workers", "2")
    _wait_for_lines(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["cevns-fit: interrupted"], err
    done = records(out)  # whole records only
    assert 1 <= len(done) < 25  # interrupted mid-scan
    resumed = run_scan(
        slow_model, [parse_vary("threshold=5:9:25")], out=out, workers=2, progress=False
    )
    assert resumed.resumed == len(done) and resumed.computed == 25 - len(done)


def test_a_scan_killed_with_sigkill_resumes_and_its_workers_die(small_model, tmp_path):
    import time

    out = tmp_path / "scan.jsonl"
    proc = _start_scan(small_model, out, "--workers", "2")
    _wait_for_lines(out, 2, proc)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    workers = [int(pid) for pid in children]
    proc.kill()
    proc.communicate(timeout=10)  # reaps it and closes its pipes
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.1)
    assert workers and not alive, f"workers {alive} outlived their parent"
    result = run_scan(
        small_model, [parse_vary("threshold=5:9:25")], out=out, workers=1, progress=False
    )
    assert result.resumed >= 2 and result.resumed + result.computed == 25
    keys = [r["key"] for r in records(out)]
    assert len(keys) == len(set(keys)) == 25  # nothing lost, nothing twice


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_a_closed_stdout_pipe_ends_quietly():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cevns_fit",
            "ratio-map",
            "--target",
            "CsPbI3",
            "--reference",
            "Ge",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout.read(10) == b'{"target":'
    proc.stdout.close()  # the reader goes away (`| head -c 10`)
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141 and err == b""


# ------------------------------------------------------------ physically empty configurations
def test_a_threshold_above_the_sources_recoil_endpoint_is_a_result_with_a_note(tmp_path, capsys):
    # Ge at a reactor (E_nu ≤ 10 MeV): the largest recoil is 2 E²/(M + 2E) = 3.069 keVnr
    # (Ge-70, M = 69.924 u = 65.13 GeV, E = 9.998 MeV, the spectrum's last node); the
    # model's 1.5 keVee threshold is 6.8 keVnr
    model = tmp_path / "ge_reactor.toml"
    text = (MODELS / "detectors" / "ge_array.toml").read_text()
    model.write_text(
        text.replace("../sources/sns.toml", str(MODELS / "sources" / "reactor.toml")).replace(
            'duty_factor = "source"', "duty_factor = 1.0"
        )
    )
    for command in ("significance", "rate"):
        assert cli_main([command, str(model), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        (note,) = [n for n in out["notes"] if "largest recoil" in n]
        m_MeV = 69.9242 * 931.494
        e_max_keV = 1e3 * 2 * 9.998**2 / (m_MeV + 2 * 9.998)
        quoted = float(re.search(r"largest recoil ([0-9.]+) keVnr of Ge", note).group(1))
        assert quoted == pytest.approx(e_max_keV, rel=1e-3, abs=0)
    from cevns_fit.detector import load_detector_model, recoil_endpoint_note

    assert recoil_endpoint_note(load_detector_model(MODELS / "detectors" / "ge_array.toml")) is None


# ------------------------------------------------------------------ the CLI's error mapping
@pytest.mark.parametrize(
    "exc, code, needle",
    [
        (PermissionError(13, "Permission denied", "/data/run7.csv"), 2, "/data/run7.csv"),
        (IsADirectoryError(21, "Is a directory", "/data"), 2, "/data: is a folder"),
        (OSError(28, "No space left on device", "/tmp/x.json"), 2, "No space left"),
        (ZeroDivisionError("float division by zero"), 1, "internal error: ZeroDivisionError"),
    ],
    ids=["unreadable", "folder", "disk-full", "bug"],
)
def test_run_guarded_maps_failures_to_one_line_and_an_exit_code(capsys, exc, code, needle):
    import argparse

    from cevns_fit.cli._common import run_guarded

    def command(args):
        raise exc

    assert run_guarded(command, argparse.Namespace()) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
