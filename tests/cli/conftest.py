"""A real `gureum serve` per test module for the commands that talk to one."""

from __future__ import annotations

import os

import pytest

from tests.gateway.conftest import Server, server

__all__ = ["env", "server"]


@pytest.fixture(scope="module")
def env(server: Server) -> dict[str, str]:
    """The environment the commands run in: pointed at the server, no AWS profile or keys (so
    the dummy pair signs), wide enough that tables are not wrapped."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**clean, "GUREUM_ENDPOINT": server.url, "COLUMNS": "200"}
