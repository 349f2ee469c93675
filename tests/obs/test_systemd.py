"""sd_notify from ``ivr serve``: READY/WATCHDOG datagrams on a real Unix socket standing
in for systemd's, and nothing at all outside systemd."""

import asyncio
import os
import socket

import pytest

from ivr.obs import systemd


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_reaches_systemd(notify_socket):
    assert systemd.notify("READY=1")
    assert notify_socket.recv(64) == b"READY=1"


def test_outside_systemd_nothing_is_sent():
    assert systemd.notify("READY=1", env={}) is False
    assert systemd.watchdog_interval({}) is None


def test_watchdog_interval_is_half_watchdogsec_for_this_process_only():
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000",
                                      "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "x"}) is None


async def test_the_event_loop_feeds_the_watchdog(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # WatchdogSec=0.2: a ping every 0.1 s
    task = systemd.start_watchdog()
    assert task is not None
    await asyncio.sleep(0.35)
    await systemd.stop_watchdog(task)
    notify_socket.settimeout(0.5)
    pings = []
    try:
        while True:
            pings.append(notify_socket.recv(64))
    except TimeoutError:
        pass
    assert pings.count(b"WATCHDOG=1") >= 3


def test_a_gone_socket_is_a_warning_not_a_crash(tmp_path, caplog):
    assert systemd.notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "none")}) is False
    assert "not sent" in caplog.text
