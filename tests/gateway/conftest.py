"""A real `gureum serve` in a subprocess, and real boto3 clients talking to it."""

from __future__ import annotations

import gc
import itertools
import json
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import make_zip, source

_names = itertools.count(1)


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    banner: list[str]
    clients: list[Any] = field(default_factory=list)
    http_url: str = ""  # the user-facing listener: function URLs and HTTP routes

    def client(self, service: str = "lambda", **config: Any) -> Any:
        """A boto3 client of ``service`` for this server, closed when the server stops."""
        client = boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=60, **config),
        )
        self.clients.append(client)
        return client

    def stop(self) -> int:
        for client in self.clients:
            client.close()
        # A response body a test never read keeps its pooled connection in a reference cycle; it
        # is the test client's socket, not the server's: collect those now, quietly, rather than
        # in the middle of a later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return status

    def release(self) -> None:
        """Stop the server if it still runs; if a test killed it, close what is left."""
        if self.process.poll() is None:
            self.stop()
            return
        for client in self.clients:
            client.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_server(data_dir: Path, *extra: str) -> Server:
    """Start `gureum serve` on a free port; returns once it announced it is listening."""
    env = {
        **os.environ,
        "GUREUM_DATA_DIR": str(data_dir),
        "GUREUM_PORT": "0",
        "GUREUM_HTTP_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gureum", "serve", *extra],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    # The server binds before it starts and prints these lines once it accepts requests.
    banner = [process.stdout.readline().strip() for _ in range(5)]
    if not banner[0].startswith("gureum listening on "):
        process.kill()
        raise AssertionError(f"gureum serve did not start: {banner}")
    url = banner[0].removeprefix("gureum listening on ")
    http_url = banner[4].removeprefix("functions at ")
    return Server(url, data_dir, process, banner, http_url=http_url)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


@pytest.fixture
def killable(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, which the test may kill -9."""
    running = start_server(tmp_path / "data")
    try:
        yield running
    finally:
        running.release()


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    """A boto3 Lambda client pointed at the server."""
    return server.client()


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{next(_names)}"


def code(text: str) -> bytes:
    return make_zip({"app.py": source(text)})


ECHO = code(
    """
    def handler(event, context):
        print("echoing")
        return event
    """
)


def create(lam: Any, name: str, zip_bytes: bytes = ECHO, **extra: Any) -> dict[str, Any]:
    extra.setdefault("Runtime", f"python{sys.version_info.major}.{sys.version_info.minor}")
    extra.setdefault("Handler", "app.handler")
    extra.setdefault("Role", "arn:aws:iam::000000000000:role/lambda")
    response: dict[str, Any] = lam.create_function(
        FunctionName=name, Code={"ZipFile": zip_bytes}, **extra
    )
    return response


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    """(error code, HTTP status, message) of a botocore ClientError."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@dataclass
class AwsCli:
    """Runs the real AWS CLI (v1) against a server, with dummy credentials and no user config."""

    url: str
    env: dict[str, str]
    service: str = ""  # put before every call's arguments ("lambda", "sqs"); "" for s3/s3api

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "awscli", *([self.service] if self.service else [])]
        command += [*args, "--endpoint-url", self.url, "--region", "us-east-1", "--output", "json"]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=120)

    def ok(self, *args: str) -> Any:
        """The parsed JSON output of a call that must succeed ({} when it prints nothing; the
        text itself when it prints other than JSON, as `aws s3 ...` does)."""
        done = self.run(*args)
        assert done.returncode == 0, f"aws {self.service} {' '.join(args)}: {done.stderr}"
        output = done.stdout.strip()
        if not output:
            return {}
        return json.loads(output) if output.startswith("{") else done.stdout

    def fails(self, *args: str) -> str:
        """The stderr of a call that must fail."""
        done = self.run(*args)
        assert done.returncode != 0, f"aws {self.service} {' '.join(args)} succeeded: {done.stdout}"
        return done.stderr


def aws_cli(server: Server, home: Path, service: str = "", key_id: str = "test") -> AwsCli:
    """An AwsCli for ``server`` whose config and credentials files are in ``home``."""
    config, credentials = home / "config", home / "credentials"
    # `--cli-binary-format raw-in-base64-out` is a v2 flag that v1 refuses; this setting means the
    # same to v2 and is harmless to v1, whose blobs are raw already.
    config.write_text("[default]\ncli_binary_format = raw-in-base64-out\n")
    credentials.write_text("")
    # Nothing from the developer's own AWS setup (profile, region, endpoint) may leak in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key_id,
        AWS_SECRET_ACCESS_KEY="test",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_PAGER="",
    )
    return AwsCli(server.url, env, service)
