"""Batch evaluator backends: pure functions ``(CompiledProblem, genomes, detail=) -> BatchResult``.

``numpy`` is always there; ``numba`` needs the ``fast`` extra and is imported only when asked
for, so the package imports without it. Both repair invalid rows the same way
(:func:`repair_genomes`) and compute docs/evaluation.md exactly.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache

from .batch import evaluate_batch as numpy_evaluate
from .compiled import repair_genomes
from .errors import check_choice
from .results import BatchResult

BACKENDS = ("numpy", "numba")
__all__ = [
    "BACKENDS",
    "batch_evaluator",
    "default_backend",
    "numba_available",
    "repair_genomes",
    "resolve_backend",
]

BatchEvaluator = Callable[..., BatchResult]


@cache
def numba_available() -> bool:
    """Whether numba is installed (checked without importing it; once per process: the check
    costs ~50 us and every evaluation and canonical form of a search asks)."""
    return importlib.util.find_spec("numba") is not None


def default_backend() -> str:
    """``numba`` when installed, else ``numpy``."""
    return "numba" if numba_available() else "numpy"


def resolve_backend(name: str | None = None) -> str:
    """``name`` checked (one of :data:`BACKENDS`, numba only when installed), ``None``:
    :func:`default_backend`."""
    name = default_backend() if name is None else name
    check_choice("backend", name, BACKENDS)
    if name == "numba" and not numba_available():
        raise ValueError(
            "backend 'numba' needs the 'fast' extra: pip install 'chiplet-sched[fast]'"
        )
    return name


def batch_evaluator(name: str | None = None) -> BatchEvaluator:
    """The batch evaluator of backend ``name`` (``None``: :func:`default_backend`)."""
    if resolve_backend(name) == "numba":
        from .numba_batch import evaluate_batch as numba_evaluate

        return numba_evaluate
    return numpy_evaluate
