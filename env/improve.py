"""``chiplet_sched/Improve-v0``: improve a whole schedule one structured move at a time.

The learn-to-improve formulation (Lu, Zhang and Yang, "A Learning-based Iterative Method for
Solving Vehicle Routing Problems", ICLR 2020): the state is a complete schedule, an action picks
an improvement operator, the environment applies it, evaluates the result and keeps it when it is
no worse. Here the operators are the schedule moves of :mod:`search.operators` (shift a cut
point, merge or split stages, move a stage or a run of layers, swap two stages, split or merge
windows, move a group, change a micro-batch), applied 1, 2 or 4 times.

The moves live in the search layer, so the environment takes them as a :class:`MoveSet` (any
object with ``apply_moves`` and ``starts``; :class:`search.operators.GenomeOps` is one).
``gymnasium.make("chiplet_sched/Improve-v0", ...)`` is registered by :mod:`search`, which
supplies its moves.

Action: ``Discrete(len(MOVE_NAMES) * len(STRENGTHS))``; action ``a`` applies move
``MOVE_NAMES[a // 3]`` ``STRENGTHS[a % 3]`` times. Kinds the problem cannot use (``window`` and
``group`` with one window, ``micro_batch`` with one option per model) are masked
(:meth:`ImproveEnv.action_masks`) and, if taken anyway, change nothing.

Observation: ``Box(-1, 1, (OBS_DIM,), float32)``, the same size for every problem, laid out as
:data:`OBS_FEATURES`: the current schedule's objective against the best this episode and against
the reward normalizer, the episode's progress, steps since the last improvement, whether the
last move was kept and whether it improved, per move kind the running (decay 0.9) rate of strict
improvements and mean log gain when tried, and the last action one-hot. Nothing in it depends
on the mesh or the number of models, so one policy applies to any problem.

Dynamics and reward: a candidate is kept when its objective is no worse (plateau moves are
taken); the reward is ``log(f_before / f_after)`` for a strict improvement, else 0, so an
episode without kicks returns the log of the objective's improvement. After ``patience`` steps
without an improvement the schedule is kicked: the episode's best schedule changed by ``kick``
random moves (evaluated, reward 0; kept as the best if it is better). A kick usually raises the
objective, and climbing back is rewarded again: with kicks the return counts improvement steps,
not net progress. Episodes are truncated after ``horizon`` steps. ``info`` holds
``objective`` (current), ``best``, ``kept``, ``improved``, ``move``, ``n_moves`` and ``kicked``.

Counting: every candidate and every kick is one evaluation of ``fitness`` (default: the
problem's objective by ``Problem.fitness``; a search passes its counting evaluator).
:class:`ImproveChains` runs ``n`` such chains in lockstep, one batch evaluation per step (a
second one for the kicked chains on a step with kicks); the environment is its ``n = 1`` case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from costmodel import Problem, baseline_genomes

from .common import build_problem, reference_objective

#: the move kinds, in the order of :data:`search.operators.MOVES`
MOVE_NAMES = ("cut", "merge", "stage", "split", "swap", "run", "window", "group", "micro_batch")
#: how many times an action applies its move
STRENGTHS = (1, 2, 4)
N_ACTIONS = len(MOVE_NAMES) * len(STRENGTHS)
#: decay of the per-kind running statistics in the observation
DECAY = 0.9
#: divisors of the two log-objective features and factor of the gain feature (a checkpoint
#: records them: weights learned under other scales are refused)
OBS_SCALES = (5.0, 10.0, 10.0)
OBS_FEATURES: tuple[str, ...] = (
    "log_current_over_best",
    "log_best_over_reference",
    "progress",
    "stale",
    "last_kept",
    "last_improved",
    *(f"success_{m}" for m in MOVE_NAMES),
    *(f"gain_{m}" for m in MOVE_NAMES),
    *(f"last_{m}_x{s}" for m in MOVE_NAMES for s in STRENGTHS),
)
OBS_DIM = len(OBS_FEATURES)


class MoveSet(Protocol):
    """Schedule moves for one problem: ``moves`` names the kinds it can use (a subset of
    :data:`MOVE_NAMES`), ``apply_moves(genomes, kinds, rng, n_moves)`` returns copies of the rows
    with ``n_moves`` moves of kind ``MOVE_NAMES[kinds[i]]`` each, ``starts(n, rng)`` gives random
    valid genomes."""

    moves: list[str]

    def apply_moves(
        self,
        genomes: np.ndarray,
        kinds: np.ndarray,
        rng: np.random.Generator,
        n_moves: int | np.ndarray = 1,
    ) -> np.ndarray: ...

    def starts(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


#: genomes ``[n, G]`` -> objective per row (``inf`` for a row that could not be evaluated)
FitnessFn = Callable[[np.ndarray], np.ndarray]


def _positive(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if np.any(f <= 0) or np.any(np.isnan(f)):
        raise ValueError(
            "Improve-v0 needs a positive objective (its reward is a log ratio), got "
            f"{f[(f <= 0) | np.isnan(f)][:3]}"
        )
    return f


class ImproveChains:
    """``n`` improvement chains stepped in lockstep: the dynamics, observation and reward of
    ``Improve-v0`` for all of them with one batch evaluation per step, two with kicks (a search
    runs many chains; :class:`ImproveEnv` runs one)."""

    def __init__(
        self,
        moves: MoveSet,
        fitness: FitnessFn,
        reference: float,
        horizon: int = 100,
        patience: int = 20,
        kick: int = 4,
    ) -> None:
        for name, v in (("horizon", horizon), ("patience", patience), ("kick", kick)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"option {name!r} must be a positive integer, got {v!r}")
        unknown = [m for m in moves.moves if m not in MOVE_NAMES]
        if unknown:
            raise ValueError(f"unknown move kinds {unknown}; allowed: {', '.join(MOVE_NAMES)}")
        self.moves, self.fitness = moves, fitness
        self.reference = float(reference)
        self.horizon, self.patience, self.kick = int(horizon), int(patience), int(kick)
        self.usable = np.array([MOVE_NAMES.index(m) for m in moves.moves], dtype=np.int64)
        kind_ok = np.isin(np.arange(len(MOVE_NAMES)), self.usable)
        self.mask = np.repeat(kind_ok, len(STRENGTHS))

    def reset(self, genomes: np.ndarray, objectives: np.ndarray) -> None:
        """Start a chain from each row of ``genomes`` (with their objectives)."""
        self.cur = np.array(genomes, dtype=np.int64, ndmin=2, copy=True)
        self.f = _positive(objectives).copy()
        if not np.all(np.isfinite(self.f)):
            raise ValueError("every starting schedule needs a finite objective (was it evaluated?)")
        n, K = len(self.cur), len(MOVE_NAMES)
        self.best, self.f_best = self.cur.copy(), self.f.copy()
        self.t = 0
        self.stale = np.zeros(n, dtype=np.int64)
        self.success = np.zeros((n, K))
        self.gain = np.zeros((n, K))
        self.last = np.full(n, -1, dtype=np.int64)
        self.kept = np.zeros(n, dtype=bool)
        self.improved = np.zeros(n, dtype=bool)

    @property
    def n(self) -> int:
        return len(self.cur)

    def observe(self) -> np.ndarray:
        """``[n, OBS_DIM]`` float32 observation of every chain (layout :data:`OBS_FEATURES`)."""
        n = self.n
        last = np.zeros((n, N_ACTIONS))
        has = self.last >= 0
        last[np.flatnonzero(has), self.last[has]] = 1.0
        head = np.stack(
            [
                np.clip(np.log(self.f / self.f_best) / OBS_SCALES[0], 0.0, 1.0),
                np.clip(np.log(self.f_best / self.reference) / OBS_SCALES[1], -1.0, 1.0),
                np.full(n, min(self.t / self.horizon, 1.0)),
                np.minimum(self.stale / self.patience, 1.0),
                self.kept.astype(float),
                self.improved.astype(float),
            ],
            axis=1,
        )
        gain = np.clip(self.gain * OBS_SCALES[2], 0.0, 1.0)
        return np.concatenate([head, self.success, gain, last], axis=1).astype(np.float32)

    def step(self, actions: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Apply each chain's action, evaluate the candidates in one call, keep the ones no
        worse, kick the chains stuck for ``patience`` steps; returns per chain ``reward``,
        ``kept``, ``improved``, ``kicked`` and the new ``objective``."""
        a = np.asarray(actions, dtype=np.int64).reshape(self.n)
        if np.any((a < 0) | (a >= N_ACTIONS)):
            raise ValueError(f"actions must be in 0..{N_ACTIONS - 1}, got {a}")
        kind, strength = np.divmod(a, len(STRENGTHS))
        cand = self.moves.apply_moves(self.cur, kind, rng, np.asarray(STRENGTHS)[strength])
        fc = np.asarray(self.fitness(cand), dtype=np.float64)
        ok = np.isfinite(fc)
        _positive(fc[ok])
        improved = ok & (fc < self.f)
        kept = ok & (fc <= self.f)
        reward = np.zeros(self.n)
        reward[improved] = np.log(self.f[improved] / fc[improved])
        self.cur[kept], self.f[kept] = cand[kept], fc[kept]
        better = improved & (fc < self.f_best)
        self.best[better], self.f_best[better] = cand[better], fc[better]
        rows = np.arange(self.n)
        tried = self.mask[a] & ok  # a masked action tells nothing about its kind
        for stat, x in ((self.success, improved.astype(float)), (self.gain, reward)):
            stat[rows[tried], kind[tried]] = (
                DECAY * stat[rows[tried], kind[tried]] + (1 - DECAY) * x[tried]
            )
        self.stale = np.where(improved, 0, self.stale + 1)
        kicked = self.stale >= self.patience
        if kicked.any():
            k = np.flatnonzero(kicked)
            kinds = self.usable[rng.integers(len(self.usable), size=len(k))]
            fresh = self.moves.apply_moves(self.best[k], kinds, rng, self.kick)
            fk = np.asarray(self.fitness(fresh), dtype=np.float64)
            done = np.isfinite(fk)
            _positive(fk[done])
            self.cur[k[done]], self.f[k[done]] = fresh[done], fk[done]
            lucky = done & (fk < self.f_best[k])  # a kick can land below the best: keep it
            self.best[k[lucky]], self.f_best[k[lucky]] = fresh[lucky], fk[lucky]
            self.stale[k] = 0
        self.t += 1
        self.last, self.kept, self.improved = a, kept, improved
        return {
            "reward": reward,
            "kept": kept,
            "improved": improved,
            "kicked": kicked,
            "objective": self.f.copy(),
        }


class ImproveEnv(gym.Env):
    """Improve one schedule by structured moves (module docstring: spaces, reward, dynamics).

    ``moves`` is required (the search layer's moves; ``gymnasium.make`` through :mod:`search`
    supplies :class:`search.operators.GenomeOps`). ``start``: ``"random"`` (a structure-aware
    random schedule, ``moves.starts``) or ``"baseline"`` (the best of the problem's baseline
    schedules); ``reset(options={"genome": g})`` starts from ``g``."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        moves: MoveSet | Callable[[Problem], MoveSet] | None = None,
        problem: Problem | None = None,
        scenario: str | None = None,
        pattern: str | None = None,
        rows: int | None = None,
        cols: int | None = None,
        objective: str | Callable | None = None,
        max_windows: int | None = None,
        horizon: int = 100,
        patience: int = 20,
        kick: int = 4,
        start: str = "random",
        fitness: FitnessFn | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if start not in ("random", "baseline"):
            raise ValueError(f"option 'start' must be 'random' or 'baseline', got {start!r}")
        if moves is None:
            raise ValueError(
                "Improve-v0 needs moves= (search.operators.GenomeOps(problem), or make it with "
                "gymnasium.make after importing search)"
            )
        p = build_problem(problem, scenario, pattern, rows, cols, objective, max_windows)
        self.problem, self.render_mode, self.start = p, render_mode, start
        # a MoveSet, or a factory of one (e.g. the class GenomeOps) called with the problem
        ms = moves(p) if isinstance(moves, type) or not hasattr(moves, "apply_moves") else moves
        self.reference = reference_objective(p)
        self.chains = ImproveChains(
            ms,  # type: ignore[arg-type]
            fitness if fitness is not None else p.fitness,
            self.reference,
            horizon,
            patience,
            kick,
        )
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32)

    def action_masks(self) -> np.ndarray:
        """Actions whose move kind this problem can use."""
        return self.chains.mask.copy()

    def _start(self) -> np.ndarray:
        p = self.problem
        if self.start == "random":
            return self.chains.moves.starts(1, self.np_random)
        g = np.array(list(baseline_genomes(p).values()), dtype=np.int64)
        return g[[int(np.argmin(self.chains.fitness(g)))]]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "genome" in options:
            g = np.array(options["genome"], dtype=np.int64, ndmin=2)
            if g.shape != (1, self.problem.genome_length):
                raise ValueError(
                    f"reset option 'genome' must hold {self.problem.genome_length} genes "
                    f"(this problem's genome length), got shape {g.shape}"
                )
            g = self.problem.repair(g)
        else:
            g = self._start()
        self.chains.reset(g, self.chains.fitness(g))
        return self.chains.observe()[0], self._info()

    def _info(self, out: dict | None = None) -> dict:
        c = self.chains
        info: dict[str, Any] = {"objective": float(c.f[0]), "best": float(c.f_best[0])}
        if out is not None:
            a = int(c.last[0])
            info.update(
                kept=bool(out["kept"][0]),
                improved=bool(out["improved"][0]),
                kicked=bool(out["kicked"][0]),
                move=MOVE_NAMES[a // len(STRENGTHS)],
                n_moves=STRENGTHS[a % len(STRENGTHS)],
            )
        return info

    def step(self, action):
        if not hasattr(self.chains, "cur"):
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action).reshape(())
        if not self.action_space.contains(int(a)) or a != int(a):
            raise ValueError(f"action must be an integer in 0..{N_ACTIONS - 1}, got {action!r}")
        out = self.chains.step(np.array([int(a)]), self.np_random)
        truncated = self.chains.t >= self.chains.horizon
        obs = self.chains.observe()[0]
        return obs, float(out["reward"][0]), False, truncated, self._info(out)

    def best_genome(self) -> np.ndarray:
        """The best schedule of the episode so far (a genome)."""
        return self.chains.best[0].copy()

    def render(self):
        if self.render_mode != "ansi":
            return None
        c = self.chains
        return (
            f"step {c.t}/{c.horizon}: objective {c.f[0]:.6g}, best {c.f_best[0]:.6g}, "
            f"stale {int(c.stale[0])}"
        )
