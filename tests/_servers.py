"""A plain TCP server on 127.0.0.1 (no dask) for the scheduler tests of issue 18."""

from __future__ import annotations

import socket
import threading

#: The longest a refused address may take (the issue's bound: a clear error in under 15 s).
DEADLINE_S = 15.0


class PlainServer:
    """A TCP server on 127.0.0.1 that accepts connections and sends ``banner`` (or nothing)."""

    def __init__(self, banner: bytes = b""):
        self.banner = banner
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)
            if self.banner:
                connection.sendall(self.banner)

    def close(self):
        for connection in self.connections:
            connection.close()
        self.socket.close()
