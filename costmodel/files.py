"""Atomic file writes: every result file appears whole or not at all.

:func:`atomic_open` (an :class:`AtomicFile`) writes to a hidden temporary file in the target's
folder and moves it over the target with :func:`os.replace` (atomic on POSIX and Windows) only
when the ``with`` block ends without an error; on an error (Ctrl-C included) the temporary file is
removed and the target is left as it was. A process killed mid-write leaves at most a
``.NAME.*.tmp`` file beside it.

The temporary file is created on first use of :attr:`AtomicFile.file`, not by the constructor:
a Ctrl-C between a constructor's return and the assignment of its result (``x = AtomicFile(p)``)
would otherwise leave a file that nothing refers to and no ``finally`` can remove (CI found
one). The first use removes the file itself if it is interrupted after the file exists.
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
        self._mode, self._kwargs = mode.replace("w", "x"), kwargs
        self._file: IO | None = None

    @property
    def file(self) -> IO:
        """The temporary file, created on first use."""
        if self._file is None:
            try:
                self._file = open(self.tmp, self._mode, **self._kwargs)  # noqa: SIM115
            except OSError:  # not created (or not ours: "x" refuses an existing name)
                raise
            except BaseException:  # a Ctrl-C after the file exists, before it is held here
                self.tmp.unlink(missing_ok=True)
                raise
        return self._file

    def commit(self) -> Path:
        """Flush, sync and close the file (an empty one if nothing was written) and move it
        onto ``path``."""
        try:
            f = self.file
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file; ``path`` is left as it was."""
        try:
            if self._file is not None:
                self._file.close()
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
