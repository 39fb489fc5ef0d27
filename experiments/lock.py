"""One process at a time per results folder: a lock file (``.lock``) held while a command writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block (the folder is created if needed); ``ValueError``
    naming the folder at once if another process holds it."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot use {folder} as a results folder: {exc.strerror}") from None
    lock = FileLock(str(folder / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ValueError(
            f"results folder {folder} is in use by another run (it holds {folder / LOCK_NAME}); "
            "wait for it to finish or use another --out"
        ) from None
    try:
        yield folder
    finally:
        lock.release()
