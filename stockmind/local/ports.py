"""Loopback ports and process helpers shared by the local services."""

import os
import signal
import socket
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not port_is_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not open {LOOPBACK}:{port} within {timeout_s:.0f}s")
        time.sleep(0.05)


def process_is_alive(pid: int) -> bool:
    return _signal_reaches(os.kill, pid)


def group_is_alive(pgid: int) -> bool:
    return _signal_reaches(os.killpg, pgid)


def _signal_reaches(send, target: int) -> bool:
    """Signal 0 checks existence: gone → ProcessLookupError; someone else's → PermissionError (alive)."""
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(pgid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM every process in group `pgid`, then SIGKILL what is left after `timeout_s`.

    Checked per group, not per leader: `ray start` exits at once and leaves its daemons in its group.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _reap(pgid)
            if not group_is_alive(pgid):
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collect our own child if it has exited, so it stops counting as alive (a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
