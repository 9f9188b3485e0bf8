"""`gureum serve`: the HTTP endpoint on uvicorn."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import typer
import uvicorn

from ..gateway.app import create_app
from ..gateway.lambda_api import LambdaContext


def default_data_dir() -> Path:
    """Per user, as XDG says: $XDG_DATA_HOME/gureum, or ~/.local/share/gureum."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "gureum"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def serve(host: str, port: int, data_dir: Path) -> None:
    if not is_loopback(host):
        # Beyond loopback every request must be signed; until SigV4 checking exists, refuse.
        typer.echo(f"error: binding {host} needs request signing (SigV4), not built yet", err=True)
        raise typer.Exit(2)
    data_dir.mkdir(parents=True, exist_ok=True)
    # Bound before the app starts, so the announced address is already accepting connections.
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]

    def announce(context: LambdaContext) -> None:
        typer.echo(f"gureum listening on http://{host}:{bound_port}")
        typer.echo(f"isolation: {context.platform.isolation}")
        typer.echo(f"data dir: {data_dir}")
        typer.echo("auth: none (loopback only: any credentials are accepted)", nl=True)

    app = create_app(data_dir, on_ready=announce)
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=30
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
