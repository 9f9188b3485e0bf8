"""Inside a sandbox: gureum's endpoint on the sandbox's own loopback, relayed to the host.

A fully isolated instance has a network namespace with nothing but loopback, so it cannot reach
the host's gureum over TCP. The platform binds its endpoint's directory into the sandbox, read
only, holding a Unix socket on which the host serves the same API; this relay listens on
127.0.0.1:PORT in the sandbox (what ``AWS_ENDPOINT_URL`` names) and pipes each connection to
that socket. It can reach nothing else: the socket is its only way out.

Standard library only; a daemon thread accepts, one thread per connection pumps both ways.
Threads do not survive a fork, so a SnapStart snapshot stops the relay before it forks and each
restored instance starts its own (``SO_REUSEPORT``: they share the snapshot's namespace).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading

SOCKET_ENV = "_GUREUM_RELAY_SOCKET"  # the host's API socket, as the sandbox sees it
ADDRESS_ENV = "_GUREUM_RELAY_ADDRESS"  # host:port to listen on inside the sandbox
CHUNK = 65536

_listener: socket.socket | None = None


def start_from_env() -> None:
    """Start the relay if the platform asked for one (and it is not running already)."""
    global _listener
    path, address = os.environ.get(SOCKET_ENV), os.environ.get(ADDRESS_ENV)
    if not path or not address or _listener is not None:
        return
    host, _, port = address.rpartition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, int(port)))
    listener.listen(64)
    _listener = listener
    threading.Thread(target=_accept, args=(listener, path), daemon=True, name="relay").start()


def stop() -> None:
    """Stop accepting (before a snapshot forks: no thread may be running then)."""
    global _listener
    listener, _listener = _listener, None
    if listener is not None:
        # shutdown() wakes the accepting thread; it exits when accept() fails.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for thread in threading.enumerate():
            if thread.name == "relay":
                thread.join(timeout=1.0)


def _accept(listener: socket.socket, path: str) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # stopped
        threading.Thread(target=_pump, args=(client, path), daemon=True).start()


def _pump(client: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        open_ends = 2
        try:
            while open_ends:
                for key, _ in selector.select():
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(CHUNK)
                    if data:
                        peers[source].sendall(data)
                        continue
                    # One side finished sending: pass the half-close on, keep reading the other.
                    selector.unregister(source)
                    open_ends -= 1
                    with contextlib.suppress(OSError):
                        peers[source].shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()
