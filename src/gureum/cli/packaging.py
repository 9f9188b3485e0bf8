"""Turning a folder of handler code into the zip gureum deploys.

Zips are reproducible: the same files give the same bytes (sorted entries, a fixed timestamp), so
the same code gives the same SHA-256 and a redeploy of unchanged code can be skipped.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
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
REQUIREMENTS = "requirements.txt"
# The earliest time a zip entry can carry; any fixed value makes the archive reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(Exception):
    """The code could not be packaged (pip failed, for one); the message says why."""


def _files(root: Path) -> dict[str, Path]:
    """Archive name -> file, for every file under ``root`` that is shipped."""
    found = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".pyc"):
                continue
            path = Path(directory) / name
            found[path.relative_to(root).as_posix()] = path
    return found


def zip_directories(*roots: Path) -> bytes:
    """Zip the contents of ``roots`` into one archive (a later root wins over an earlier one)."""
    files: dict[str, Path] = {}
    for root in roots:
        files.update(_files(root))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            path = files[name]
            entry = zipfile.ZipInfo(name, ZIP_EPOCH)
            entry.external_attr = (path.stat().st_mode & 0xFFFF) << 16  # keeps the x bit
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def zip_directory(root: Path) -> bytes:
    """Zip ``root``'s contents (paths relative to it, deterministic bytes, modes kept)."""
    return zip_directories(root)


def vendor_requirements(requirements: Path, target: Path) -> None:
    """``pip install --target`` with this interpreter, from the requirements file's folder (so
    relative paths in it mean what they mean to ``pip install -r`` run there)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--target",
        str(target),
        "-r",
        str(requirements.resolve()),
    ]
    result = subprocess.run(
        command, cwd=requirements.parent, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise PackagingError(f"pip could not install {requirements}:\n{detail}")


def package(code_dir: Path) -> bytes:
    """The zip of ``code_dir``, with its ``requirements.txt`` (if any) installed into it."""
    requirements = code_dir / REQUIREMENTS
    if not requirements.is_file():
        return zip_directory(code_dir)
    with tempfile.TemporaryDirectory(prefix="gureum-deps-") as deps:
        vendor_requirements(requirements, Path(deps))
        # The function's own files win over a vendored file of the same name.
        return zip_directories(Path(deps), code_dir)
