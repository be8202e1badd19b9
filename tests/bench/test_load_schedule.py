"""The open model's schedule: several load processes together offer one evenly spaced stream,
not simultaneous bursts (two processes started alike fired in pairs, so P4 measured pairs of
concurrent activations settled together, not a rate). Dues are computed, not timed, so the
test asserts the schedule exactly."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import load


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def ok_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("procs", [2, 3])
def test_open_model_processes_interleave_into_one_evenly_spaced_schedule(ok_server, procs):
    rate, seconds = 60.0, 1.0
    result = load.run("open", ok_server, [{"method": "GET", "path": "/"}], rate, seconds, procs=procs)

    dues = sorted(row[0] for row in result.rows)
    assert len(dues) == int(rate * seconds)
    assert all(status == 200 for _, _, status in result.rows)
    gaps = [b - a for a, b in zip(dues, dues[1:])]
    assert min(gaps) == pytest.approx(1 / rate, abs=1e-6)
    assert max(gaps) == pytest.approx(1 / rate, abs=1e-6)
