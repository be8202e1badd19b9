"""A small TCP proxy for network-fault tests: listens on 127.0.0.1 (a free port) and forwards
to a target; its mode can be switched while connections are open.

    pass         forward as is
    delay        forward, each chunk `seconds` late (in both directions)
    reset        every open connection and every new one is reset (RST, both sides): SO_LINGER 0, close
    blackhole    connections are accepted and kept, nothing is forwarded: a client waits on its own
                 timeouts. Nothing is dropped either: back in pass (or delay) what was held goes
                 through, as after a network partition heals (TCP retransmits)

One thread per connection owns both of its sockets (so it alone closes them) and looks at
the mode between chunks (every POLL_SECONDS while idle). What a userspace proxy cannot do:
its kernel still acknowledges what the client sends into a blackhole, so TCP-level timeouts
of the client (keepalives, tcp_user_timeout) do not fire as they would on a real partition;
only the client's own read timeouts do."""
from __future__ import annotations

import select
import socket
import struct
import threading
import time

PASS, DELAY, RESET, BLACKHOLE = "pass", "delay", "reset", "blackhole"
POLL_SECONDS = 0.05


def _rst_close(sock: socket.socket) -> None:
    """Closes with a RST instead of a FIN (SO_LINGER on, timeout 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, name: str = "proxy") -> None:
        self.target = (target_host, target_port)
        self.name = name
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._mode, self._delay = PASS, 0.0
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # accepted since start
        self.resets = 0  # connections reset (open ones and new ones)
        self._lock = threading.Lock()

    # --- control ------------------------------------------------------------------------------

    def switch(self, mode: str, *, seconds: float = 0.0) -> None:
        """Switches every connection, open and new, to `mode` (`seconds`: the delay)."""
        assert mode in (PASS, DELAY, RESET, BLACKHOLE), mode
        self._mode, self._delay = mode, (seconds if mode == DELAY else 0.0)

    @property
    def mode(self) -> str:
        return self._mode

    def start(self) -> "TcpProxy":
        self._spawn(self._accept_loop, f"{self.name}-accept")
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    # --- the work -----------------------------------------------------------------------------

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _count_reset(self) -> None:
        with self._lock:
            self.resets += 1

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            self._spawn(self._connection, f"{self.name}-conn-{self.connections}", client)

    def _connection(self, client: socket.socket) -> None:
        # A connection accepted into a blackhole waits for the upstream until the mode changes.
        while self._mode == BLACKHOLE and not self._stopped.is_set():
            time.sleep(POLL_SECONDS)
        if self._mode == RESET or self._stopped.is_set():
            self._count_reset()
            return _rst_close(client)
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            return _rst_close(client)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._forward(client, upstream)

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                mode = self._mode
                if mode == RESET:
                    self._count_reset()
                    break
                if mode == BLACKHOLE:  # read nothing: the senders' data waits in the kernel buffers
                    time.sleep(POLL_SECONDS)
                    continue
                readable, _, _ = select.select([client, upstream], [], [], POLL_SECONDS)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:  # one side closed: close both, as a connection that ended
                        client.close()
                        upstream.close()
                        return
                    if self._delay:
                        time.sleep(self._delay)
                    while self._mode == BLACKHOLE and not self._stopped.is_set():  # read just before it
                        time.sleep(POLL_SECONDS)
                    if self._mode == RESET:
                        break
                    peer[sock].sendall(data)
        except OSError:
            pass
        _rst_close(client)
        _rst_close(upstream)
