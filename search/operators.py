"""Variation operators and constructive starts that know the schedule encoding (GA, NSGA-II, SA).

Everything here works on whole populations ``[P, G]`` at once (numpy over the rows, no loop over
individuals): a GA generation is a handful of array operations, not ``P`` Python calls.

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

from functools import cached_property

import numpy as np

from costmodel import Problem
from costmodel.stages import group_runs, stage_runs
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


def pick_true(mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly chosen ``True`` column per row of ``mask [R, L]`` and whether the row had
    one (rows without get column 0)."""
    r = rng.random(mask.shape)
    r[~mask] = -1.0
    return np.argmax(r, axis=1), np.asarray(mask.any(axis=1))  # asarray: an array to mypy too


class _Round:
    """One mutation round's chiplet and window genes and, computed on first use, their stage
    starts ``s``, group starts ``gr``, stage ids ``sid`` and group ids ``gid``."""

    def __init__(self, ops: GenomeOps, C: np.ndarray, Wn: np.ndarray) -> None:
        self.first, self.C, self.Wn = ops.first, C, Wn

    @cached_property
    def s(self) -> np.ndarray:
        return stage_runs(self.C, self.Wn, self.first)

    @cached_property
    def gr(self) -> np.ndarray:
        return group_runs(self.Wn, self.first)

    @cached_property
    def sid(self) -> np.ndarray:
        return np.cumsum(self.s, axis=1, dtype=np.int32)

    @cached_property
    def gid(self) -> np.ndarray:
        return np.cumsum(self.gr, axis=1, dtype=np.int32)


class _Rows:
    """The rows one move kind changes: their indices into the population (``rows``) and, on
    first use, their slice of the round's arrays (``C``, ``Wn``, stage starts ``s``, group
    starts ``gr``, stage ids ``sid``, group ids ``gid``)."""

    def __init__(self, all_rows: np.ndarray, full: _Round, loc: np.ndarray | None) -> None:
        # loc None: every row of the round (the round's arrays are used as they are)
        self.full, self.loc = full, loc
        self.all_rows = all_rows
        self.rows = all_rows if loc is None else all_rows[loc]

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in ("C", "Wn", "s", "gr", "sid", "gid"):
            raise AttributeError(name)
        v = getattr(self.full, name)
        if self.loc is not None:
            v = v[self.loc]
        setattr(self, name, v)
        return v

    def sub(self, mask: np.ndarray) -> _Rows:
        loc = np.arange(len(self.all_rows)) if self.loc is None else self.loc
        return _Rows(self.all_rows, self.full, loc[mask])


class GenomeOps:
    """Mutation, crossover and constructive starts for one problem's genomes (int64 rows)."""

    def __init__(self, problem: Problem, move_weights: dict[str, float] | None = None) -> None:
        self.p = problem
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
    def order_windows(self, win: np.ndarray) -> None:
        """Make windows ``[P, L]`` non-decreasing along each model, in place (one running max
        over the row: model ``m``'s windows are lifted by ``m W`` so models never mix)."""
        lift = self.model * self.W
        win[:] = np.maximum.accumulate(win + lift, axis=1) - lift

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
        its rows at once, on stage and group ids computed once per round (round 0 draws a kind
        per row, later rounds one kind for the round)."""
        g = np.array(genomes, dtype=np.int64, copy=True, ndmin=2)
        L = self.L
        k = np.broadcast_to(np.asarray(n_moves, dtype=np.int64), (len(g),))
        for r in range(int(k.max(initial=0))):
            rows = np.flatnonzero(k > r)
            if len(rows) == len(g):  # views: each kind reads only its own, unchanged rows
                full = _Round(self, g[:, :L], g[:, L : 2 * L])
            else:
                full = _Round(self, g[rows, :L], g[rows, L : 2 * L])
            # the first move of each row is drawn per row; later rounds (the extra moves of
            # strong mutations) draw one kind for all their rows, keeping the call count low
            size = len(rows) if r == 0 else 1
            kind = np.broadcast_to(
                rng.choice(len(self.moves), size=size, p=self.move_p), (len(rows),)
            )
            if r > 0:  # one kind for every row of the round: no split, no copies
                getattr(self, "_" + self.moves[kind[0]])(g, _Rows(rows, full, None), rng)
                continue
            self._dispatch(g, rows, full, self.move_ids, kind, rng)
        return g

    def _dispatch(
        self, g, rows: np.ndarray, full: _Round, names: list[int], kind: np.ndarray, rng
    ) -> None:
        """Apply move ``MOVES[names[kind[i]]]`` to row ``rows[i]`` of ``g``, in place, each kind
        to all its rows at once (kinds in ``names`` order)."""
        for j, m in enumerate(names):
            loc = np.flatnonzero(kind == j)
            if len(loc):
                getattr(self, "_" + MOVES[m])(g, _Rows(rows, full, loc), rng)

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
        L = self.L
        for r in range(int(k.max(initial=0))):
            rows = np.flatnonzero((k > r) & np.isin(kinds, usable))
            if not len(rows):
                break
            full = _Round(self, g[rows, :L], g[rows, L : 2 * L])
            self._dispatch(g, rows, full, usable, np.searchsorted(usable, kinds[rows]), rng)
        return g

    def mutate(self, genome: np.ndarray, rng: np.random.Generator, n_moves: int = 1) -> np.ndarray:
        """One genome changed by ``n_moves`` moves (:meth:`mutate_batch` on one row)."""
        return self.mutate_batch(genome[None, :], rng, n_moves)[0]

    def _stage_start(self, g, x: _Rows, rng) -> tuple[_Rows, np.ndarray] | None:
        """Per row a random stage start that is not a group start (the cut point ``_cut`` and
        ``_merge`` move); rows without one get a split instead and are left out (``None``: no
        row has one)."""
        c, ok = pick_true(x.s & ~x.gr, rng)
        if not ok.all():
            self._split(g, x.sub(~ok), rng)
        if not ok.any():
            return None
        return x.sub(ok), c[ok]

    def _cut(self, g, x: _Rows, rng) -> None:
        picked = self._stage_start(g, x, rng)
        if picked is None:
            return
        x, c = picked
        C, gid = x.C, x.gid
        n = len(c)
        R = np.arange(n)
        d = np.where(rng.random(n) < 0.7, 1, rng.integers(2, 4, size=n))
        later = rng.random(n) < 0.5
        # later: layers c .. c+d-1 of c's group join the stage before; earlier: c-d .. c-1 join c's
        lo = np.where(later, c, c - d)[:, None]
        hi = np.where(later, c + d, c)[:, None]
        grp = np.where(later, gid[R, c], gid[R, c - 1])[:, None]
        chip = np.where(later, C[R, c - 1], C[R, c])[:, None]
        for t in range(3):  # at most 3 layers change: write them, not whole rows
            at = lo[:, 0] + t
            ok = (at >= 0) & (at < np.minimum(hi[:, 0], self.L))
            ok[ok] &= gid[R[ok], at[ok]] == grp[ok, 0]
            g[x.rows[ok], at[ok]] = chip[ok, 0]

    def _merge(self, g, x: _Rows, rng) -> None:
        picked = self._stage_start(g, x, rng)
        if picked is None:
            return
        x, c = picked
        C, sid = x.C, x.sid
        R = np.arange(len(c))
        into_prev = rng.random(len(c)) < 0.5
        # the stage at c takes the previous stage's chiplet, or the previous stage takes c's
        mine = np.where(into_prev, sid[R, c], sid[R, c - 1])[:, None]
        chip = np.where(into_prev, C[R, c - 1], C[R, c])[:, None]
        g[x.rows, : self.L] = np.where(sid == mine, chip, C)

    def _stage(self, g, x: _Rows, rng) -> None:
        C, sid = x.C, x.sid
        R = np.arange(len(C))
        l = rng.integers(self.L, size=len(C))
        new = self.neighbour_of(C[R, l], rng)[:, None]
        g[x.rows, : self.L] = np.where(sid == sid[R, l][:, None], new, C)

    def _split(self, g, x: _Rows, rng) -> None:
        C, sid = x.C, x.sid
        n = len(C)
        R = np.arange(n)
        l = rng.integers(self.L, size=n)
        mine = sid == sid[R, l][:, None]
        a = np.argmax(mine, axis=1)
        b = self.L - np.argmax(mine[:, ::-1], axis=1)
        # a cut in a+1 .. b-1 (a one-layer stage moves whole)
        cut = np.where(b - a > 1, a + 1 + (rng.random(n) * (b - a - 1)).astype(np.int64), a)
        new = self.neighbour_of(C[R, l], rng)[:, None]
        g[x.rows, : self.L] = np.where(mine & (self.pos[None, :] >= cut[:, None]), new, C)

    def _swap(self, g, x: _Rows, rng) -> None:
        C, sid = x.C, x.sid
        R = np.arange(len(C))
        l1, l2 = rng.integers(self.L, size=(2, len(C)))
        m1, m2 = sid == sid[R, l1][:, None], sid == sid[R, l2][:, None]
        c1, c2 = C[R, l1][:, None], C[R, l2][:, None]
        g[x.rows, : self.L] = np.where(m1, c2, np.where(m2, c1, C))

    def _run(self, g, x: _Rows, rng) -> None:
        C = x.C
        n = len(C)
        l = rng.integers(self.L, size=n)
        room = self.stop_of[l] - l
        size = np.where(rng.random(n) < 0.3, 1, 1 + (rng.random(n) * room).astype(np.int64))
        new = rng.integers(self.n, size=n)[:, None]
        j = self.pos[None, :]
        g[x.rows, : self.L] = np.where((j >= l[:, None]) & (j < (l + size)[:, None]), new, C)

    def _window(self, g, x: _Rows, rng) -> None:
        L = self.L
        Wn = x.Wn
        R = np.arange(len(Wn))
        l = rng.integers(L, size=len(Wn))
        end = self.stop_of[l]
        prev = Wn[R, np.maximum(l - 1, 0)]
        merge = ~self.first[l] & (Wn[R, l] > prev)
        split = ~self.first[l] & ~merge & (Wn[R, end - 1] < self.W - 1)
        tail = (self.pos[None, :] >= l[:, None]) & (self.pos[None, :] < end[:, None])
        delta = np.where(merge, -1, np.where(split, 1, 0))[:, None]
        g[x.rows, L : 2 * L] = Wn + tail * delta

    def _group(self, g, x: _Rows, rng) -> None:
        L = self.L
        Wn, gid = x.Wn, x.gid
        n = len(Wn)
        R = np.arange(n)
        l = rng.integers(L, size=n)
        mine = gid == gid[R, l][:, None]
        a = np.argmax(mine, axis=1)
        b = L - np.argmax(mine[:, ::-1], axis=1)  # group [a, b)
        lo = np.where(self.first[a], 0, Wn[R, np.maximum(a - 1, 0)])
        hi = np.where(b >= self.stop_of[l], self.W - 1, Wn[R, np.minimum(b, L - 1)])
        new = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
        g[x.rows, L : 2 * L] = np.where(mine, new[:, None], Wn)

    def _micro_batch(self, g, x: _Rows, rng) -> None:
        L, W = self.L, self.W
        n = len(x.rows)
        l = rng.integers(L, size=n)
        m = self.model[l]
        col = 2 * L + m * W + x.Wn[np.arange(n), l]
        k = self.mb_n[m]
        step = 1 + (rng.random(n) * np.maximum(k - 1, 1)).astype(np.int64)
        g[x.rows, col] = np.where(k > 1, (g[x.rows, col] + step) % k, g[x.rows, col])

    # --- crossover ----------------------------------------------------------------------------
    def crossover_batch(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Children of row pairs ``(a[i], b[i])``: each model's schedule from one parent; then,
        with probability 1/2, a one-point cross inside one model (prefix from one parent, suffix
        from the other), windows restored by a running maximum so they stay ordered."""
        L, M, W = self.L, self.M, self.W
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        P = len(a)
        take_b = rng.random((P, M)) < 0.5
        lay = take_b[:, self.model]
        mask = np.concatenate([lay, lay, np.repeat(take_b, W, axis=1)], axis=1)
        child = np.where(mask, b, a)
        m = rng.integers(M, size=P)
        s, e = self.start[m], self.stop[m]
        cut = s + 1 + (rng.random(P) * np.maximum(e - s - 1, 0)).astype(np.int64)
        do = (rng.random(P) < 0.5) & (e - s > 1)
        j = self.pos[None, :]
        tail = do[:, None] & (j >= cut[:, None]) & (j < e[:, None])
        other = np.where(take_b[np.arange(P), m][:, None], a[:, : 2 * L], b[:, : 2 * L])
        both = np.concatenate([tail, tail], axis=1)
        child[:, : 2 * L] = np.where(both, other, child[:, : 2 * L])
        win = child[:, L : 2 * L]
        self.order_windows(win)
        return child

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
