"""The data on disk is readable by calsync's user alone: the var folder (database, secret key,
the built-in calendar's .ics files, private events included) is 0700 with files 0600.

`secure_var_dir` runs at start-up (`create_app`, every CLI command): it sets the process umask
to 077 so that whatever is created from then on (SQLite and its -wal/-shm files, Radicale's
files) is private, and it fixes the modes of what an older version left world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.lstat().st_mode) & ~mode:
            path.chmod(mode)
    except OSError:
        pass  # a file that vanished, or one we do not own: nothing to fix here


def secure_var_dir(var_dir: Path, extra_files: list[Path] | None = None) -> None:
    """Umask 077, `var_dir` created 0700, and every folder / file below it made private.
    `extra_files`: data files kept elsewhere (a SQLite database outside the var folder)."""
    os.umask(0o077)
    var_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(var_dir, DIR_MODE)
    for root, dirs, files in os.walk(var_dir):
        for name in dirs:
            if not (Path(root) / name).is_symlink():
                _tighten(Path(root) / name, DIR_MODE)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                _tighten(path, FILE_MODE)
    for path in extra_files or []:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            if candidate.exists() and not candidate.is_symlink():
                _tighten(candidate, FILE_MODE)


def sqlite_file(database_url: str) -> Path | None:
    """The file of a sqlite:/// URL, or None for other databases and in-memory SQLite."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    path = database_url[len(prefix):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None
