"""A small in-process TCP proxy for failure tests: forward, freeze, delay connects, refuse.

Put it in front of a real server and point a database alias at ``proxy.port``::

    with TcpProxy(upstream_port) as proxy:
        proxy.freeze()        # stop forwarding both ways; every socket stays open
        proxy.forward()       # carry on (bytes held while frozen are delivered)
        proxy.connect_delay = 0.5   # each new connection waits 0.5 s before it is forwarded
        proxy.refuse()        # close the listening socket: connects are refused
        proxy.drop_all()      # close every open connection (the server "went away")

A frozen proxy is what a hung server looks like from the client: the kernel still
accepts and acknowledges everything (keepalives and ``tcp_user_timeout`` see a healthy
peer) but no answer ever comes. Threads only; loopback only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

_CHUNK = 65536


class TcpProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.connect_delay = 0.0
        self._cond = threading.Condition()
        self._frozen = False
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.accepted = 0
        self._listen()

    # -- control -------------------------------------------------------------------------
    def freeze(self) -> None:
        """Stop forwarding in both directions; connections (old and new) stay open."""
        with self._cond:
            self._frozen = True

    def forward(self) -> None:
        """Forward again (and accept connections again after ``refuse()``)."""
        with self._cond:
            self._frozen = False
            self._cond.notify_all()
        if self._listener is None:
            self._listen()

    def refuse(self) -> None:
        """Close the listening socket: new connections are refused (open ones stay)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _shut(listener)
            listener.close()

    def drop_all(self) -> None:
        """Close every proxied connection, as a server that went away would."""
        with self._cond:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._frozen = False
            self._cond.notify_all()
        self.refuse()
        self.drop_all()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- machinery -----------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # the same port again after refuse()
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refuse() or close()
            self.accepted += 1
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._track(client)
        if self.connect_delay:
            time.sleep(self.connect_delay)
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            self._untrack(client)
            return
        server.settimeout(None)
        self._track(server)
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                with self._cond:
                    while self._frozen and not self._closed:
                        self._cond.wait()
                data = src.recv(_CHUNK)
                if not data:
                    break
                with self._cond:  # bytes that arrive while frozen wait here
                    while self._frozen and not self._closed:
                        self._cond.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                _shut(sock)
                self._untrack(sock)

    def _track(self, sock: socket.socket) -> None:
        with self._cond:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._cond:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
