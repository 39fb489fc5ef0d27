"""Validation helpers: every bad input becomes a ValueError that names the field and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable


def check_choice(field: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {field} {value!r}; allowed: {', '.join(map(str, allowed))}")


def check_positive(field: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{field} must be a positive number, got {value!r}")


def check_positive_int(field: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")


def check_at_most(field: str, value: int, limit: int) -> None:
    """Raise ``ValueError`` if ``value`` exceeds ``limit`` (sizes beyond what the model computes)."""
    if value > limit:
        raise ValueError(f"{field} must be <= {limit}, got {value!r}")
