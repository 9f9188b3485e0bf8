"""`gureum serve`: the HTTP endpoint on uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import typer
import uvicorn
from starlette.types import ASGIApp

from ..gateway.app import create_app
from ..gateway.auth import RequireSignature
from ..gateway.lambda_api import LambdaContext
from ..gateway.user_http import UserHttp
from ..http_endpoints import DEFAULT_HTTP_PORT
from ..platform import Platform, PlatformSettings
from ..sandbox.services import SOCKET_NAME, Endpoint
from ..store.keys import KeyStore

AUTH_MODES = ("none", "sigv4")


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


def bind_relay_socket(data_dir: Path) -> tuple[socket.socket, Path]:
    """The Unix socket sandboxes reach the API through (sandbox/services.py), in a folder of
    its own that is bound into every sandbox. A data dir too deep for a socket's path (107
    bytes) gets a folder in the temp dir instead."""
    relay_dir = data_dir / "sandbox" / "relay"
    if len(str(relay_dir / SOCKET_NAME)) > 100:
        relay_dir = Path(tempfile.mkdtemp(prefix="gureum-relay-"))
    relay_dir.mkdir(parents=True, exist_ok=True)
    relay_dir.chmod(0o755)  # sandboxes run as another user: they must reach the socket
    path = relay_dir / SOCKET_NAME
    path.unlink(missing_ok=True)  # left by a server that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    path.chmod(0o666)
    sock.listen(1024)
    return sock, relay_dir


def choose_auth(host: str, auth: str | None) -> str:
    """The auth mode for ``host``: none on loopback unless asked, sigv4 anywhere else."""
    if auth is None:
        return "none" if is_loopback(host) else "sigv4"
    if auth not in AUTH_MODES:
        raise typer.BadParameter(f"expected one of {', '.join(AUTH_MODES)}", param_hint="--auth")
    if auth == "none" and not is_loopback(host):
        # Anyone who reaches an unsigned endpoint can deploy code and run it on this machine.
        typer.echo(
            f"error: --auth none is refused on {host}: beyond loopback every request must be "
            "signed (--auth sigv4, with keys from `gureum keys create`)",
            err=True,
        )
        raise typer.Exit(2)
    return auth


def protect_from_oom_killer() -> None:
    """Instances' memory is overcommitted: the host's OOM killer should pick them, not the
    server (lowering a score needs root; without it the instances' raised scores suffice)."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as score:
        score.write("-500")


def serve(
    host: str,
    port: int,
    data_dir: Path,
    auth: str | None = None,
    settings: PlatformSettings | None = None,
    http_port: int = DEFAULT_HTTP_PORT,
) -> None:
    mode = choose_auth(host, auth)
    protect_from_oom_killer()
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = KeyStore(data_dir) if mode == "sigv4" else None
    # Bound before the app starts, so the announced address is already accepting connections.
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    # The user-facing listener (function URLs, HTTP routes): its own port, so user paths never
    # collide with the management API's, and its own auth (per function URL, not per server).
    http_sock = bind(host, http_port)
    bound_http_port = http_sock.getsockname()[1]
    relay_sock, relay_dir = bind_relay_socket(data_dir)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    settings = dataclasses.replace(
        settings or PlatformSettings(),
        endpoint=Endpoint(f"http://{reachable}:{bound_port}", relay_dir),
    )
    platforms: list[Platform] = []  # the one the app opens, once it has

    def secret_for(key_id: str) -> str | None:
        """A key from `gureum keys create`, or a function's own short-lived one."""
        secret = keys.secret_for(key_id) if keys is not None else None
        if secret is None and platforms:
            secret = platforms[0].sessions.secret_for(key_id)
        return secret

    user_app = UserHttp(secret_for if keys is not None else None)

    def announce(context: LambdaContext) -> None:
        platforms.append(context.platform)
        context.platform.http.port = bound_http_port
        user_app.platform = context.platform
        typer.echo(f"gureum listening on http://{host}:{bound_port}")
        typer.echo(f"isolation: {context.platform.isolation}")
        typer.echo(f"data dir: {data_dir}")
        if keys is None:
            typer.echo("auth: none (loopback only: any credentials are accepted)")
        elif keys.list():
            typer.echo("auth: sigv4 (every request but GET /health must be signed with a key)")
        else:
            typer.echo("auth: sigv4 (no access keys yet: create one with `gureum keys create`)")
        typer.echo(f"functions at http://{host}:{bound_http_port}")

    app: ASGIApp = create_app(data_dir, settings, on_ready=announce)
    if keys is not None:
        app = RequireSignature(app, secret_for)
    # No proxy-header rewriting: gureum is reached directly, and each request pays for it.
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    user_config = uvicorn.Config(
        user_app,
        lifespan="off",  # the platform is opened and closed by the management app's lifespan
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    user_server = _Follower(user_config)
    user_task: asyncio.Task[None] | None = None

    async def stop_user_server() -> None:
        user_server.should_exit = True
        if user_task is not None:
            await user_task

    async def run_both() -> None:
        nonlocal user_task
        user_task = asyncio.create_task(user_server.serve(sockets=[http_sock]))
        try:
            # Sandboxes' calls (through their relays) come in on the Unix socket.
            await server.serve(sockets=[sock, relay_sock])
        finally:
            await stop_user_server()

    server = _Leader(config, stop_user_server)
    try:
        # One loop, one platform: both listeners' requests invoke through the same engine.
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(run_both())
    finally:
        if keys is not None:
            keys.close()


class _Leader(uvicorn.Server):
    """The management server: it owns signals and the lifespan; when it shuts down, the
    user-facing server drains first, since its requests invoke functions on the platform that
    the lifespan's end closes."""

    def __init__(
        self, config: uvicorn.Config, stop_follower: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(config)
        self.stop_follower = stop_follower

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.stop_follower()
        await super().shutdown(sockets)


class _Follower(uvicorn.Server):
    """The user-facing server: stopped by the leader, so it leaves the signals to it (the last
    server to install a handler would otherwise be the only one told)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
