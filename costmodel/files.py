"""Atomic file writes: every result file appears whole or not at all.

:func:`atomic_open` (an :class:`AtomicFile`) writes to a hidden temporary file in the target's
folder and moves it over the target with :func:`os.replace` (atomic on POSIX and Windows) only
when the ``with`` block ends without an error; on an error (Ctrl-C included) the temporary file is
removed and the target is left as it was. A process killed mid-write leaves at most a
``.NAME.*.tmp`` file beside it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import IO, Any


class AtomicFile:
    """A hidden temporary file beside ``path``, open for writing as :attr:`file`:
    :meth:`commit` moves it onto ``path``, :meth:`discard` deletes it. As a context manager it
    yields the file and commits on a clean exit, discards on an error."""

    def __init__(self, path: str | Path, mode: str = "w", **kwargs: Any) -> None:
        if mode not in ("w", "wb"):
            raise ValueError(f"atomic file mode must be 'w' or 'wb', got {mode!r}")
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        self.file: IO = open(self.tmp, mode.replace("w", "x"), **kwargs)  # noqa: SIM115

    def commit(self) -> Path:
        """Flush, sync and close the file and move it onto ``path``."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file; ``path`` is left as it was."""
        try:
            self.file.close()
        finally:  # also when the close is interrupted (Ctrl-C) or fails
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> IO:
        return self.file

    def __exit__(self, exc_type: type | None, *exc: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> AtomicFile:
    """``with atomic_open(path) as f:`` writes ``path`` whole or not at all (``mode`` ``"w"``
    or ``"wb"``, plus ``open``'s keywords)."""
    return AtomicFile(path, mode, **kwargs)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(obj, indent=indent))
