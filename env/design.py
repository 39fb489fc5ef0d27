"""``chiplet_sched/Design-v0``: the whole genome in one step (a one-step bandit), so any agent
with a ``MultiDiscrete`` policy sees exactly the search space of the genetic algorithms.

Action: ``MultiDiscrete(p.nvec)``, the flat genome ``[chiplet of each layer | window of each
layer | micro-batch option per model and window]`` (``costmodel.problem``). Windows that go
backwards along a model are repaired with ``Problem.repair`` (running maximum; out-of-range genes
are clipped) before evaluation; ``info["repaired"]`` says whether anything changed and
``info["genome"]`` is the genome evaluated.

Observation: the constant ``Box(0, 1, (1,), float32)`` value ``[1.0]`` (a bias input: there is no
state to observe).

Reward: ``-objective / reference`` (``reference`` = mean objective of ``p.sample(64, seed=0)``,
:func:`env.common.reference_objective`), computed by ``Problem.evaluate_batch``; every step
terminates. ``info`` holds ``latency_s``, ``energy_j``, ``edp``, ``throughput``, ``objective``,
``reference``, ``genome`` and ``repaired``. With a target objective (``energy@targets``,
``edp@targets``, ``targets-met``) the reward is the penalty form ``-x (1 + 10 V) / reference``
(:func:`env.common.evaluate_genome`, docs/evaluation.md) and ``info`` adds ``model_latency``.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from costmodel import Problem

from .common import BatchEvaluatorFn, build_problem, evaluate_genome, reference_objective


class DesignEnv(gym.Env):
    """Choose a whole schedule genome in one step."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        problem: Problem | None = None,
        scenario: str | None = None,
        pattern: str | None = None,
        rows: int | None = None,
        cols: int | None = None,
        objective: str | Callable | None = None,
        max_windows: int | None = None,
        render_mode: str | None = None,
        evaluator: BatchEvaluatorFn | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        p = build_problem(problem, scenario, pattern, rows, cols, objective, max_windows)
        self.problem, self.render_mode = p, render_mode
        self.reference = reference_objective(p)
        self.evaluator = evaluator
        self.action_space = gym.spaces.MultiDiscrete(p.nvec)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self._last: dict | None = None
        self._done = False

    def _obs(self) -> np.ndarray:
        return np.ones(1, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._last, self._done = None, False
        return self._obs(), {}

    def step(self, action):
        if self._done:
            raise RuntimeError("the episode is over: call reset() before step()")
        g = np.asarray(action).reshape(-1)
        if len(g) != self.problem.genome_length:
            raise ValueError(
                f"action must be a genome of length {self.problem.genome_length}, got {g.shape}"
            )
        fixed = self.problem.repair(g[None, :])[0]
        reward, info = evaluate_genome(self.problem, fixed, self.reference, self.evaluator)
        info["repaired"] = bool(np.any(fixed != g))
        self._last, self._done = info, True
        return self._obs(), reward, True, False, info

    def render(self) -> str | None:
        """The last evaluated schedule's figures as text (``render_mode="ansi"``)."""
        if self.render_mode is None:
            return None
        p = self.problem
        head = f"{p.workload.name} on {p.mcm.name}, genome length {p.genome_length}"
        if self._last is None:
            return head + ": no genome evaluated yet"
        i = self._last
        stages = len(p.decode(i["genome"]).stages())
        return (
            f"{head}: {stages} stages, latency {i['latency_s']:.4g} s, energy "
            f"{i['energy_j']:.4g} J, EDP {i['edp']:.4g}, throughput {i['throughput']:.4g}/s, "
            f"objective {i['objective']:.4g} (reference {i['reference']:.4g})"
        )
