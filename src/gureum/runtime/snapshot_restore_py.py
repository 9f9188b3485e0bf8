"""Lambda's SnapStart runtime hooks for Python, importable in every sandbox as
``snapshot_restore_py`` (the name AWS's runtime gives it):

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reconnect, "db.example", port=5432)

Before-snapshot hooks run once, in the instance whose init becomes the snapshot, in the reverse
order of registration; after-restore hooks run in every instance forked from it, in the order
of registration, before it takes its first invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` just before the snapshot is taken. Usable as a decorator."""
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` in each instance restored from the snapshot. Usable as a
    decorator."""
    _after_restore.append((func, args, kwargs))
    return func


def run_before_snapshot() -> None:
    for func, args, kwargs in reversed(_before_snapshot):
        func(*args, **kwargs)


def run_after_restore() -> None:
    for func, args, kwargs in _after_restore:
        func(*args, **kwargs)
