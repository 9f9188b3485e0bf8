"""What gureum's user-facing HTTP listener serves: function URLs and HTTP routes.

A function URL gives one function (unqualified, or one alias) its own address; its config has
Lambda's fields (``CreateFunctionUrlConfig``). HTTP routes ("GET /users/{id}", "ANY /{proxy+}",
"$default") are grouped by an owner, usually what one manifest deploys: setting an owner's routes
replaces exactly that owner's, and a key belongs to one owner at a time.

Both are stored in ``http.db`` and held in memory (a dict by url id, one ``RouteTable``), rebuilt
on every change, so that serving a request never touches the disk.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .gateway.routes import Match, Route, RouteKeyError, RouteTable
from .store.http import HttpStore, RouteRow

if TYPE_CHECKING:
    from .platform import Platform

URL_ID_ALPHABET = string.ascii_lowercase + string.digits
URL_ID_LENGTH = 32
DEFAULT_HTTP_PORT = 9001  # `gureum serve --http-port`'s default, until the server says otherwise
CORS_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})
# An owner is a path segment of /_gureum/routes/{owner}.
OWNER_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True, slots=True)
class UrlConfig:
    url_id: str
    function: str
    qualifier: str | None  # an alias; None: the unqualified function ($LATEST)
    auth_type: str  # NONE or AWS_IAM
    cors: dict[str, Any] | None  # Lambda's Cors shape
    invoke_mode: str
    creation_time: str
    last_modified_time: str

    def to_json(self) -> dict[str, Any]:
        return {
            "urlId": self.url_id,
            "function": self.function,
            "qualifier": self.qualifier,
            "authType": self.auth_type,
            "cors": self.cors,
            "invokeMode": self.invoke_mode,
            "creationTime": self.creation_time,
            "lastModifiedTime": self.last_modified_time,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UrlConfig:
        return cls(
            data["urlId"],
            data["function"],
            data["qualifier"],
            data["authType"],
            data["cors"],
            data["invokeMode"],
            data["creationTime"],
            data["lastModifiedTime"],
        )


def target_of(target: str) -> tuple[str, str | None]:
    """A route's target "name[:qualifier]" -> (name, qualifier)."""
    name, sep, qualifier = target.partition(":")
    return name, qualifier if sep else None


def check_cors(cors: dict[str, Any] | None) -> dict[str, Any] | None:
    """InvalidParameterValueException for what Lambda's model allows but a browser cannot use."""
    if not cors:
        return None
    methods = [m.upper() for m in cors.get("AllowMethods") or []]
    unknown = [m for m in methods if m not in CORS_METHODS]
    if unknown:
        raise InvalidParameterValueException(
            f"Cors.AllowMethods: {', '.join(unknown)} is not an HTTP method or '*'"
        )
    max_age = cors.get("MaxAge")
    if max_age is not None and not 0 <= max_age <= 86400:
        raise InvalidParameterValueException("Cors.MaxAge must be from 0 to 86400 seconds")
    return {**cors, "AllowMethods": methods} if "AllowMethods" in cors else dict(cors)


class HttpEndpoints:
    """Function URL configs and HTTP routes. Changes are serialised; reads are dict lookups."""

    def __init__(self, platform: Platform, path: Path) -> None:
        self._platform = platform
        self._path = path
        self._store: HttpStore | None = None
        self._lock = asyncio.Lock()
        self.urls: dict[str, UrlConfig] = {}  # by url id: the listener's lookup
        self._by_function: dict[tuple[str, str | None], UrlConfig] = {}
        self._rows: list[RouteRow] = []
        self.table = RouteTable(())
        # The user-facing listener's port, for the FunctionUrl a config reports (set by serve).
        self.port = DEFAULT_HTTP_PORT

    async def load(self) -> None:
        self._store = await asyncio.to_thread(HttpStore, self._path)
        urls = await asyncio.to_thread(self._store.list_urls)
        self._set_urls([UrlConfig.from_json(u) for u in urls])
        self._set_routes(await asyncio.to_thread(self._store.list_routes))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    @property
    def store(self) -> HttpStore:
        assert self._store is not None, "HttpEndpoints.load() was not awaited"
        return self._store

    # -- function URLs ----------------------------------------------------------------------------

    def function_url(self, config: UrlConfig) -> str:
        region = self._platform.settings.engine.region
        return f"http://{config.url_id}.lambda-url.{region}.localhost:{self.port}/"

    def get_url(self, name: str, qualifier: str | None) -> UrlConfig:
        self._check_target(name, qualifier)
        found = self._by_function.get((name, qualifier))
        if found is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return found

    def list_urls(self, name: str) -> list[UrlConfig]:
        self._platform.config(name)
        return sorted(
            (c for (function, _), c in self._by_function.items() if function == name),
            key=lambda c: c.qualifier or "",
        )

    async def create_url(
        self,
        name: str,
        qualifier: str | None,
        auth_type: str,
        cors: dict[str, Any] | None,
        invoke_mode: str | None,
    ) -> UrlConfig:
        self._check_target(name, qualifier)
        async with self._lock:
            if (name, qualifier) in self._by_function:
                arn = self._arn(name, qualifier)
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            now = self._now()
            config = UrlConfig(
                url_id=self._new_url_id(),
                function=name,
                qualifier=qualifier,
                auth_type=auth_type,
                cors=check_cors(cors),
                invoke_mode=_invoke_mode(invoke_mode),
                creation_time=now,
                last_modified_time=now,
            )
            await self._save(config)
        return config

    async def update_url(
        self,
        name: str,
        qualifier: str | None,
        auth_type: str | None,
        cors: dict[str, Any] | None,
        invoke_mode: str | None,
    ) -> UrlConfig:
        async with self._lock:
            current = self.get_url(name, qualifier)
            config = UrlConfig(
                url_id=current.url_id,
                function=name,
                qualifier=qualifier,
                auth_type=auth_type or current.auth_type,
                cors=check_cors(cors) if cors is not None else current.cors,
                invoke_mode=_invoke_mode(invoke_mode) if invoke_mode else current.invoke_mode,
                creation_time=current.creation_time,
                last_modified_time=self._now(),
            )
            await self._save(config)
        return config

    async def delete_url(self, name: str, qualifier: str | None) -> None:
        async with self._lock:
            self.get_url(name, qualifier)
            await asyncio.to_thread(self.store.delete_url, name, qualifier or "")
            self._set_urls(
                [c for c in self.urls.values() if (c.function, c.qualifier) != (name, qualifier)]
            )

    async def _save(self, config: UrlConfig) -> None:
        await asyncio.to_thread(
            self.store.put_url,
            config.function,
            config.qualifier or "",
            config.url_id,
            config.to_json(),
        )
        others = [c for c in self.urls.values() if c.url_id != config.url_id]
        self._set_urls([*others, config])

    def _set_urls(self, configs: list[UrlConfig]) -> None:
        # Replaced whole, never mutated: a request being served keeps a consistent view.
        self.urls = {c.url_id: c for c in configs}
        self._by_function = {(c.function, c.qualifier): c for c in configs}

    def _new_url_id(self) -> str:
        while True:
            url_id = "".join(secrets.choice(URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))
            if url_id not in self.urls:
                return url_id

    def _check_target(self, name: str, qualifier: str | None) -> None:
        """ResourceNotFoundException unless the function (and its alias) exists."""
        if qualifier is None:
            self._platform.config(name)
        else:
            self._platform.aliases.get(name, qualifier)

    def _arn(self, name: str, qualifier: str | None) -> str:
        arn = self._platform.settings.engine.function_arn(name)
        return f"{arn}:{qualifier}" if qualifier else arn

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self._platform.clock.time(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    # -- HTTP routes ------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> Match | None:
        return self.table.match(method, path)

    def routes(self) -> list[tuple[str, Route]]:
        """(owner, route) for every route, by owner, in the order each owner gave them."""
        return [(owner, Route(key, target, fmt)) for owner, key, target, _, fmt in self._rows]

    async def set_routes(self, owner: str, routes: list[Route]) -> None:
        """The owner's routes become ``routes``. InvalidParameterValueException for a bad key,
        ResourceConflictException for a key another owner has, ResourceNotFoundException for a
        target that does not exist; nothing changes then."""
        if not OWNER_NAME.fullmatch(owner):
            raise InvalidParameterValueException(
                f"owner {owner!r}: 1 to 128 letters, digits, '.', '_' or '-'"
            )
        try:
            RouteTable(routes)
        except RouteKeyError as error:
            raise InvalidParameterValueException(str(error)) from None
        for route in routes:
            self._platform.resolve(*target_of(route.target))
        async with self._lock:
            taken = {key: other for other, key, *_ in self._rows if other != owner}
            for route in routes:
                if route.key in taken:
                    raise ResourceConflictException(
                        f"route {route.key!r} belongs to {taken[route.key]!r}"
                    )
            mine = [
                (owner, r.key, r.target, target_of(r.target)[0], r.payload_format) for r in routes
            ]
            rows = [row for row in self._rows if row[0] != owner] + mine
            try:
                self._check_table(rows)
            except RouteKeyError as error:
                raise ResourceConflictException(str(error)) from None
            await asyncio.to_thread(self.store.replace_routes, owner, mine)
            self._set_routes(rows)

    async def delete_routes(self, owner: str) -> None:
        async with self._lock:
            if not any(row[0] == owner for row in self._rows):
                raise ResourceNotFoundException(f"no routes are owned by {owner!r}")
            await asyncio.to_thread(self.store.replace_routes, owner, [])
            self._set_routes([row for row in self._rows if row[0] != owner])

    def _check_table(self, rows: list[RouteRow]) -> RouteTable:
        return RouteTable(Route(key, target, fmt) for _, key, target, _, fmt in rows)

    def _set_routes(self, rows: list[RouteRow]) -> None:
        self.table = self._check_table(rows)
        self._rows = rows

    # -- the platform's own changes ---------------------------------------------------------------

    async def forget_qualifier(self, name: str, qualifier: str) -> None:
        """A deleted alias loses its URL, as on Lambda (routes naming it stay, and answer 502
        until they are changed, as an API Gateway integration would)."""
        async with self._lock:
            if (name, qualifier) not in {(c.function, c.qualifier) for c in self.urls.values()}:
                return
            await asyncio.to_thread(self.store.delete_url, name, qualifier)
            self._set_urls(
                [c for c in self.urls.values() if (c.function, c.qualifier) != (name, qualifier)]
            )

    async def forget_function(self, name: str) -> None:
        """A deleted function loses its URLs and the routes that target it."""
        async with self._lock:
            await asyncio.to_thread(self.store.delete_function, name)
            self._set_urls([c for c in self.urls.values() if c.function != name])
            self._set_routes([row for row in self._rows if row[3] != name])


def _invoke_mode(mode: str | None) -> str:
    if mode in (None, "BUFFERED"):
        return "BUFFERED"
    raise InvalidParameterValueException(
        f"InvokeMode {mode} is not supported by gureum: function URLs answer BUFFERED only"
    )
