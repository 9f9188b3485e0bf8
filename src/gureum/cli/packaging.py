"""Turning a folder of handler code into the zip gureum deploys."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

# Never shipped: caches and VCS data that only bloat the package.
SKIPPED_DIRS = {
    "__pycache__",
    ".git",
    ".hg",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}


def zip_directory(root: Path) -> bytes:
    """Zip ``root``'s contents (paths relative to it, deterministic order, modes kept)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                path = Path(directory) / name
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
