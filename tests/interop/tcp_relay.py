"""A TCP relay on loopback that a test can reset, to play a NAT or a flaky link.

Every connection accepted on ``port`` is relayed to ``upstream``; ``reset_all()``
aborts the accepted connections with a TCP RST (SO_LINGER 0), as a NAT box that
dropped its state or a reset link would.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class TcpRelay:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0

    def start(self) -> TcpRelay:
        thread = threading.Thread(target=self._accept_loop, name="relay-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream, timeout=5)
            with self._lock:
                self._sockets.append((downstream, upstream))
                self.accepted += 1
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                thread = threading.Thread(target=self._pipe, args=(source, sink), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def reset_all(self) -> None:
        """Abort every relayed connection with an RST on both sides."""
        with self._lock:
            pairs, self._sockets = self._sockets, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        self.reset_all()
        with contextlib.suppress(OSError):
            self.listener.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TcpRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
