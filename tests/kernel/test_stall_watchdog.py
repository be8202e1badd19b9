"""The stall watchdog cuts a round trip past its deadline and nothing else (real sockets)."""
import socket
import time

from kernel.db_backend.watchdog import StallWatchdog


def test_a_read_past_its_deadline_is_cut_and_one_in_time_is_not():
    # given: two connections whose peers never answer
    watchdog = StallWatchdog()
    stalled, stalled_peer = socket.socketpair()
    answered, answered_peer = socket.socketpair()

    # when: a read waits past its 0.3 s deadline; another finishes inside its own
    with watchdog.watching(answered.fileno(), seconds=0.3):
        answered_peer.sendall(b"x")
        assert answered.recv(1) == b"x"
    started = time.monotonic()
    with watchdog.watching(stalled.fileno(), seconds=0.3):
        data = stalled.recv(1)  # blocks until cut
    waited = time.monotonic() - started
    time.sleep(0.5)

    # then: the stalled read returned (no data) soon after its deadline; the other socket is intact
    assert data == b"" and 0.25 <= waited < 2
    answered_peer.sendall(b"y")
    assert answered.recv(1) == b"y"


def test_cut_all_cuts_the_connections_in_use_and_forgets_them():
    # given: a connection in use, registered without a deadline
    watchdog = StallWatchdog()
    in_use, peer = socket.socketpair()
    watchdog.watch(in_use.fileno())

    # when
    cut = watchdog.cut_all()

    # then
    assert cut == 1 and in_use.recv(1) == b"" and watchdog.cut_all() == 0
