"""The benchmark harness runs end to end at tiny sizes and writes a well-formed result.

No timing is asserted here: speed targets live in bench/ (python -m bench) and are read by people.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import SECTIONS
from bench.sink import sink_binary
from tests.conftest import REPO, require_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    require_tool("smtp-sink", sink_binary() is not None)
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return done, json.loads(out.read_text(encoding="utf-8"))


def test_quick_bench_exits_zero_and_prints_the_table(quick_run):
    done, _ = quick_run
    assert done.returncode == 0, done.stderr[-2000:]
    assert "digest benchmarks" in done.stdout
    assert "Traceback" not in done.stderr


def test_quick_bench_measures_every_section(quick_run):
    _, result = quick_run
    assert result["quick"] is True
    assert "errors" not in result["details"], result["details"].get("errors")
    assert {row["section"] for row in result["rows"]} == set(SECTIONS)


def test_every_row_has_a_figure_and_a_unit(quick_run):
    _, result = quick_run
    for row in result["rows"]:
        assert isinstance(row["ours"], int | float), row
        # A growth is a difference: at --quick sizes the larger send may split into more processes,
        # each with a lower peak than the smaller send's one process.
        assert row["ours"] >= 0 or row["measure"].startswith("RSS growth"), row
        assert row["unit"], row
        assert row["met"] in (True, False, None), row


def test_rows_with_a_target_say_whether_it_is_met(quick_run):
    _, result = quick_run
    targeted = [row for row in result["rows"] if row["target"]]
    assert len(targeted) >= 5  # render, personalize, send, memory, ingest
    for row in targeted:
        if row["section"] != "build":  # the render ratio needs node, which a machine may lack
            assert row["met"] in (True, False), row


def test_send_reaches_every_subscriber_through_the_sink(quick_run):
    _, result = quick_run
    send = result["details"]["send"]
    assert send["sink_rate"] > 0
    assert send["reference_message"] == "digest's own message for one recipient"


def test_results_folder_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(Path("bench/results/latest.json"))], cwd=REPO, check=False
    )
    assert ignored.returncode == 0
