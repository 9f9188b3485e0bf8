"""Where gureum keeps its data on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """Per user, as XDG says: $XDG_DATA_HOME/gureum, or ~/.local/share/gureum."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "gureum"
