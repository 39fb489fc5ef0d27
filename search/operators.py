"""Variation operators and constructive starts that know the schedule encoding (GA, NSGA-II, SA).

Everything here works on whole populations ``[P, G]`` at once: a move kind or a crossover draws
its random numbers for all its rows with numpy, then hands the rows and the draws to a kernel
(:func:`move_kernels`: per row and compiled with numba, touching only the layers a move changes,
or numpy over whole rows without the ``fast`` extra; both give the same children).

Moves act on the stage structure, not on raw genes (docs/design.md, "Schedules and the genome"):

- ``cut``: shift a cut point between two stages of one group by one to three layers;
- ``merge``: a stage joins the stage before it (a cut point disappears);
- ``stage``: a whole stage moves to a neighbouring chiplet (sometimes any chiplet);
- ``split``: a stage is cut in two, the second half moving to a neighbour;
- ``swap``: two stages trade chiplets;
- ``run``: a contiguous run of layers of one model goes to one chiplet (length 1: one layer);
- ``window``: split or merge windows at a layer (the windows from there on move by one);
- ``group``: one model's group (its layers in one window) moves to another window between its
  neighbours' windows;
- ``micro_batch``: a used window of a model takes another micro-batch size.

Every move keeps a valid genome valid (chiplet genes take any chiplet; window moves keep the
windows non-decreasing along each model), and crossover restores window order with a segmented
running maximum. :meth:`GenomeOps.starts` builds structure-aware first populations that are not
the baselines: per model a few windows, contiguous stages cut at random points or balanced by
cost, and chiplets along a random walk on the mesh (with random jumps).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from costmodel import Problem
from costmodel.backends import resolve_backend
from env.improve import MOVE_NAMES

#: the move kinds (their one list lives with the Improve-v0 environment, whose actions name them)
MOVES = MOVE_NAMES

#: default relative frequency of each move
MOVE_WEIGHTS: dict[str, float] = {
    "cut": 3,
    "merge": 1,
    "stage": 3,
    "split": 2,
    "swap": 1,
    "run": 1,
    "window": 1,
    "group": 1,
    "micro_batch": 1,
}


def move_kernels(backend: str | None = None) -> ModuleType:
    """The kernels the moves and crossover hand their rows to: :mod:`search.moves_numba`
    (compiled, per row, only the layers a move touches) or :mod:`search.moves_numpy` (whole
    rows); both give equal results. ``None``: the evaluator's default backend (numba when the
    ``fast`` extra is installed)."""
    if resolve_backend(backend) == "numba":
        from . import moves_numba

        return moves_numba
    from . import moves_numpy

    return moves_numpy


class GenomeOps:
    """Mutation, crossover and constructive starts for one problem's genomes (int64 rows)."""

    def __init__(
        self,
        problem: Problem,
        move_weights: dict[str, float] | None = None,
        backend: str | None = None,
    ) -> None:
        self.p = problem
        self.k = move_kernels(backend)
        self.L, self.M, self.W = problem.n_layers, problem.n_models, problem.max_windows
        self.n = problem.mcm.n_chiplets
        self.rows, self.cols = problem.mcm.rows, problem.mcm.cols
        ix = problem.index
        self.start = np.asarray(ix.offset, dtype=np.int64)
        self.size = np.array([len(m) for m in problem.workload.models], dtype=np.int64)
        self.stop = self.start + self.size
        self.model = np.asarray(ix.model, dtype=np.int64)
        self.first = np.asarray(ix.first, dtype=bool)
        self.stop_of = self.stop[self.model]  # [L] end of each layer's model
        self.start_of = self.start[self.model]
        self.pos = np.arange(self.L)
        g = problem.mcm.graph
        nb = [sorted(g.neighbors(i)) for i in range(self.n)]
        self.neighbours = nb
        self.deg = np.array([len(x) for x in nb], dtype=np.int64)
        self.nbr = np.zeros((self.n, max(1, int(self.deg.max()))), dtype=np.int64)
        for i, x in enumerate(nb):
            self.nbr[i, : len(x)] = x
        self.mb_n = np.array([len(o) for o in problem.mb_options], dtype=np.int64)
        w = dict(MOVE_WEIGHTS)
        for k in move_weights or {}:
            if k not in w:
                raise ValueError(f"unknown move {k!r}; allowed: {', '.join(MOVES)}")
        w.update(move_weights or {})
        if self.W == 1:
            w["window"] = w["group"] = 0
        if np.all(self.mb_n == 1):
            w["micro_batch"] = 0
        self.moves = [m for m in MOVES if w[m] > 0]
        self.move_ids = [MOVES.index(m) for m in self.moves]  # their indices into MOVES
        pr = np.array([w[m] for m in self.moves], dtype=float)
        self.move_p = pr / pr.sum()
        # per-layer cost for balanced cuts: whole-batch compute on its fastest class
        cp = problem.compiled
        full = (cp.n_opts - 1)[self.model]
        self.cost = cp.t[np.arange(self.L), :, full].min(axis=1) * (
            cp.batch[self.model] / cp.bsize[self.model, full]
        )

    # --- helpers ------------------------------------------------------------------------------
    def neighbour_of(self, c: np.ndarray, rng: np.random.Generator, p_near: float = 0.8):
        """A mesh neighbour of each chiplet in ``c`` (probability ``p_near``), else any chiplet."""
        c = np.asarray(c, dtype=np.int64)
        k = (rng.random(c.shape) * self.deg[c]).astype(np.int64)
        near = self.nbr[c, k]
        far = rng.integers(self.n, size=c.shape)
        return np.where((rng.random(c.shape) < p_near) & (self.deg[c] > 0), near, far)

    # --- mutation -----------------------------------------------------------------------------
    def mutate_batch(
        self, genomes: np.ndarray, rng: np.random.Generator, n_moves: int | np.ndarray = 1
    ) -> np.ndarray:
        """Copies of ``genomes [P, G]``, row ``i`` changed by ``n_moves[i]`` random moves: in
        round ``r`` every row with more than ``r`` moves takes one, each move kind applied to all
        its rows at once (round 0 draws a kind per row, later rounds one kind for the round)."""
        g = np.array(genomes, dtype=np.int64, copy=True, ndmin=2)
        k = np.broadcast_to(np.asarray(n_moves, dtype=np.int64), (len(g),))
        for r in range(int(k.max(initial=0))):
            rows = np.flatnonzero(k > r)
            # the first move of each row is drawn per row; later rounds (the extra moves of
            # strong mutations) draw one kind for all their rows, keeping the call count low
            size = len(rows) if r == 0 else 1
            kind = rng.choice(len(self.moves), size=size, p=self.move_p)
            if r > 0:
                getattr(self, "_" + self.moves[kind[0]])(g, rows, rng)
                continue
            self._dispatch(g, rows, self.move_ids, kind, rng)
        return g

    def _dispatch(self, g, rows: np.ndarray, names: list[int], kind: np.ndarray, rng) -> None:
        """Apply move ``MOVES[names[kind[i]]]`` to row ``rows[i]`` of ``g``, in place, each kind
        to all its rows at once (kinds in ``names`` order). Each row takes one move, so a move
        reads its rows as they were when the round began."""
        for j, m in enumerate(names):
            loc = np.flatnonzero(kind == j)
            if len(loc):
                getattr(self, "_" + MOVES[m])(g, rows[loc], rng)

    def apply_moves(
        self,
        genomes: np.ndarray,
        kinds: np.ndarray,
        rng: np.random.Generator,
        n_moves: int | np.ndarray = 1,
    ) -> np.ndarray:
        """Copies of ``genomes [P, G]``, row ``i`` changed by ``n_moves[i]`` moves of kind
        ``MOVES[kinds[i]]`` (the caller chooses the kind, e.g. a policy; :meth:`mutate_batch`
        draws it). A kind the problem cannot use (``window`` and ``group`` with one window,
        ``micro_batch`` with one option per model) leaves its rows unchanged."""
        g = np.array(genomes, dtype=np.int64, copy=True, ndmin=2)
        kinds = np.broadcast_to(np.asarray(kinds, dtype=np.int64), (len(g),))
        if len(kinds) and (kinds.min() < 0 or kinds.max() >= len(MOVES)):
            raise ValueError(f"move kinds must be in 0..{len(MOVES) - 1} (MOVES), got {kinds}")
        usable = self.move_ids
        k = np.broadcast_to(np.asarray(n_moves, dtype=np.int64), (len(g),))
        for r in range(int(k.max(initial=0))):
            rows = np.flatnonzero((k > r) & np.isin(kinds, usable))
            if not len(rows):
                break
            self._dispatch(g, rows, usable, np.searchsorted(usable, kinds[rows]), rng)
        return g

    def mutate(self, genome: np.ndarray, rng: np.random.Generator, n_moves: int = 1) -> np.ndarray:
        """One genome changed by ``n_moves`` moves (:meth:`mutate_batch` on one row)."""
        return self.mutate_batch(genome[None, :], rng, n_moves)[0]

    # Each move draws its random numbers here, with numpy, and leaves the work on the rows to a
    # kernel of :mod:`search.move_kernels` that looks only at the layers it changes.
    def _cut_point(self, g, rows: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray] | None:
        """Per row a random stage start that is not a group start (the cut point ``_cut`` and
        ``_merge`` move); rows without one get a split instead and are left out (``None``: no
        row has one)."""
        c, ok = self.k.cut_points(g, rows, rng.random((len(rows), self.L)), self.L, self.first)
        if not ok.all():
            self._split(g, rows[~ok], rng)
        if not ok.any():
            return None
        return rows[ok], c[ok]

    def _cut(self, g, rows: np.ndarray, rng) -> None:
        picked = self._cut_point(g, rows, rng)
        if picked is None:
            return
        rows, c = picked
        n = len(c)
        d = np.where(rng.random(n) < 0.7, 1, rng.integers(2, 4, size=n))
        later = rng.random(n) < 0.5
        self.k.shift_cut(g, rows, c, d, later, self.L, self.first)

    def _merge(self, g, rows: np.ndarray, rng) -> None:
        picked = self._cut_point(g, rows, rng)
        if picked is None:
            return
        rows, c = picked
        self.k.merge_at(g, rows, c, rng.random(len(c)) < 0.5, self.L, self.first)

    def _stage(self, g, rows: np.ndarray, rng) -> None:
        l = rng.integers(self.L, size=len(rows))
        new = self.neighbour_of(g[rows, l], rng)
        self.k.move_stage(g, rows, l, new, self.L, self.first)

    def _split(self, g, rows: np.ndarray, rng) -> None:
        n = len(rows)
        l = rng.integers(self.L, size=n)
        u = rng.random(n)
        new = self.neighbour_of(g[rows, l], rng)
        self.k.split_stage(g, rows, l, u, new, self.L, self.first)

    def _swap(self, g, rows: np.ndarray, rng) -> None:
        l1, l2 = rng.integers(self.L, size=(2, len(rows)))
        self.k.swap_stages(g, rows, l1, l2, self.L, self.first)

    def _run(self, g, rows: np.ndarray, rng) -> None:
        n = len(rows)
        l = rng.integers(self.L, size=n)
        room = self.stop_of[l] - l
        size = np.where(rng.random(n) < 0.3, 1, 1 + (rng.random(n) * room).astype(np.int64))
        self.k.fill(g, rows, l, l + size, rng.integers(self.n, size=n))

    def _window(self, g, rows: np.ndarray, rng) -> None:
        L = self.L
        l = rng.integers(L, size=len(rows))
        end = self.stop_of[l]
        here, prev = g[rows, L + l], g[rows, L + np.maximum(l - 1, 0)]
        merge = ~self.first[l] & (here > prev)
        split = ~self.first[l] & ~merge & (g[rows, L + end - 1] < self.W - 1)
        self.k.shift(g, rows, L + l, L + end, np.where(merge, -1, np.where(split, 1, 0)))

    def _group(self, g, rows: np.ndarray, rng) -> None:
        n = len(rows)
        l = rng.integers(self.L, size=n)
        self.k.move_group(g, rows, l, rng.random(n), self.L, self.W, self.first, self.stop_of)

    def _micro_batch(self, g, rows: np.ndarray, rng) -> None:
        L, W = self.L, self.W
        n = len(rows)
        l = rng.integers(L, size=n)
        m = self.model[l]
        col = 2 * L + m * W + g[rows, L + l]
        k = self.mb_n[m]
        step = 1 + (rng.random(n) * np.maximum(k - 1, 1)).astype(np.int64)
        g[rows, col] = np.where(k > 1, (g[rows, col] + step) % k, g[rows, col])

    # --- crossover ----------------------------------------------------------------------------
    def crossover_batch(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Children of row pairs ``(a[i], b[i])``: each model's schedule from one parent; then,
        with probability 1/2, a one-point cross inside one model (prefix from one parent, suffix
        from the other), windows restored by a running maximum so they stay ordered."""
        a = np.atleast_2d(np.asarray(a, dtype=np.int64))
        b = np.atleast_2d(np.asarray(b, dtype=np.int64))
        P, M = len(a), self.M
        take_b = rng.random((P, M)) < 0.5
        m = rng.integers(M, size=P)
        s, e = self.start[m], self.stop[m]
        cut = s + 1 + (rng.random(P) * np.maximum(e - s - 1, 0)).astype(np.int64)
        do = (rng.random(P) < 0.5) & (e - s > 1)
        return self.k.cross(a, b, take_b, m, cut, do, self.model, self.stop, self.L, M, self.W)

    def crossover(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One child of ``a`` and ``b`` (:meth:`crossover_batch` on one pair)."""
        return self.crossover_batch(a[None, :], b[None, :], rng)[0]

    # --- constructive starts ------------------------------------------------------------------
    def starts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` structure-aware random genomes (none of them a baseline): per model a few
        windows (cut by cost), then contiguous stages cut either at random points (mean stage
        length drawn per model) or at cost quantiles (stage count drawn per model), and the
        stages' chiplets along a random walk on the mesh that jumps anywhere with a probability
        drawn per genome. Micro-batch options are uniform."""
        L, M, W = self.L, self.M, self.W
        j = self.pos
        mdl = self.model
        # cost fraction of each layer's model done before its middle: 0 <= frac < 1
        cum = np.cumsum(self.cost)
        before = cum - self.cost - (cum - self.cost)[self.start][mdl]
        tot = np.maximum((cum[self.stop - 1] - (cum - self.cost)[self.start])[mdl], 1e-300)
        frac = np.clip((before + 0.5 * self.cost) / tot, 0.0, 1.0 - 1e-12)
        # windows: a model uses 1 window (half the time) or up to 3, cut at cost quantiles
        ng = np.where(rng.random((n, M)) < 0.5, 1, rng.integers(1, min(W, 3) + 1, size=(n, M)))
        k_g = np.minimum((frac[None, :] * ng[:, mdl]).astype(np.int64), W - 1)  # group index
        vals = np.sort(rng.integers(0, W, size=(n, M, 3)), axis=2)
        win = np.take_along_axis(vals[:, mdl, :], k_g[:, :, None], axis=2)[:, :, 0]
        grp = np.ones((n, L), dtype=bool)
        grp[:, 1:] = self.first[None, 1:] | (win[:, 1:] != win[:, :-1])
        # stages: random cuts with a mean stage length per model, or balanced by cost
        mean_len = 1.0 + rng.random((n, M)) * (self.size[None, :] - 1)
        rnd_cut = rng.random((n, L)) < 1.0 / mean_len[:, mdl]
        k_s = 1 + (rng.random((n, M)) * np.minimum(self.size, self.n)[None, :]).astype(np.int64)
        sid = np.minimum((frac[None, :] * k_s[:, mdl]).astype(np.int64), k_s[:, mdl] - 1)
        bal_cut = np.ones((n, L), dtype=bool)
        bal_cut[:, 1:] = sid[:, 1:] != sid[:, :-1]
        balanced = (rng.random((n, M)) < 0.5)[:, mdl]
        st = grp | np.where(balanced, bal_cut, rnd_cut)
        # chiplets: a walk over the mesh, one step per stage start, reset at jumps
        p_jump = rng.random((n, 1))
        jump = st & ((rng.random((n, L)) < p_jump) | self.first[None, :])
        dirs = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])
        step = dirs[rng.integers(4, size=(n, L))] * (st & ~jump)[:, :, None]
        anchor = np.maximum.accumulate(np.where(jump, j[None, :], 0), axis=1)
        home = rng.integers(self.n, size=(n, L))
        hr, hc = np.divmod(np.take_along_axis(home, anchor, axis=1), self.cols)
        cs = np.cumsum(step, axis=1)
        base = np.take_along_axis(cs, anchor[:, :, None], axis=1)
        r = self._reflect(hr + cs[..., 0] - base[..., 0], self.rows)
        c = self._reflect(hc + cs[..., 1] - base[..., 1], self.cols)
        chip = r * self.cols + c
        mb = (rng.random((n, M, W)) * self.mb_n[None, :, None]).astype(np.int64)
        return np.concatenate([chip, win, mb.reshape(n, M * W)], axis=1).astype(np.int64)

    @staticmethod
    def _reflect(x: np.ndarray, size: int) -> np.ndarray:
        """Fold integer positions into ``0..size-1`` by reflection at the edges (a step off the
        mesh becomes a step back, so consecutive positions stay neighbours or equal)."""
        if size == 1:
            return np.zeros_like(x)
        period = 2 * (size - 1)
        y = np.mod(x, period)
        return np.where(y >= size, period - y, y)
