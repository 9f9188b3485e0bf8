"""ListObjects' paging and rolling up of keys into common prefixes, over a key-ordered scan."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .types import Listing, ObjectInfo

# Sorts after every character: a common prefix followed by it is past all keys starting with it.
_LAST_CHARACTER = "\U0010ffff"

Scan = Callable[[str], Iterator[ObjectInfo]]  # objects with keys after the argument, in order


def list_page(scan: Scan, prefix: str, delimiter: str, max_keys: int, after: str) -> Listing:
    """Up to ``max_keys`` keys and common prefixes (together) after ``after``.

    ``after`` may be a common prefix a previous page ended with: the keys under it are skipped."""
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    rolled = after if after and _common_prefix(after, prefix, delimiter) == after else None
    start = after if rolled is None else rolled + _LAST_CHARACTER
    if max_keys <= 0:
        return Listing([], [], _any(scan(start), rolled), None)
    last: str | None = None
    while True:
        restart = None
        for info in scan(start):
            if rolled is not None and info.key.startswith(rolled):
                continue
            if len(contents) + len(prefixes) == max_keys:
                return Listing(contents, prefixes, True, last)
            common = _common_prefix(info.key, prefix, delimiter)
            if common is None:
                contents.append(info)
                last = info.key
                continue
            prefixes.append(common)
            rolled = last = common
            # Skip past everything under it with a new scan rather than reading it all.
            restart = common + _LAST_CHARACTER
            break
        if restart is None:
            return Listing(contents, prefixes, False, None)
        start = restart


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter or not key.startswith(prefix):
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _any(objects: Iterator[ObjectInfo], rolled: str | None) -> bool:
    return any(rolled is None or not info.key.startswith(rolled) for info in objects)
