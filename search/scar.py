"""SCAR's scheduling heuristic and SCAR's evolutionary setting, as baselines to beat.

SCAR = Odema, Kwon, Al Faruque, "Scheduling Multi-Model AI Workloads on Heterogeneous Multi-Chiplet
Module Accelerators", MICRO 2024 (arXiv 2405.00790). The paper's code is not public; this follows its
description (docs/design.md, Search):

1. **Window packing** (first fit on expected latency, ``n_splits``): a layer's expected latency is
   its whole-batch compute on the model's fastest chiplet class plus its weight load from DRAM. Each
   model's chain is cut into up to ``n_splits`` segments of similar expected latency; the segments
   are packed first-fit into ``problem.max_windows`` windows of capacity ``slack x total / W``,
   never going back to an earlier window than the model's previous segment (chain order).
2. **Proportional provisioning**: in each window every active model gets a number of chiplets
   proportional to its expected latency there (at least one); heterogeneity-aware: a model prefers
   the chiplet class its layers run fastest on, and the ``fast`` pools hold only preferred classes.
3. **Top-k segmentation**: each model's segment in a window is cut into as many stages as it has
   chiplets; the candidate cut sets are the min-max (bottleneck) optimum on the stages' own classes,
   the compute-balanced quantile cut, and single-cut shifts of both, ranked by bottleneck; the best
   ``top_k`` are tried.
4. **DFS over adjacent chiplets**: each model's stages go onto a path of mesh-adjacent free chiplets
   found by depth-first search (preferred class first, then Warnsdorff's fewest-onward-neighbours
   rule); when no path of the wanted length exists the longest one found is used (fewer stages), and
   when no chiplet is free the model shares its preferred class's least-loaded chiplet.

Micro-batch: per model the smallest and the largest divisor of its batch. The candidates (packing
variant x provisioning variant x DFS variant x cut rank x micro-batch choice) are enumerated in
diagonal order (sum of the ranks first, so a small budget sees the top-ranked choice of every
dimension), de-duplicated and evaluated in batches until exhausted or the budget ends.

:class:`ScarEA` is SCAR's evolutionary setting: population 10 seeded with the heuristic's top
candidates plus random samples, 4 generations of mutation (move a cut point, move a stage to a
neighbouring chiplet, change a micro-batch) and (mu + lambda) selection.

Both spend the budget they are given unless ``restarts=False`` (the paper's single pass): they
restart with perturbed expected latencies and random DFS tie-breaks drawn from the run's seed,
and stop early only after :data:`MAX_STALE_RESTARTS` fruitless restarts, saying so in
``extra["stopped"]`` (the result's ``n_evals`` is always the evaluations actually used).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from costmodel import Problem

from .base import Algorithm, BudgetExhausted, Evaluator

_SLACKS = (1.0, 1.25, np.inf)  # window capacity = slack x (total expected latency / windows)
_PROVISION = (("fast", 1.0), ("all", 1.0), ("fast", 0.5))  # (chiplet pool, share of it used)
_DFS_LIMIT = 4000  # node expansions per path search


def _quantile_bounds(times: np.ndarray, k: int) -> list[int]:
    """Bounds ``[0, ..., n]`` of ``k`` contiguous non-empty parts of roughly equal total time."""
    n = len(times)
    k = max(1, min(k, n))
    cum = np.cumsum(times)
    total = cum[-1] if cum[-1] > 0 else 1.0
    bounds = [0]
    for j in range(1, k):
        b = int(np.searchsorted(cum, total * j / k, side="left")) + 1
        b = max(b, bounds[-1] + 1)
        b = min(b, n - (k - j))
        bounds.append(b)
    bounds.append(n)
    return bounds


class _Candidates:
    """The heuristic's candidate schedules of one problem, built lazily in a fixed order."""

    def __init__(
        self,
        problem: Problem,
        n_splits: int,
        top_k: int,
        dfs_variants: int,
        micro_batches: int,
        rng: np.random.Generator,
        noise: float = 0.0,
    ) -> None:
        self.p, self.n_splits, self.top_k = problem, n_splits, top_k
        self.mcm = problem.mcm
        T = problem.compiled
        ix = problem.index
        L, n = problem.n_layers, self.mcm.n_chiplets
        o_full = np.array([len(o) - 1 for o in problem.mb_options])[ix.model]
        self.present = sorted(set(self.mcm.placement))
        # expected seconds of every layer (whole batch) on each class: compute + weight load
        self.e = T.t[np.arange(L), :, o_full] + (T.w_bytes / self.mcm.dram_bw)[:, None]
        # a restart perturbs the expected latencies (log-normal, sigma ``noise``) and breaks every
        # DFS tie at random, so its packings, counts, cuts and paths differ from the first pass
        self.random_ties = noise > 0
        if noise > 0:
            self.e = self.e * np.exp(noise * rng.standard_normal(self.e.shape))
        self.cls = np.asarray(self.mcm.placement)
        self.adj = [[int(j) for j in np.nonzero(self.mcm.hops[i] == 1)[0]] for i in range(n)]
        self.sizes = [len(m) for m in problem.workload.models]
        self.offset = ix.offset
        # per model: preferred (fastest) class over its whole chain
        self.best_cls = [self._pref(self._seg(m, 0, s)) for m, s in enumerate(self.sizes)]
        self.packings = self._packings()
        self.dfs_seeds = [int(x) for x in rng.integers(0, 2**62, size=dfs_variants)]
        self.n_dfs = dfs_variants
        self.mb_choice = [self._mb_indices(o, micro_batches) for o in problem.mb_options]
        self._plans: dict = {}

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _mb_indices(opts: list[int], k: int) -> list[int]:
        """Indices of up to ``k`` micro-batch sizes to try: the smallest, the largest, then
        divisors spread geometrically between them."""
        n = len(opts)
        out = [0, n - 1][:k]
        if k > 2 and n > 2:
            logs = np.log(np.asarray(opts, dtype=np.float64))
            for q in np.linspace(0, 1, k)[1:-1]:
                target = logs[0] + q * (logs[-1] - logs[0])
                out.append(int(np.argmin(np.abs(logs - target))))
        return list(dict.fromkeys(out))

    def _seg(self, m: int, a: int, b: int) -> slice:
        o = self.offset[m]
        return slice(o + a, o + b)

    def _pref(self, sl: slice) -> int:
        t = self.e[sl].sum(axis=0)
        return min(self.present, key=lambda k: (t[k], k))

    # --- (a) window packing ----------------------------------------------------------------
    def _packings(self) -> list[list[list[tuple[int, int, int]]]]:
        """Distinct packings: per model its ``(window, start, stop)`` segments in chain order."""
        M, W = self.p.n_models, self.p.max_windows
        exp = [self.e[self._seg(m, 0, s), self.best_cls[m]] for m, s in enumerate(self.sizes)]
        segs = []  # per model: list of (start, stop, expected)
        for m in range(M):
            b = _quantile_bounds(exp[m], self.n_splits)
            segs.append(
                [(b[i], b[i + 1], float(exp[m][b[i] : b[i + 1]].sum())) for i in range(len(b) - 1)]
            )
        total = sum(x.sum() for x in exp)
        by_lat = sorted(range(M), key=lambda m: (-exp[m].sum(), m))
        orders = []
        # round robin over models (longest first), then model after model
        rr = [(m, j) for j in range(self.n_splits) for m in by_lat if j < len(segs[m])]
        orders.append(rr)
        orders.append([(m, j) for m in by_lat for j in range(len(segs[m]))])
        out, seen = [], set()
        for slack in _SLACKS:
            for order in orders:
                biggest = max(s[2] for ss in segs for s in ss)
                cap = slack * max(total / W, biggest) * (1 + 1e-9)
                load = np.zeros(W)
                last = [0] * M
                win = [[0] * len(segs[m]) for m in range(M)]
                for m, j in order:
                    t = segs[m][j][2]
                    w = next((w for w in range(last[m], W) if load[w] + t <= cap), W - 1)
                    w = max(w, last[m])
                    win[m][j] = w
                    load[w] += t
                    last[m] = w
                pack = []
                for m in range(M):
                    merged: list[tuple[int, int, int]] = []
                    for (start, stop, _), w in zip(segs[m], win[m]):
                        if merged and merged[-1][0] == w:
                            merged[-1] = (w, merged[-1][1], stop)
                        else:
                            merged.append((w, start, stop))
                    pack.append(merged)
                key = repr(pack)
                if key not in seen:
                    seen.add(key)
                    out.append(pack)
        return out

    # --- (b) provisioning and (d) DFS paths -------------------------------------------------
    def _plan(self, pi: int, vi: int, ri: int) -> dict:
        """Per (model, window): the path of chiplets and the segment ``(start, stop)``."""
        key = (pi, vi, ri)
        if key in self._plans:
            return self._plans[key]
        pack = self.packings[pi]
        pool_kind, share = _PROVISION[vi]
        seeded = ri or self.random_ties
        rng = np.random.default_rng([self.dfs_seeds[ri], pi, vi]) if seeded else None
        n = self.mcm.n_chiplets
        plan = {}
        for w in range(self.p.max_windows):
            active = [
                (m, a, b) for m in range(self.p.n_models) for (ww, a, b) in pack[m] if ww == w
            ]
            if not active:
                continue
            pref = {m: self._pref(self._seg(m, a, b)) for m, a, b in active}
            exp = {m: float(self.e[self._seg(m, a, b), pref[m]].sum()) for m, a, b in active}
            if pool_kind == "fast":
                pool = [i for i in range(n) if self.cls[i] in set(pref.values())]
                if len(pool) < len(active):
                    pool = list(range(n))
            else:
                pool = list(range(n))
            N = max(len(active), int(round(share * len(pool))))
            counts = self._proportional(
                [exp[m] for m, _, _ in active], N, [b - a for _, a, b in active]
            )
            free = set(pool)
            busy = np.zeros(n)
            for (m, a, b), cnt in sorted(
                zip(active, counts), key=lambda x: (-exp[x[0][0]], x[0][0])
            ):
                path = self._dfs(free, cnt, pref[m], rng)
                if not path:  # nothing free: share the least-loaded chiplet of the preferred class
                    cands = [i for i in range(n) if self.cls[i] == pref[m]] or list(range(n))
                    path = [min(cands, key=lambda i: (busy[i], i))]
                free -= set(path)
                busy[path] += exp[m] / len(path)
                plan[(m, w)] = (path, a, b)
        self._plans[key] = plan
        return plan

    @staticmethod
    def _proportional(exp: list[float], N: int, caps: list[int]) -> list[int]:
        e = np.asarray(exp, dtype=np.float64)
        e = np.where(e > 0, e, 1e-30)
        cnt = np.maximum(1, np.floor(e / e.sum() * N).astype(int))
        cnt = np.minimum(cnt, caps)
        while cnt.sum() > N and (cnt > 1).any():
            cnt[int(np.argmax(np.where(cnt > 1, cnt, -1)))] -= 1
        while cnt.sum() < N:
            room = np.where(cnt < caps, e / cnt, -1.0)
            if room.max() < 0:
                break
            cnt[int(np.argmax(room))] += 1
        return cnt.tolist()

    def _dfs(self, free: set[int], length: int, pref: int, rng) -> list[int]:
        """A path of ``length`` mesh-adjacent free chiplets (the longest found if none is)."""
        if not free or length <= 0:
            return []
        tie = (
            rng.permutation(self.mcm.n_chiplets)
            if rng is not None
            else np.arange(self.mcm.n_chiplets)
        )

        def degree(i, used):
            return sum(1 for j in self.adj[i] if j in free and j not in used)

        def key(i, used):
            return (self.cls[i] != pref, degree(i, used), int(tie[i]))

        starts = sorted(free, key=lambda i: key(i, ()))
        best: list[int] = []
        expansions = 0
        for s in starts:
            stack = [(s, [s])]
            while stack:
                node, path = stack.pop()
                expansions += 1
                if len(path) > len(best) or (
                    len(path) == len(best) and best and self._better(path, best, pref)
                ):
                    best = path
                if len(best) >= length:
                    return best[:length]
                if expansions > _DFS_LIMIT:
                    break
                used = set(path)
                nxt = [j for j in self.adj[node] if j in free and j not in used]
                nxt.sort(key=lambda j: key(j, used), reverse=True)  # stack: best popped first
                stack.extend((j, [*path, j]) for j in nxt)
            if expansions > _DFS_LIMIT:
                break
        return best[:length]

    def _better(self, a: list[int], b: list[int], pref: int) -> bool:
        return sum(self.cls[i] == pref for i in a) > sum(self.cls[i] == pref for i in b)

    # --- (c) top-k segmentation -------------------------------------------------------------
    def _cuts(self, m: int, a: int, b: int, path: tuple[int, ...]) -> list[list[int]]:
        """Up to ``top_k`` cut sets (bounds ``[0, ..., n]``) of the segment over ``path``."""
        n = b - a
        S = min(len(path), n)
        e = self.e[self._seg(m, a, b)]
        cl = [int(self.cls[c]) for c in path[:S]]
        P = np.vstack([np.zeros((1, e.shape[1])), np.cumsum(e, axis=0)])  # [n+1, K]

        def stage_times(bounds):
            return [P[bounds[k + 1], cl[k]] - P[bounds[k], cl[k]] for k in range(S)]

        def greedy(T):
            bounds, pos = [0], 0
            for k in range(S):
                if k == S - 1:
                    j = n
                else:
                    j = int(np.searchsorted(P[:, cl[k]], P[pos, cl[k]] + T, side="right")) - 1
                    j = min(max(j, pos + 1), n - (S - 1 - k))
                bounds.append(j)
                pos = j
            return bounds

        if S == 1:
            return [[0, n]]
        lo, hi = 0.0, float(max(P[n, k] for k in cl))
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if max(stage_times(greedy(mid))) <= mid * (1 + 1e-12):
                hi = mid
            else:
                lo = mid
        seeds = [greedy(hi), _quantile_bounds(e[:, cl[0]], S)]
        cands = {tuple(s) for s in seeds}
        for s in seeds:
            for k in range(1, S):
                for d in (-2, -1, 1, 2):
                    v = list(s)
                    v[k] += d
                    if v[k - 1] < v[k] < v[k + 1]:
                        cands.add(tuple(v))

        def score(bd):
            st = np.asarray(stage_times(bd))
            return (round(float(st.max()), 15), float((st**2).sum()), bd)

        ranked = sorted(cands, key=score)
        return [list(x) for x in ranked[: self.top_k]]

    # --- genomes ------------------------------------------------------------------------------
    def genome(self, pi: int, vi: int, ri: int, ki: int, bi: tuple[int, ...]) -> np.ndarray:
        p = self.p
        plan = self._plan(pi, vi, ri)
        L, M, W = p.n_layers, p.n_models, p.max_windows
        chip = np.zeros(L, dtype=np.int64)
        win = np.zeros(L, dtype=np.int64)
        mb = np.zeros((M, W), dtype=np.int64)
        for (m, w), (path, a, b) in plan.items():
            cut_sets = self._cuts_cached(m, a, b, tuple(path))
            bounds = cut_sets[min(ki, len(cut_sets) - 1)]
            o = self.offset[m]
            win[o + a : o + b] = w
            for k in range(len(bounds) - 1):
                chip[o + a + bounds[k] : o + a + bounds[k + 1]] = path[k]
            mb[m, w] = self.mb_choice[m][bi[m]]
        return np.concatenate([chip, win, mb.ravel()])

    def _cuts_cached(self, m, a, b, path):
        key = ("cuts", m, a, b, path)
        if key not in self._plans:
            self._plans[key] = self._cuts(m, a, b, path)
        return self._plans[key]

    def index_tuples(self) -> Iterator[tuple]:
        """Every ``(packing, provision, dfs, top_k, micro-batch indices)`` in rank order: by the
        sum of the indices (0 = every first choice), ties in lexicographic order. Lazy: the
        micro-batch choices alone are ``prod(len(c))`` tuples (3^20 on 20 models), so they are
        generated rank by rank instead of listed and sorted."""
        bounds = [len(self.packings), len(_PROVISION), self.n_dfs, self.top_k]
        bounds += [len(c) for c in self.mb_choice]
        for rank in range(sum(b - 1 for b in bounds) + 1):
            for v in _with_sum(bounds, rank):
                yield (*v[:4], v[4:])

    def __iter__(self) -> Iterator[np.ndarray]:
        """Distinct candidate genomes in rank order."""
        seen: set[bytes] = set()
        for t in self.index_tuples():
            g = self.genome(*t)
            k = g.tobytes()
            if k not in seen:
                seen.add(k)
                yield g


def _candidates(problem: Problem, config: dict, rng: np.random.Generator, noise: float):
    """The heuristic's candidates under an agent's ``config`` (``scar`` and ``scar-ea`` alike)."""
    return _Candidates(
        problem,
        config["n_splits"],
        config["top_k"],
        config["dfs_variants"],
        config["micro_batches"],
        rng,
        noise,
    )


def _with_sum(bounds: list[int], total: int, start: int = 0) -> Iterator[tuple[int, ...]]:
    """Every tuple ``v`` with ``0 <= v[i] < bounds[i]`` and ``sum(v) == total``, in lexicographic
    order (recursive over positions; memory linear in ``len(bounds)``)."""
    if start == len(bounds):
        if total == 0:
            yield ()
        return
    room = sum(b - 1 for b in bounds[start + 1 :])  # the most the later positions can hold
    for x in range(max(0, total - room), min(bounds[start] - 1, total) + 1):
        for rest in _with_sum(bounds, total - x, start + 1):
            yield (x, *rest)


def _check(config: dict) -> None:
    for key in (
        "n_splits",
        "top_k",
        "dfs_variants",
        "micro_batches",
        "batch",
        "population",
        "generations",
    ):
        if key in config:
            v = config[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"option {key!r} must be a positive integer, got {v!r}")


#: log-normal sigma of the expected-latency perturbation of each restart
RESTART_NOISE = 0.3
#: restarts in a row that bring no schedule not seen before end a run early (it says so)
MAX_STALE_RESTARTS = 20


def _restart_note(stale: int) -> str:
    return f"stopped early: {stale} restarts in a row brought no new schedule"


class ScarHeuristic(Algorithm):
    """SCAR's heuristic: packing, provisioning, top-k segmentation, DFS paths (see module doc).

    With ``restarts`` (default) a run spends its budget: when the candidates run out it builds
    the candidates again from expected latencies perturbed by log-normal noise
    (:data:`RESTART_NOISE`) with every DFS tie broken at random (all drawn from the run's seed),
    evaluating only schedules not seen before; after :data:`MAX_STALE_RESTARTS` restarts in a
    row with nothing new it stops and says so in ``extra["stopped"]``. ``restarts=False`` is
    the paper's one pass."""

    name = "scar"
    options = {
        "n_splits": 4,
        "top_k": 4,
        "dfs_variants": 3,
        "micro_batches": 3,
        "batch": 64,
        "restarts": True,
    }

    def __init__(self, **options) -> None:
        super().__init__(**options)
        _check(self.config)
        self._n_candidates = 0
        self._restarts = 0
        self._stopped: str | None = None

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        c = self.config
        self._n_candidates, self._restarts, self._stopped = 0, 0, None
        stale = 0
        noise = 0.0
        while not ev.exhausted:
            cands = _candidates(problem, c, rng, noise)
            before = ev.n_evals
            buf: list[np.ndarray] = []
            for g in cands:
                buf.append(g)
                if len(buf) >= c["batch"]:
                    self._flush(ev, buf)
                    buf = []
                    if ev.exhausted:
                        return
            if buf:
                self._flush(ev, buf)
            if not c["restarts"]:
                return
            stale = stale + 1 if ev.n_evals == before else 0
            if stale >= MAX_STALE_RESTARTS:
                self._stopped = _restart_note(stale)
                return
            self._restarts += 1
            noise = RESTART_NOISE

    def _flush(self, ev: Evaluator, buf: list[np.ndarray]) -> None:
        """Evaluate candidates, counting only schedules not seen before in the run."""
        if ev.exhausted:
            raise BudgetExhausted
        before = ev.n_evals
        ev.cached(np.array(buf))
        self._n_candidates += ev.n_evals - before

    def extra_result(self) -> dict:
        return {
            "candidates_evaluated": self._n_candidates,
            "restarts": self._restarts,
            "stopped": self._stopped,
        }


class ScarEA(Algorithm):
    """SCAR's evolutionary setting: a small (mu + lambda) EA seeded by the heuristic.

    With ``restarts`` (default) a run spends its budget: after its ``generations`` it starts
    again from a new population (the heuristic's candidates rebuilt from perturbed expected
    latencies with random DFS tie-breaks, as :class:`ScarHeuristic`'s restarts, plus the best
    schedule so far and random samples), until the budget is spent; after
    :data:`MAX_STALE_RESTARTS` restarts in a row without a better schedule it stops and says so
    in ``extra["stopped"]``. ``restarts=False`` is the paper's single run."""

    name = "scar-ea"
    options = {
        "population": 10,
        "generations": 4,
        "n_splits": 4,
        "top_k": 4,
        "dfs_variants": 3,
        "micro_batches": 3,
        "random_fraction": 0.3,
        "restarts": True,
    }

    def __init__(self, **options) -> None:
        super().__init__(**options)
        _check(self.config)
        rf = self.config["random_fraction"]
        if not 0.0 <= float(rf) <= 1.0:
            raise ValueError(f"option 'random_fraction' must be in [0, 1], got {rf!r}")
        self._restarts = 0
        self._stopped: str | None = None

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        c = self.config
        self._restarts, self._stopped = 0, None
        P = int(c["population"])
        adj = [np.nonzero(problem.mcm.hops[i] == 1)[0] for i in range(problem.mcm.n_chiplets)]
        noise, stale = 0.0, 0
        while True:
            best = ev.best_fitness
            n_rand = int(round(P * float(c["random_fraction"])))
            cands = _candidates(problem, c, rng, noise)
            keep_best = [ev.best_genome] if ev.best_genome is not None else []
            seed = keep_best + list(itertools.islice(iter(cands), P - n_rand - len(keep_best)))
            n_rand = P - len(seed)
            pop = np.array(seed + list(problem.sample(n_rand, rng)), dtype=np.int64)
            self._generations(problem, ev, rng, pop, adj)
            if not c["restarts"] or ev.exhausted:
                return
            stale = stale + 1 if ev.best_fitness >= best else 0
            if stale >= MAX_STALE_RESTARTS:
                self._stopped = _restart_note(stale).replace("new schedule", "better schedule")
                return
            self._restarts += 1
            noise = RESTART_NOISE

    def _generations(self, problem, ev, rng, pop, adj) -> None:
        c = self.config
        P = len(pop)
        pop, fit = self._eval(ev, pop)
        for _ in range(int(c["generations"])):
            if ev.exhausted:
                return
            kids = []
            for _ in range(P):
                a, b = rng.integers(0, len(pop), size=2)
                parent = pop[a] if fit[a] <= fit[b] else pop[b]
                kids.append(self._mutate(problem, parent, adj, rng))
            kids_arr, kfit = self._eval(ev, np.array(kids))
            allg = np.vstack([pop, kids_arr])
            allf = np.concatenate([fit, kfit])
            order = np.argsort(allf, kind="stable")
            keep, seen = [], set()
            for i in order:
                k = allg[i].tobytes()
                if k not in seen:
                    seen.add(k)
                    keep.append(i)
                if len(keep) == P:
                    break
            pop, fit = allg[keep], allf[keep]

    def extra_result(self) -> dict:
        return {"restarts": self._restarts, "stopped": self._stopped}

    @staticmethod
    def _eval(ev: Evaluator, genomes: np.ndarray):
        if ev.exhausted:
            raise BudgetExhausted
        f = ev(genomes)
        return genomes[: len(f)], f

    @staticmethod
    def _mutate(problem: Problem, genome: np.ndarray, adj, rng) -> np.ndarray:
        """One of: move a cut point, move a stage to a neighbouring chiplet, change a micro-batch."""
        g = problem.repair(genome[None, :])[0].copy()
        L, M, W = problem.n_layers, problem.n_models, problem.max_windows
        chip, win = g[:L], g[L : 2 * L]
        mb = g[2 * L :].reshape(M, W)
        first = problem.index.first
        same_w = np.r_[False, (win[1:] == win[:-1]) & ~first[1:]]
        cuts = np.nonzero(same_w & np.r_[False, chip[1:] != chip[:-1]])[0]
        active = [
            (m, w)
            for m in range(M)
            for w in range(W)
            if len(problem.mb_options[m]) > 1 and np.any(win[problem.index.model == m] == w)
        ]
        kinds = ["stage"] + (["cut"] if len(cuts) else []) + (["mb"] if active else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "cut":
            i = int(cuts[rng.integers(len(cuts))])
            steps = int(rng.integers(1, 4))
            if rng.random() < 0.5:  # boundary moves right: layers join the stage before
                j, c_next = i, chip[i]
                while j < L and steps and same_w[j] and chip[j] == c_next:
                    chip[j] = chip[i - 1]
                    j, steps = j + 1, steps - 1
            else:  # boundary moves left: layers join the stage after
                j, c_prev = i - 1, chip[i - 1]
                while j >= 0 and steps and chip[j] == c_prev and (j == i - 1 or same_w[j + 1]):
                    chip[j] = chip[i]
                    j, steps = j - 1, steps - 1
        elif kind == "stage":
            starts = np.nonzero(~same_w | np.r_[True, chip[1:] != chip[:-1]])[0]
            s = int(starts[rng.integers(len(starts))])
            e = s + 1
            while e < L and same_w[e] and chip[e] == chip[s]:
                e += 1
            nb = adj[int(chip[s])]
            if len(nb):
                chip[s:e] = nb[rng.integers(len(nb))]
        else:
            m, w = active[int(rng.integers(len(active)))]
            k = len(problem.mb_options[m])
            mb[m, w] = (mb[m, w] + 1 + rng.integers(k - 1)) % k
        return g
