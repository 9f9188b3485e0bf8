"""`gureum invoke` and `gureum logs`: run a deployed function, and read what it printed."""

from __future__ import annotations

import base64
import datetime
import json
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from .client import (
    DEFAULT_ENDPOINT,
    Endpoint,
    FunctionName,
    Profile,
    Remote,
    connect,
    reporting_errors,
)
from .console import AsJson, err

FOLLOW_PAGE = 10_000


def _read_event(event: str) -> bytes:
    """``--event``: JSON, or @file (@- for stdin); checked to be JSON."""
    if event.startswith("@"):
        source = event[1:]
        try:
            payload = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {source}: {exc}", param_hint="--event") from exc
    else:
        payload = event.encode()
    try:
        json.loads(payload)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--event") from exc
    return payload


def invoke(
    name: FunctionName,
    event: Annotated[
        str, typer.Option(help="The event: JSON, or @file.json (@- reads stdin).")
    ] = "{}",
    qualifier: Annotated[
        str | None, typer.Option(help="Version or alias to invoke (default: $LATEST).")
    ] = None,
    is_async: Annotated[
        bool, typer.Option("--async", help="Queue the event (InvocationType=Event).")
    ] = False,
    show_logs: Annotated[
        bool, typer.Option("--logs", help="Print the log tail on stderr.")
    ] = False,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: AsJson = False,
) -> None:
    """Invoke a function: prints its result on stdout; exit 1 if the function failed."""
    if is_async and show_logs:
        raise typer.BadParameter("an --async invoke has no log tail", param_hint="--logs")
    payload = _read_event(event)
    request: dict[str, Any] = {"FunctionName": name, "Payload": payload}
    request["InvocationType"] = "Event" if is_async else "RequestResponse"
    if qualifier:
        request["Qualifier"] = qualifier
    if show_logs:
        request["LogType"] = "Tail"
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        response = remote.lambda_client(for_invoke=True).invoke(**request)
        body: bytes = response["Payload"].read()
    status = response["StatusCode"]
    if is_async:
        request_id = response["ResponseMetadata"].get("RequestId", "")
        if as_json:
            typer.echo(json.dumps({"statusCode": status, "requestId": request_id}))
        else:
            typer.echo(f"{status} Accepted (request {request_id}: queued on disk, delivered next)")
        return
    tail = None
    if show_logs:
        tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    function_error = response.get("FunctionError")
    if as_json:
        try:
            result: Any = json.loads(body) if body else None
        except ValueError:
            result = body.decode("utf-8", "replace")
        summary = {
            "statusCode": status,
            "executedVersion": response.get("ExecutedVersion"),
            "functionError": function_error,
            "payload": result,
            "logs": tail,
        }
        typer.echo(json.dumps(summary))
    else:
        # Plain writes, not rich: logs and payloads must come out byte for byte, unwrapped.
        if tail is not None:
            typer.echo(tail, err=True, nl=False)
        typer.echo(body.decode("utf-8", "replace"))
    if function_error:
        raise typer.Exit(1)


# --- logs ------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """``10m``, ``2h``, ``1d`` (before ``now``) or an ISO time (local if it names no zone)."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            "expected a duration (30s, 10m, 2h, 1d) or an ISO time", param_hint="--since"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


@dataclass
class LogCursor:
    """Which lines of a followed log are new.

    A request's lines are stored together when it ends, but its START line carries the time it
    started: so each poll looks back ``lookback`` seconds (the function's timeout, and some) from
    the newest line seen, and prints only lines of requests it has not printed yet."""

    start: float
    lookback: float
    newest: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)  # request id -> its newest line

    def query_start(self) -> float:
        return max(self.start, self.newest - self.lookback)

    def take(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = [e for e in events if e["requestId"] not in self.seen]
        for e in events:
            self.seen[e["requestId"]] = max(self.seen.get(e["requestId"], 0.0), e["timestamp"])
            self.newest = max(self.newest, e["timestamp"])
        # A request whose every line is older than the next query's start cannot come back.
        horizon = self.query_start()
        self.seen = {rid: ts for rid, ts in self.seen.items() if ts >= horizon}
        return new


def _fetch_logs(
    remote: Remote, name: str, start: float, request_id: str | None, limit: int
) -> list[dict[str, Any]]:
    query = {"start": repr(start), "limit": str(limit)}
    if request_id:
        query["request_id"] = request_id
    path = f"/_gureum/functions/{urllib.parse.quote(name, safe='')}/logs"
    events: list[dict[str, Any]] = remote.get_json(path, query)["events"]
    return events


def _print_events(events: list[dict[str, Any]], as_json: bool) -> None:
    for e in events:
        if as_json:
            typer.echo(json.dumps(e))
            continue
        moment = datetime.datetime.fromtimestamp(e["timestamp"]).astimezone()
        typer.echo(f"{moment.isoformat(timespec='milliseconds')} {e['message']}")


def logs(
    name: FunctionName,
    since: Annotated[
        str, typer.Option(help="From how long ago (30s, 10m, 2h, 1d) or an ISO time.")
    ] = "10m",
    request_id: Annotated[str | None, typer.Option(help="Only this request's lines.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many lines, oldest first.")
    ] = 1000,
    endpoint: Endpoint = DEFAULT_ENDPOINT,
    profile: Profile = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print a function's log lines: START, its output, END and REPORT of each request."""
    start = parse_since(since, time.time())
    remote = connect(endpoint, profile)
    with reporting_errors(endpoint):
        if not follow:
            _print_events(_fetch_logs(remote, name, start, request_id, limit), as_json)
            return
        timeout = remote.lambda_client().get_function_configuration(FunctionName=name)["Timeout"]
        cursor = LogCursor(start, lookback=timeout + 10)
        page = limit
        warned = False
        try:
            while True:
                events = _fetch_logs(remote, name, cursor.query_start(), request_id, page)
                _print_events(cursor.take(events), as_json)
                if len(events) == page == FOLLOW_PAGE and not warned:
                    err.print(f"[yellow]warning[/yellow]: over {page} lines a poll; some skipped")
                    warned = True
                page = FOLLOW_PAGE
                time.sleep(1)
        except KeyboardInterrupt:
            return
