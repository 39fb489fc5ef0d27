"""Uniform random sampling of valid schedules: the floor every agent must beat."""

from __future__ import annotations

import numpy as np

from .base import Algorithm, Evaluator


class RandomSearch(Algorithm):
    name = "random"
    options = {"batch": 256}

    def search(self, problem, ev: Evaluator, rng: np.random.Generator) -> None:
        while not ev.exhausted:
            ev(problem.sample(min(self.config["batch"], ev.remaining), rng))
