"""Where GridBot keeps files that are not the database."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """A writable cache folder (jieba's dictionary cache: about a second off every start),
    or None when there is none: then nothing is cached and nothing fails.

    $GRIDBOT_CACHE_DIR, else $XDG_CACHE_HOME/gridbot, else ~/.cache/gridbot.
    """
    configured = os.environ.get("GRIDBOT_CACHE_DIR")
    if configured:
        path = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "gridbot"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None
