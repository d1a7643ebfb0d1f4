"""ShutdownRequest: a signal becomes a request; the previous handlers come back afterwards."""

import os
import signal

from stockmind.stream.shutdown import ShutdownRequest


def test_sigterm_requests_a_shutdown_and_the_old_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    shutdown = ShutdownRequest()

    with shutdown.on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        assert shutdown.wait(timeout_s=5)

    assert shutdown.requested
    assert signal.getsignal(signal.SIGTERM) is before


def test_request_is_idempotent_and_wait_times_out_without_one():
    shutdown = ShutdownRequest()
    assert not shutdown.wait(timeout_s=0.01)
    shutdown.request()
    shutdown.request()
    assert shutdown.requested
