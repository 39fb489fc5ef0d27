"""A scheduling problem: a workload on an MCM, its cost table, the genome encoding and the objective.

Genome (flat integers, length ``2 L + M W``): the chiplet of each of the ``L`` layers (models
concatenated), the window of each layer, then per model and window the index of its micro-batch
size among the divisors of the model's batch. Windows must not decrease along a model's chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .backends import batch_evaluator, repair_genomes, resolve_backend
from .compiled import CompiledProblem, compile_problem
from .cost import CostTable
from .errors import check_choice, check_positive_int
from .hardware import MCM
from .schedule import Schedule
from .stages import stage_runs
from .targets import TARGET_OBJECTIVES, TargetArrays, feasibility_first
from .workload import Workload

#: Named objectives; the last three need latency targets (costmodel/targets.py,
#: docs/evaluation.md): ``energy@targets`` and ``edp@targets`` minimize energy or EDP subject to
#: every model meeting its target (feasibility first), ``targets-met`` maximizes the
#: priority-weighted number of met targets, ties broken by energy.
OBJECTIVES = ("latency", "energy", "edp", "throughput", *TARGET_OBJECTIVES)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class LayerIndex:
    """Static per-layer arrays over the ``L`` layers of all models (global layer order)."""

    model: np.ndarray  # model of each layer
    local: np.ndarray  # index inside its model
    first: np.ndarray  # bool: first layer of its model
    last: np.ndarray  # bool: last layer of its model
    offset: np.ndarray  # [M] global index of each model's first layer
    edge_src: np.ndarray  # activation edges (chain and skip) between layers, global indices
    edge_dst: np.ndarray


#: Dispatch policies for stages that share a chiplet in a window (docs/evaluation.md).
DISPATCH_POLICIES = ("fixed-order",)


class Problem:
    """A workload on an MCM with an objective (``latency``, ``energy``, ``edp``, ``throughput``
    or a callable taking a :class:`~costmodel.evaluate.BatchResult` and returning ``[P]``).

    ``max_windows`` bounds the windows a schedule may use (default: the number of models, at
    least 2). Fitness is always minimized: for ``throughput`` it is seconds per inference.
    """

    def __init__(
        self,
        workload: Workload,
        mcm: MCM,
        objective: str | Callable = "edp",
        max_windows: int | None = None,
        dispatch: str = "fixed-order",
    ) -> None:
        if not callable(objective):
            check_choice("objective", objective, OBJECTIVES)
            if objective in TARGET_OBJECTIVES and not any(workload.targets):
                raise ValueError(
                    f"objective {objective!r} needs latency targets, and workload "
                    f"{workload.name!r} has none (give the workload targets: model -> "
                    "{target_fps|deadline_s, priority})"
                )
        check_choice("dispatch policy", dispatch, DISPATCH_POLICIES)
        self.dispatch = dispatch
        self.workload, self.mcm, self.objective = workload, mcm, objective
        self.max_windows = max_windows if max_windows is not None else max(2, len(workload))
        check_positive_int("max_windows", self.max_windows)
        self.table = CostTable(workload, mcm.classes)
        self._index = self._build_index()
        self.batch = np.array([m.batch for m in workload.models], dtype=np.int64)
        self.mb_options = [divisors(int(b)) for b in self.batch]

    # --- structure ------------------------------------------------------------------------
    def _build_index(self) -> LayerIndex:
        model, local, src, dst, offset = [], [], [], [], []
        g = 0
        for m, mod in enumerate(self.workload.models):
            offset.append(g)
            for i, layer in enumerate(mod.layers):
                model.append(m)
                local.append(i)
                if i > 0:
                    src.append(g + i - 1)
                    dst.append(g + i)
                for s in layer.skips:
                    if s != i - 1:
                        src.append(g + s)
                        dst.append(g + i)
            g += len(mod)
        model_a, local_a = np.array(model), np.array(local)
        sizes = np.array([len(m) for m in self.workload.models])
        return LayerIndex(
            model_a,
            local_a,
            local_a == 0,
            local_a == sizes[model_a] - 1,
            np.array(offset),
            np.array(src, dtype=np.int64),
            np.array(dst, dtype=np.int64),
        )

    @cached_property
    def compiled(self) -> CompiledProblem:
        """Every static array the evaluators need, built once (:mod:`costmodel.compiled`)."""
        return compile_problem(self)

    @property
    def index(self) -> LayerIndex:
        return self._index

    @property
    def n_layers(self) -> int:
        return self.workload.n_layers

    @property
    def n_models(self) -> int:
        return len(self.workload)

    @property
    def genome_length(self) -> int:
        return 2 * self.n_layers + self.n_models * self.max_windows

    @property
    def nvec(self) -> np.ndarray:
        """Exclusive upper bound of every gene (a Gymnasium ``MultiDiscrete`` vector)."""
        L, W = self.n_layers, self.max_windows
        mb = np.repeat([len(o) for o in self.mb_options], W)
        return np.concatenate([np.full(L, self.mcm.n_chiplets), np.full(L, W), mb]).astype(np.int64)

    def split(self, genomes: np.ndarray):
        """``(chiplet [P, L], window [P, L], micro-batch index [P, M, W])`` views of genomes."""
        L, M, W = self.n_layers, self.n_models, self.max_windows
        g = np.asarray(genomes)
        return g[:, :L], g[:, L : 2 * L], g[:, 2 * L :].reshape(len(g), M, W)

    # --- encode / decode / sample --------------------------------------------------------
    def check_genome(self, genome) -> np.ndarray:
        """A genome as an int64 array, or ``ValueError`` naming what is wrong."""
        g = np.asarray(genome)
        if g.ndim != 1 or len(g) != self.genome_length:
            raise ValueError(
                f"genome must have length {self.genome_length} (2 x {self.n_layers} "
                f"layers + {self.n_models} models x {self.max_windows} windows), "
                f"got shape {g.shape}"
            )
        if not np.issubdtype(g.dtype, np.integer):
            if not np.all(np.isfinite(g)) or np.any(g != np.round(g)):
                raise ValueError("genome values must be integers")
        g = g.astype(np.int64)
        bad = np.nonzero((g < 0) | (g >= self.nvec))[0]
        if len(bad):
            i = int(bad[0])
            part = (
                "chiplet"
                if i < self.n_layers
                else "window"
                if i < 2 * self.n_layers
                else "micro-batch index"
            )
            raise ValueError(f"genome[{i}] ({part}) = {g[i]} is out of range 0..{self.nvec[i] - 1}")
        return g

    def decode(self, genome) -> Schedule:
        """The schedule a genome stands for; ``ValueError`` if the genome is invalid."""
        g = self.check_genome(genome)
        c, w, mb = self.split(g[None, :])
        ix = self.index
        windows, chiplets, micro = [], [], []
        for m, mod in enumerate(self.workload.models):
            sl = slice(ix.offset[m], ix.offset[m] + len(mod))
            windows.append(w[0, sl].tolist())
            chiplets.append(c[0, sl].tolist())
            micro.append({int(x): self.mb_options[m][mb[0, m, x]] for x in sorted(set(w[0, sl]))})
        s = Schedule(windows, chiplets, micro)
        self.validate(s)
        return s

    def encode(self, schedule: Schedule) -> np.ndarray:
        """The genome of a valid schedule (unused windows get micro-batch index 0)."""
        self.validate(schedule)
        M, W = self.n_models, self.max_windows
        mb = np.zeros((M, W), dtype=np.int64)
        for m, d in enumerate(schedule.micro_batch):
            for win, b in d.items():
                mb[m, win] = self.mb_options[m].index(b)
        c = np.concatenate([np.asarray(x) for x in schedule.chiplet])
        w = np.concatenate([np.asarray(x) for x in schedule.window])
        return np.concatenate([c, w, mb.ravel()]).astype(np.int64)

    def validate(self, s: Schedule) -> None:
        """Raise ``ValueError`` naming the first rule the schedule breaks."""
        M = self.n_models
        for name, v in (
            ("window", s.window),
            ("chiplet", s.chiplet),
            ("micro_batch", s.micro_batch),
        ):
            if len(v) != M:
                raise ValueError(f"schedule.{name} has {len(v)} models, the workload has {M}")
        for m, mod in enumerate(self.workload.models):
            ws, cs = s.window[m], s.chiplet[m]
            for name, genes in (("window", ws), ("chiplet", cs)):
                if len(genes) != len(mod):
                    raise ValueError(
                        f"schedule.{name}[{m}] covers {len(genes)} layers of model "
                        f"{mod.name!r}, which has {len(mod)}"
                    )
            for i, (w, c) in enumerate(zip(ws, cs)):
                if not 0 <= c < self.mcm.n_chiplets:
                    raise ValueError(
                        f"model {mod.name!r} layer {i}: chiplet {c} out of range "
                        f"0..{self.mcm.n_chiplets - 1}"
                    )
                if not 0 <= w < self.max_windows:
                    raise ValueError(
                        f"model {mod.name!r} layer {i}: window {w} out of range "
                        f"0..{self.max_windows - 1}"
                    )
                if i and w < ws[i - 1]:
                    raise ValueError(
                        f"model {mod.name!r} layer {i}: window {w} comes after "
                        f"window {ws[i - 1]}; windows must not go backwards"
                    )
            mb = s.micro_batch[m]
            for w in set(ws):
                if w not in mb:
                    raise ValueError(f"model {mod.name!r}: no micro-batch for window {w}")
            for w, b in mb.items():
                if b not in self.mb_options[m]:
                    raise ValueError(
                        f"model {mod.name!r} window {w}: micro-batch {b} must divide "
                        f"the batch {mod.batch}; allowed {self.mb_options[m]}"
                    )

    # --- SCAR-style structured view ------------------------------------------------------
    def from_structured(self, spec: list[list[dict]]) -> Schedule:
        """A schedule from, per model, its window segments in chain order, each a dict with
        ``layers`` (how many), ``window``, ``cuts`` (stage boundaries inside the segment, strictly
        increasing in 1..layers-1), ``path`` (one chiplet per stage, neighbours on the mesh) and
        ``micro_batch``."""
        if len(spec) != self.n_models:
            raise ValueError(
                f"structured view has {len(spec)} models, the workload has {self.n_models}"
            )
        window, chiplet, micro = [], [], []
        for _m, (mod, segs) in enumerate(zip(self.workload.models, spec)):
            ws, cs, mb = [], [], {}
            for j, seg in enumerate(segs):
                where = f"model {mod.name!r} segment {j}"
                missing = {"layers", "window", "cuts", "path", "micro_batch"} - set(seg)
                if missing:
                    raise ValueError(f"{where}: missing key {sorted(missing)[0]!r}")
                n, cuts, path = int(seg["layers"]), list(seg["cuts"]), list(seg["path"])
                if n <= 0:
                    raise ValueError(f"{where}: layers must be positive, got {n}")
                if cuts != sorted(set(cuts)) or any(not 0 < c < n for c in cuts):
                    raise ValueError(
                        f"{where}: cuts must increase strictly within 1..{n - 1}, got {cuts}"
                    )
                if len(path) != len(cuts) + 1:
                    raise ValueError(
                        f"{where}: path needs {len(cuts) + 1} chiplets (one per "
                        f"stage), got {len(path)}"
                    )
                for a, b in zip(path, path[1:]):
                    if not (0 <= a < self.mcm.n_chiplets and 0 <= b < self.mcm.n_chiplets):
                        raise ValueError(f"{where}: chiplet out of range in path {path}")
                    if self.mcm.hops[a, b] != 1:
                        raise ValueError(f"{where}: path chiplets {a} and {b} are not neighbours")
                bounds = [0, *cuts, n]
                for k in range(len(path)):
                    cs += [int(path[k])] * (bounds[k + 1] - bounds[k])
                ws += [int(seg["window"])] * n
                mb[int(seg["window"])] = int(seg["micro_batch"])
            window.append(ws)
            chiplet.append(cs)
            micro.append(mb)
        s = Schedule(window, chiplet, micro)
        self.validate(s)
        return s

    def to_structured(self, s: Schedule) -> list[list[dict]]:
        """The structured view of a schedule (paths need not be adjacent in general schedules)."""
        self.validate(s)
        out = []
        for m in range(self.n_models):
            segs = []
            ws, cs = s.window[m], s.chiplet[m]
            i = 0
            while i < len(ws):
                j = i
                while j < len(ws) and ws[j] == ws[i]:
                    j += 1
                starts = stage_runs(cs[i:j], ws[i:j], np.arange(j - i) == 0)
                cuts = [int(k) for k in np.flatnonzero(starts[1:]) + 1]
                path = [cs[i]] + [cs[i + c] for c in cuts]
                segs.append(
                    {
                        "layers": j - i,
                        "window": ws[i],
                        "cuts": cuts,
                        "path": path,
                        "micro_batch": s.micro_batch[m][ws[i]],
                    }
                )
                i = j
            out.append(segs)
        return out

    def repair(self, genomes: np.ndarray) -> np.ndarray:
        """Clip genes into range and make windows non-decreasing along each model's chain
        (running maximum): what :meth:`evaluate_batch` does to invalid rows."""
        return repair_genomes(self.compiled, genomes)

    def canonical(self, genomes, backend: str | None = None) -> np.ndarray:
        """Genomes ``[P, G]`` in canonical form: repaired, then the micro-batch genes of windows a
        model does not use set to 0. Two genomes stand for the same schedule exactly when their
        canonical forms are equal. ``backend``: as :meth:`evaluate_batch` (equal results; numba
        makes it one pass per row)."""
        if resolve_backend(backend) == "numba":
            from .numba_batch import canonical_genomes

            return canonical_genomes(self.compiled, genomes)
        g = self.repair(np.atleast_2d(np.asarray(genomes, dtype=np.int64)))
        L, M, W = self.n_layers, self.n_models, self.max_windows
        win = g[:, L : 2 * L]
        mb = g[:, 2 * L :].reshape(len(g), M, W)
        used = np.zeros(len(g) * M * W, dtype=bool)
        flat = (np.arange(len(g))[:, None] * M + self.index.model[None, :]) * W + win
        used[flat.ravel()] = True
        mb[~used.reshape(len(g), M, W)] = 0
        return g

    def schedule_keys(self, genomes) -> list[bytes]:
        """One hashable key per genome, equal exactly when two genomes stand for the same
        schedule: the :meth:`canonical` row packed into the smallest unsigned integer type that
        holds every gene (one byte up to 256 choices), so that a run's memory of the schedules
        it has seen holds and hashes an eighth of the int64 rows."""
        dtype = np.min_scalar_type(int(self.compiled.nvec.max()) - 1)
        return [row.tobytes() for row in self.canonical(genomes).astype(dtype)]

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """``n`` valid random genomes (windows sorted per model)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        g = rng.integers(0, self.nvec, size=(n, self.genome_length))
        L = self.n_layers
        w = g[:, L : 2 * L]
        for m in range(self.n_models):
            a = self.index.offset[m]
            b = a + len(self.workload.models[m])
            w[:, a:b] = np.sort(w[:, a:b], axis=1)
        return g

    # --- evaluation -----------------------------------------------------------------------
    def evaluate(self, schedule: Schedule):
        """Evaluate one schedule in detail (the readable reference implementation)."""
        from .evaluate import evaluate_schedule

        self.validate(schedule)
        return evaluate_schedule(self, schedule)

    def evaluate_batch(
        self, genomes, backend: str | None = None, detail: bool = True, models: bool = False
    ):
        """Evaluate a population ``[P, G]``; invalid rows are repaired (:meth:`repair`).
        ``backend``: ``"numpy"``, ``"numba"`` (extra ``fast``) or ``None`` = numba when it is
        installed, else numpy; both compute docs/evaluation.md exactly (equal to 1e-9).
        ``detail=False`` skips the per-window, per-chiplet and per-link arrays and, unless
        ``models``, the per-model latencies."""
        g = np.asarray(genomes)
        if g.ndim != 2 or g.shape[1] != self.genome_length:
            raise ValueError(f"genomes must have shape [P, {self.genome_length}], got {g.shape}")
        if models:
            return batch_evaluator(backend)(self.compiled, g, detail=detail, models=True)
        return batch_evaluator(backend)(self.compiled, g, detail=detail)

    # --- latency targets ------------------------------------------------------------------
    @property
    def needs_model_latency(self) -> bool:
        """Whether the objective reads each model's latency (the target objectives)."""
        return self.objective in TARGET_OBJECTIVES

    @cached_property
    def targets(self) -> TargetArrays:
        """The workload's targets as arrays over the models."""
        return TargetArrays.of(self.workload.targets)

    @cached_property
    def target_scales(self) -> tuple[float, float]:
        """``(E0, EDP0)``: the scales of the feasible branch ``x / (x + x0)`` of the target
        objectives (docs/evaluation.md): the workload's least compute energy (every layer on its
        cheapest class and micro-batch, MACs and on-chip accesses only) and that energy times
        the least total compute time of one chiplet running everything. Any positive scale
        keeps the order; these keep feasible fitness values near the middle of ``[0, 1)``."""
        cp = self.compiled
        nmb = cp.batch[cp.model][:, None] / cp.bsize[cp.model].astype(np.float64)  # [L, O]
        valid = cp.bsize[cp.model] > 0
        e = np.where(valid[:, None, :], cp.e * nmb[:, None, :], np.inf).min(axis=(1, 2))
        t = np.where(valid[:, None, :], cp.t * nmb[:, None, :], np.inf).min(axis=(1, 2))
        e0 = float(e.sum())
        return (e0 if e0 > 0 else 1.0), (e0 * float(t.sum()) if e0 * t.sum() > 0 else 1.0)

    def objective_of(self, r) -> np.ndarray:
        """The minimized objective from a (batch) result."""
        if callable(self.objective):
            return np.asarray(self.objective(r), dtype=np.float64)
        if self.objective in TARGET_OBJECTIVES:
            return self._target_objective(r)
        if self.objective == "throughput":
            return 1.0 / np.asarray(r.throughput)
        return np.asarray(
            getattr(r, {"latency": "latency_s", "energy": "energy_j", "edp": "edp"}[self.objective])
        )

    def _target_objective(self, r) -> np.ndarray:
        lat = np.asarray(r.model_latency_s)
        if lat.ndim != 2 or lat.shape[1] != self.n_models:
            raise ValueError(
                f"objective {self.objective!r} needs each model's latency: evaluate with "
                "models=True (or detail=True)"
            )
        e0, edp0 = self.target_scales
        if self.objective == "targets-met":
            e = np.asarray(r.energy_j, dtype=np.float64)
            v = self.targets.violation(lat)
            # met targets first; among equal counts the smaller total overshoot of the missed
            # ones (a gradient toward meeting one more), and with every target met, less energy
            return self.targets.missed_weight(lat) + np.where(v > 0, v / (1.0 + v), e / (e + e0))
        x, x0 = (r.energy_j, e0) if self.objective == "energy@targets" else (r.edp, edp0)
        return feasibility_first(x, x0, self.targets.violation(lat))

    def penalized_objective(self, r, weight: float | None = None) -> np.ndarray:
        """The target objectives as a penalty, for the RL environments' reward: ``x * (1 +
        weight * V)`` with ``x`` the energy (``energy@targets``, ``targets-met``) or EDP and
        ``V`` the total normalized violation (``targets-met``: the missed priority weight over
        the total); ``weight`` defaults to :data:`costmodel.targets.PENALTY_WEIGHT`. Other
        objectives: :meth:`objective_of`."""
        from .targets import PENALTY_WEIGHT

        if self.objective not in TARGET_OBJECTIVES:
            return self.objective_of(r)
        w = PENALTY_WEIGHT if weight is None else weight
        lat = np.asarray(r.model_latency_s)
        if self.objective == "targets-met":
            v = self.targets.missed_weight(lat) / self.targets.priority.sum()
            x = np.asarray(r.energy_j, dtype=np.float64)
        else:
            v = self.targets.violation(lat)
            x = np.asarray(r.energy_j if self.objective == "energy@targets" else r.edp)
        return x * (1.0 + w * v)

    def fitness(self, genomes, backend: str | None = None) -> np.ndarray:
        """The objective of every genome, ``[P]`` (minimized); a callable objective gets the
        full detail, the named ones the fitness-only path (plus each model's latency for the
        target objectives)."""
        r = self.evaluate_batch(
            genomes, backend, detail=callable(self.objective), models=self.needs_model_latency
        )
        return self.objective_of(r)
