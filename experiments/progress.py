"""Progress of an experiment's runs, so a long config shows where it is.

On a terminal: a tqdm bar over the runs, advanced as each run finishes (whatever the executor),
with the running run's evaluations and best-so-far as its postfix. Elsewhere (a log file, CI): a
plain line every few seconds instead, e.g. ``[12:01:05] run 3/12 ga seed 1: 1,200/2,000 evals,
best 3.15``. Within-run figures come from :func:`search.run`'s ``progress`` callback, so they are
shown only for runs in this process (the serial executor); with a process or Dask executor the
runs' completions are shown. Updates are throttled: at most one per :data:`BAR_INTERVAL_S` on a
bar, one line per :data:`LOG_INTERVAL_S` in a log, the first one no earlier than that, so a short
job prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

#: seconds between two postfix updates of the bar
BAR_INTERVAL_S = 1.0
#: seconds between two plain log lines (stderr not a terminal)
LOG_INTERVAL_S = 5.0


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class RunProgress:
    """Progress over ``total`` runs. :meth:`within` gives one run's callback for
    :func:`search.run`; :meth:`finished` counts a finished (or failed) run. A context manager:
    closing it ends the bar, or prints a last log line if any was printed."""

    def __init__(
        self,
        total: int,
        desc: str = "",
        stream: TextIO | None = None,
        tty: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc = int(total), desc
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.interval = (
            (BAR_INTERVAL_S if self.tty else LOG_INTERVAL_S) if interval is None else interval
        )
        self.clock = clock
        self.done = 0
        self.lines = 0  # plain log lines printed
        self._t0 = self._last = clock()
        self._bar = (
            tqdm(total=self.total, desc=desc, file=self.stream, leave=False) if self.tty else None
        )

    def within(self, label: str, evals: int | None = None) -> Callable[[int, float], None]:
        """The callback ``(evaluations done, best so far)`` of the next run to finish (runs in
        this process finish in order), labelled ``label`` (e.g. ``ga seed 1``) out of ``evals``."""

        def report(n: int, best: float) -> None:
            of = f"/{evals:,}" if evals else ""
            self._show(
                f"run {self.done + 1}/{self.total} {label}: {n:,}{of} evals, best {best:.4g}"
            )

        return report

    def finished(self, label: str, best: float | None = None) -> None:
        """One run finished (``best``: its final objective; ``None``: it failed)."""
        self.done += 1
        how = "failed" if best is None else f"best {best:.4g}"
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"last: {label}, {how}", refresh=False)
        else:
            self._show(f"{self.done}/{self.total} runs done (last: {label}, {how})")

    def _show(self, text: str) -> None:
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        prefix = f"{self.desc}: " if self.desc else ""
        print(f"[{time.strftime('%H:%M:%S')}] {prefix}{text}", file=self.stream, flush=True)
        self.lines += 1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.lines:
            self._line(f"{self.done}/{self.total} runs done in {self.clock() - self._t0:.1f} s")
            self.lines = 0

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
