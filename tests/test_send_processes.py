"""One send on several processes (DIGEST_SEND_PROCESSES): real processes, real SMTP on loopback."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from digest.send.processes import MIN_ROWS_PER_PROCESS, shares
from tests.delivery_support import address, prepared_store, run_send, start_send
from tests.test_send_cli import send_env, wait_for


def test_connections_are_shared_evenly_and_small_sends_stay_in_one_process() -> None:
    assert shares(4, 2, 10_000) == [2, 2]
    assert shares(5, 2, 10_000) == [3, 2]
    assert shares(2, 8, 10_000) == [1, 1]  # never a process without a connection
    assert shares(4, 2, MIN_ROWS_PER_PROCESS - 1) == [4]
    assert shares(4, 1, 10_000) == [4]


def helper_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]


@pytest.mark.slow
def test_two_processes_share_one_send_and_each_subscriber_gets_it_once(
    any_db_url, smtp_server, env, tmp_path
):
    prepared_store(any_db_url, weekly=1200)
    server = smtp_server()
    run_env = send_env(env, any_db_url, server, DIGEST_SEND_PROCESSES="2")
    process = start_send(tmp_path, run_env)
    wait_for(lambda: len(server.received) >= 50)
    assert len(helper_pids(process.pid)) == 1
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "sent 1200," in out and "in 2 processes" in out
    copies = Counter(server.recipients())
    assert set(copies) == {address("weekly", n) for n in range(1200)} and max(copies.values()) == 1


@pytest.mark.slow
def test_a_helper_killed_mid_send_costs_at_most_its_connections_in_duplicates(
    any_db_url, smtp_server, env, tmp_path
):
    """The crash promise per process: the others take the dead one's claims back at once."""
    prepared_store(any_db_url, weekly=1500)
    server = smtp_server(delay=0.004)
    run_env = send_env(env, any_db_url, server, DIGEST_SEND_PROCESSES="2")  # 4 connections: 2 + 2
    process = start_send(tmp_path, run_env)
    wait_for(lambda: len(server.received) >= 300 and helper_pids(process.pid))
    helper = helper_pids(process.pid)[0]
    subprocess.run(["kill", "-KILL", str(helper)], check=True)
    killed_at = len(server.received)
    _, err = process.communicate(timeout=120)
    assert killed_at < 1500, "the kill came too late to test anything"
    copies = Counter(server.recipients())
    if process.returncode != 0:  # the helper's in-flight rows stay owed when no one else was idle
        rerun = run_send(tmp_path, run_env)
        assert rerun.returncode == 0, rerun.stderr
        copies = Counter(server.recipients())
    assert set(copies) == {address("weekly", n) for n in range(1500)}, err
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= 2, copies.most_common(5)


@pytest.mark.slow
def test_sigterm_stops_every_process_and_a_rerun_finishes(db_url, smtp_server, env, tmp_path):
    prepared_store(db_url, weekly=1200)
    server = smtp_server(delay=0.01)
    run_env = send_env(env, db_url, server, DIGEST_SEND_PROCESSES="2")
    process = start_send(tmp_path, run_env)
    wait_for(lambda: len(server.received) >= 100 and helper_pids(process.pid))
    helpers = helper_pids(process.pid)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "still owed" in out
    assert all(not Path(f"/proc/{pid}").exists() for pid in helpers)
    rerun = run_send(tmp_path, run_env)
    assert rerun.returncode == 0, rerun.stderr
    copies = Counter(server.recipients())
    assert len(copies) == 1200 and max(copies.values()) == 1
