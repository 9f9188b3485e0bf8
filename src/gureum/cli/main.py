"""The ``gureum`` command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import GureumError
from ..sandbox.runtimes import available_runtimes, host_runtime
from ..types import InvocationResult, IsolationLevel
from . import keys, remote
from .packaging import zip_directory

ISOLATION_LEVELS = ("full", "rootless", "process")

app = typer.Typer(help="gureum: a self-hosted serverless platform.", no_args_is_help=True)
app.add_typer(keys.app, name="keys")
remote.register(app)
out = Console()
err = Console(stderr=True)


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--env")
        env[key] = value
    return env


def _print_result(result: InvocationResult, as_json: bool) -> None:
    if as_json:
        summary = {
            "requestId": result.request_id,
            "functionError": result.function_error,
            "payload": json.loads(result.payload) if result.payload else None,
            "durationMs": round(result.duration_ms, 3),
            "billedDurationMs": result.billed_duration_ms,
            "initDurationMs": result.init_duration_ms and round(result.init_duration_ms, 3),
            "maxMemoryUsedMb": result.max_memory_used_mb,
            "costUsd": result.cost_usd,
            "logs": result.logs,
        }
        out.print_json(json.dumps(summary))
        return
    # Plain writes, not rich: log lines and payloads must come out byte for byte, unwrapped.
    typer.echo(result.logs, err=True, nl=False)
    typer.echo(result.payload.decode("utf-8", "replace"))


@app.command("invoke-local")
def invoke_local(
    path: Annotated[
        Path, typer.Argument(help="Folder with the handler code.", exists=True, file_okay=False)
    ],
    handler: Annotated[str, typer.Option(help="module.function to call.")] = "app.handler",
    event: Annotated[str, typer.Option(help="The event, as JSON.")] = "{}",
    event_file: Annotated[Path | None, typer.Option(help="Read the event from this file.")] = None,
    runtime: Annotated[str, typer.Option(help="Runtime, e.g. python3.11.")] = host_runtime(),
    memory: Annotated[int, typer.Option(help="Memory in MB (128-10240).")] = 128,
    timeout: Annotated[int, typer.Option(help="Timeout in seconds (1-900).")] = 3,
    env: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable.")] = None,
    isolation: Annotated[
        str | None,
        typer.Option(help="full, rootless or process (default: the strongest available)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Deploy a folder to a throw-away gureum and invoke it once: prints the logs and the result."""
    if isolation not in (None, *ISOLATION_LEVELS):
        choices = ", ".join(ISOLATION_LEVELS)
        raise typer.BadParameter(f"expected one of {choices}", param_hint="--isolation")
    payload = event_file.read_bytes() if event_file else event.encode()
    try:
        json.loads(payload or b"{}")
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--event") from exc
    code = zip_directory(path)
    function_env = _parse_env(env or [])

    # Imported here: client commands (deploy, invoke, ...) need none of the server side.
    from ..platform import PlatformSettings, open_platform

    async def run() -> InvocationResult:
        with tempfile.TemporaryDirectory(prefix="gureum-local-") as data_dir:
            # Rootless sandboxes of a root gureum run as nobody, who must reach the code.
            os.chmod(data_dir, 0o755)
            level: IsolationLevel | None = isolation  # type: ignore[assignment]
            async with await open_platform(data_dir, PlatformSettings(isolation=level)) as platform:
                err.print(f"[dim]isolation: {platform.isolation}[/dim]")
                name = "".join(c if c.isalnum() or c in "-_" else "-" for c in path.resolve().name)
                await platform.functions.create(
                    name=name or "function",
                    runtime=runtime,
                    handler=handler,
                    code=code,
                    memory_mb=memory,
                    timeout_s=timeout,
                    env=function_env,
                )
                return await platform.invoke(name or "function", payload)

    try:
        result = asyncio.run(run())
    except GureumError as exc:
        err.print(f"[red]{exc.error_type}[/red]: {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
    _print_result(result, as_json)
    if result.function_error:
        raise typer.Exit(1)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(envvar="GUREUM_HOST", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="GUREUM_PORT", help="Port (0: any free one).")] = 9000,
    http_port: Annotated[
        int,
        typer.Option(
            envvar="GUREUM_HTTP_PORT",
            help="Port of the function URLs and HTTP routes (0: any free one).",
        ),
    ] = 9001,
    data_dir: Annotated[
        Path | None, typer.Option(envvar="GUREUM_DATA_DIR", help="Where functions and logs live.")
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            envvar="GUREUM_AUTH",
            help="none or sigv4 (default: none on loopback, sigv4 on any other address).",
        ),
    ] = None,
    isolation: Annotated[
        str | None,
        typer.Option(
            envvar="GUREUM_ISOLATION",
            help="full, rootless or process (default: the strongest available).",
        ),
    ] = None,
    async_retry_delays: Annotated[
        str,
        typer.Option(
            envvar="GUREUM_ASYNC_RETRY_DELAYS",
            help="Seconds before the 1st and 2nd retry of a failed asynchronous invocation.",
        ),
    ] = "60,120",
) -> None:
    """Serve the Lambda API (boto3 and the AWS CLI work against it) until SIGINT or SIGTERM."""
    from ..events.delivery import DeliverySettings
    from ..platform import PlatformSettings
    from .paths import default_data_dir
    from .serve import serve

    if isolation not in (None, *ISOLATION_LEVELS):
        choices = ", ".join(ISOLATION_LEVELS)
        raise typer.BadParameter(f"expected one of {choices}", param_hint="--isolation")
    try:
        delays = tuple(float(d) for d in async_retry_delays.split(","))
    except ValueError:
        delays = ()
    if len(delays) != 2 or any(d < 0 for d in delays):
        raise typer.BadParameter(
            "expected two numbers of seconds, e.g. 60,120", param_hint="--async-retry-delays"
        )
    settings = PlatformSettings(
        isolation=isolation,  # type: ignore[arg-type]
        events=DeliverySettings(retry_delays_s=delays),
    )
    serve(host, port, data_dir or default_data_dir(), auth, settings, http_port)


@app.command()
def runtimes() -> None:
    """List the runtimes this host can run."""
    for name in available_runtimes():
        out.print(name)


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
