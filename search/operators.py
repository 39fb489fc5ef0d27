"""Variation operators that know the schedule encoding (used by GA, NSGA-II and SA).

Moves act on the stage structure, not on raw genes: shift a cut point, move a whole stage to a
neighbouring chiplet, split a stage, swap the chiplets of two stages, put one layer on any
chiplet, split or merge windows at a layer, change a micro-batch.
Every move keeps a valid genome valid (windows stay non-decreasing along each model).
"""

from __future__ import annotations

import numpy as np

from costmodel import Problem
from costmodel.stages import group_runs, stage_runs

MOVES = ("cut", "stage", "split", "swap", "point", "window", "micro_batch")


class GenomeOps:
    """Mutation and crossover for one problem's genomes (numpy int64 vectors)."""

    def __init__(self, problem: Problem, move_weights: dict[str, float] | None = None) -> None:
        self.p = problem
        self.L, self.M, self.W = problem.n_layers, problem.n_models, problem.max_windows
        self.n = problem.mcm.n_chiplets
        ix = problem.index
        self.start = ix.offset
        self.stop = ix.offset + np.array([len(m) for m in problem.workload.models])
        self.model = ix.model
        self.first = ix.first
        g = problem.mcm.graph
        self.neighbours = [sorted(g.neighbors(i)) for i in range(self.n)]
        w = {"cut": 3, "stage": 3, "split": 2, "swap": 1, "point": 1, "window": 1, "micro_batch": 1}
        w.update(move_weights or {})
        if self.W == 1:
            w["window"] = 0
        if all(len(o) == 1 for o in problem.mb_options):
            w["micro_batch"] = 0
        self.moves = [m for m in MOVES if w[m] > 0]
        pr = np.array([w[m] for m in self.moves], dtype=float)
        self.move_p = pr / pr.sum()
        self.mb_n = np.array([len(o) for o in problem.mb_options])

    def _neighbour(self, c: int, rng: np.random.Generator) -> int:
        nb = self.neighbours[c]
        if nb and rng.random() < 0.8:
            return int(nb[rng.integers(len(nb))])
        return int(rng.integers(self.n))

    def _stage(self, C, Wn, l):
        """``[a, b)``: the stage (same model, window and chiplet run) holding layer ``l``."""
        starts = np.flatnonzero(stage_runs(C, Wn, self.first))
        k = int(np.searchsorted(starts, l, side="right"))
        return int(starts[k - 1]), int(starts[k]) if k < len(starts) else self.L

    def mutate(self, genome: np.ndarray, rng: np.random.Generator, n_moves: int = 1) -> np.ndarray:
        g = genome.copy()
        L = self.L
        C, Wn = g[:L], g[L : 2 * L]
        mb = g[2 * L :].reshape(self.M, self.W)
        for _ in range(n_moves):
            move = self.moves[rng.choice(len(self.moves), p=self.move_p)]
            l = int(rng.integers(L))
            if move == "cut":
                cuts = np.flatnonzero(stage_runs(C, Wn, self.first) & ~group_runs(Wn, self.first))
                if len(cuts) == 0:
                    move = "split"
                else:
                    c = int(cuts[rng.integers(len(cuts))])
                    if rng.random() < 0.5:
                        C[c] = C[c - 1]  # the cut moves one layer later
                    else:
                        C[c - 1] = C[c]  # one layer earlier
                    continue
            if move == "stage":
                a, b = self._stage(C, Wn, l)
                C[a:b] = self._neighbour(int(C[l]), rng)
            elif move == "split":
                a, b = self._stage(C, Wn, l)
                if b - a > 1:
                    cut = int(rng.integers(a + 1, b))
                    C[cut:b] = self._neighbour(int(C[l]), rng)
                else:
                    C[l] = self._neighbour(int(C[l]), rng)
            elif move == "swap":  # two stages trade chiplets
                a, b = self._stage(C, Wn, l)
                l2 = int(rng.integers(L))
                a2, b2 = self._stage(C, Wn, l2)
                c1, c2 = int(C[l]), int(C[l2])
                C[a:b], C[a2:b2] = c2, c1
            elif move == "point":  # one layer to any chiplet
                C[l] = int(rng.integers(self.n))
            elif move == "window":
                m = self.model[l]
                end = self.stop[m]
                if self.first[l]:
                    continue
                if Wn[l] > Wn[l - 1]:  # merge: the windows from l on move one earlier
                    Wn[l:end] -= 1
                elif Wn[end - 1] < self.W - 1:  # split: the windows from l on move one later
                    Wn[l:end] += 1
            elif move == "micro_batch":
                m = int(rng.integers(self.M))
                mb[m, int(rng.integers(self.W))] = int(rng.integers(self.mb_n[m]))
        return g

    def crossover(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each model's schedule from one parent; then, with probability 1/2, a one-point cross
        inside one model (prefix from one parent, suffix from the other), windows repaired by a
        running maximum so they stay ordered."""
        L = self.L
        child = a.copy()
        take_b = rng.random(self.M) < 0.5
        for m in np.flatnonzero(take_b):
            s, e = self.start[m], self.stop[m]
            child[s:e] = b[s:e]
            child[L + s : L + e] = b[L + s : L + e]
            child[2 * L + m * self.W : 2 * L + (m + 1) * self.W] = b[
                2 * L + m * self.W : 2 * L + (m + 1) * self.W
            ]
        if rng.random() < 0.5:
            m = int(rng.integers(self.M))
            s, e = self.start[m], self.stop[m]
            if e - s > 1:
                cut = int(rng.integers(s + 1, e))
                other = a if take_b[m] else b
                child[cut:e] = other[cut:e]
                child[L + cut : L + e] = other[L + cut : L + e]
                child[L + s : L + e] = np.maximum.accumulate(child[L + s : L + e])
        return child
