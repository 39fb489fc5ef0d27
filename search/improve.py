"""``reinforce-moves``: reinforcement learning that picks the improvement move (learn to improve).

The policy acts in ``chiplet_sched/Improve-v0`` (:mod:`env.improve`): each step it chooses one
of the structured schedule moves of :mod:`search.operators` and how many times to apply it; the
environment applies the move, evaluates the candidate (one counted evaluation) and keeps it when
it is no worse; the reward is the log of the improvement. This is the formulation of Lu, Zhang
and Yang (ICLR 2020) for routing problems: a learned controller over improvement operators,
with perturbation ("kick") of a chain stuck for ``patience`` steps. Its observation has the same
size for every problem, so a policy trained on one problem applies to another (``resume``).

``chains`` chains run in lockstep on the search's counting evaluator (one batch call per step,
schedules seen before cost nothing). They start from the best ``chains`` of
:func:`search.genetic.initial_population` (the baselines among them in the seeded track,
structure-aware random starts only with ``seed_baselines=False``). Every ``horizon`` steps the
linear softmax policy (numpy, :class:`search.rl.SoftmaxPolicy`) takes one REINFORCE step on the
discounted returns-to-go (``gamma``) of all chains' steps, the advantage being the return minus
the mean over chains of the same step, scaled by their standard deviation; ``entropy`` weighs an
entropy bonus. Learning curves go to ``learning.jsonl``; ``checkpoint``/``resume`` save and load
the policy and its optimizer (a checkpoint of another layout: ``ValueError`` naming it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from costmodel import Problem
from env.common import reference_objective
from env.improve import (
    DECAY,
    N_ACTIONS,
    OBS_DIM,
    OBS_FEATURES,
    OBS_SCALES,
    STRENGTHS,
    ImproveChains,
    ImproveEnv,
)

from .base import Algorithm, BudgetExhausted, Evaluator
from .genetic import GA, initial_population
from .operators import GenomeOps
from .rl import (
    Adam,
    LearningLog,
    SoftmaxPolicy,
    check_option,
    check_path_option,
    composite_hash,
    file_digest,
    load_checkpoint,
    masked_softmax,
    policy_gradient_step,
    policy_state,
    sample_actions,
    save_checkpoint,
    set_policy_state,
    shipped_or_path,
)

#: the shipped policy's weights (``experiments/train_policy.py`` writes them)
SHIPPED_POLICY = Path(__file__).with_name("moves_policy.npz")
RETRAIN_COMMAND = (
    "python -m experiments.train_policy experiments/configs/training/train-policy.yaml "
    "--out search/moves_policy.npz"
)


def make_improve_env(**kwargs: Any) -> ImproveEnv:
    """``Improve-v0`` with this package's moves (:class:`search.operators.GenomeOps`); the entry
    point ``gymnasium.make("chiplet_sched/Improve-v0", ...)`` uses."""
    return ImproveEnv(moves=GenomeOps, **kwargs)


def improve_layout(hidden: int) -> dict[str, Any]:
    """What a ``reinforce-moves`` checkpoint's policy was built for (checked on resume)."""
    return {
        "agent": "reinforce-moves",
        "policy": "linear",
        "obs": "improve",
        "obs_dim": OBS_DIM,
        "obs_features": list(OBS_FEATURES),
        "obs_scales": list(OBS_SCALES),
        "decay": DECAY,
        "strengths": list(STRENGTHS),
        "n_actions": N_ACTIONS,
        "hidden": int(hidden),
    }


class ReinforceMoves(Algorithm):
    """REINFORCE over improvement moves on ``Improve-v0`` chains (module docstring)."""

    name = "reinforce-moves"
    options = {
        "chains": 8,
        "horizon": 25,
        "gamma": 0.9,
        "lr": 0.05,
        "hidden": 0,
        "entropy": 0.01,
        "patience": 60,
        "kick": 4,
        "init_samples": 16,
        "seed_baselines": True,
        "learn": True,
        "checkpoint": None,
        "resume": None,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        for k in ("chains", "horizon", "patience", "kick", "init_samples"):
            check_option(k, c[k], "pos_int")
        for k in ("chains", "horizon"):  # the advantage compares chains and steps: one is none
            if c[k] < 2:
                raise ValueError(f"option {k!r} must be at least 2, got {c[k]!r}")
        check_option("gamma", c["gamma"], "unit")
        check_option("lr", c["lr"], "pos")
        check_option("hidden", c["hidden"], "nonneg_int")
        check_option("entropy", c["entropy"], "nonneg")
        check_path_option("checkpoint", c["checkpoint"])
        check_path_option("resume", c["resume"])
        self.stats: dict[str, Any] = {}

    def hash_inputs(self) -> dict[str, Any]:
        """The resumed checkpoint's digest: retrained weights under the same path are another
        computation (:func:`search.api.run_hash`)."""
        path = self._resume_path()
        return {} if path is None else {"resume_sha256": file_digest(path, "resume")}

    def _resume_path(self) -> Path | None:
        """The checkpoint to start from: ``resume``, with ``"shipped"`` meaning the package's
        trained weights (:data:`SHIPPED_POLICY`)."""
        return shipped_or_path(self.config["resume"], SHIPPED_POLICY, RETRAIN_COMMAND, "policy")

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        with LearningLog(ev) as log:
            self._search(problem, ev, rng, log)

    def _search(
        self, problem: Problem, ev: Evaluator, rng: np.random.Generator, log: LearningLog
    ) -> None:
        c = self.config
        K, T = int(c["chains"]), int(c["horizon"])
        hidden = int(c["hidden"])
        policy = SoftmaxPolicy(OBS_DIM, N_ACTIONS, hidden, rng)
        adam = Adam(policy.params, float(c["lr"]))
        layout = improve_layout(hidden)
        resume = self._resume_path()
        if resume is not None:
            set_policy_state(load_checkpoint(resume, layout), policy, adam)
        ops = GenomeOps(problem)
        init = initial_population(
            problem, max(int(c["init_samples"]), K), rng, bool(c["seed_baselines"]), ops
        )
        f = ev.cached(init)
        order = np.argsort(f, kind="stable")[:K]
        chains = ImproveChains(
            ops, ev.cached, reference_objective(problem), T, int(c["patience"]), int(c["kick"])
        )
        chains.reset(init[order], f[order])
        gamma = float(c["gamma"])
        self.stats = {"updates": 0, "steps": 0, "returns": [], "entropy": []}
        try:
            while not ev.exhausted:
                chains.t = 0  # the observation's progress counts steps within an update
                xs, acts, rewards = [], [], []
                mask = np.broadcast_to(chains.mask, (K, N_ACTIONS))
                for _ in range(T):
                    x = chains.observe().astype(np.float64)
                    a = sample_actions(masked_softmax(policy.logits(x), mask), mask, rng)
                    try:
                        out = chains.step(a, rng)
                    except BudgetExhausted:
                        break
                    xs.append(x)
                    acts.append(a)
                    rewards.append(out["reward"])
                    if ev.exhausted:
                        break
                self.stats["steps"] += len(rewards)
                if len(rewards) < 2 or not c["learn"]:
                    if rewards:
                        log.record(list(chains.f), [], float("nan"))
                    if len(rewards) < 2:
                        break
                    continue
                r = np.asarray(rewards)  # [steps, chains]
                ret = np.zeros_like(r)
                acc = np.zeros(K)
                for t in range(len(r) - 1, -1, -1):
                    acc = r[t] + gamma * acc
                    ret[t] = acc
                adv = (ret - ret.mean(axis=1, keepdims=True)) / (
                    ret.std(axis=1, keepdims=True) + 1e-8
                )
                entropy = policy_gradient_step(
                    policy,
                    adam,
                    np.concatenate(xs),
                    np.broadcast_to(chains.mask, (r.size, N_ACTIONS)),
                    np.concatenate(acts),
                    adv.reshape(-1),
                    K,
                    float(c["entropy"]),
                )
                self.stats["updates"] += 1
                self.stats["returns"] += list(ret[0])
                self.stats["entropy"].append(float(entropy))
                log.record(list(chains.f), list(ret[0]), entropy)
        finally:
            if c["checkpoint"] is not None:
                save_checkpoint(c["checkpoint"], layout, policy_state(policy, adam))
            self.policy, self.chains = policy, chains

    def extra_result(self) -> dict[str, Any]:
        s = self.stats
        if not s:
            return {}
        out = {"updates": s["updates"], "steps": s["steps"]}
        if s["entropy"]:  # the policy's entropy (nats) at its last update: collapsed near 0
            out["entropy_last"] = s["entropy"][-1]
        return out


class ShippedPolicy(ReinforceMoves):
    """``policy``: ``reinforce-moves`` starting from the shipped weights (``resume="shipped"``,
    trained on generated problems by :mod:`experiments.train_policy`), fine-tuning them as it
    searches; ``learn=False`` keeps them frozen (zero-shot)."""

    name = "policy"
    options = {**ReinforceMoves.options, "resume": "shipped"}


class _Capped:
    """``ev`` seen by one phase of a composite agent: exhausted once ``ev`` has counted ``cap``
    evaluations (a call that starts below the cap may finish a batch past it; the run's own
    budget is still enforced by ``ev``)."""

    def __init__(self, ev: Evaluator, cap: int) -> None:
        self._ev, self._cap = ev, cap

    @property
    def exhausted(self) -> bool:
        return self._ev.exhausted or self._ev.n_evals >= self._cap

    def cached(self, genomes: np.ndarray) -> np.ndarray:
        if self.exhausted:
            raise BudgetExhausted
        return self._ev.cached(genomes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ev, name)


class PolicyThenGA(Algorithm):
    """``policy-ga``: the shipped policy, frozen, for the first ``policy_share`` of the budget
    (evaluations), then the GA with the policy chains' best schedules first in its population
    (issue 13: does seeding the GA with the policy's schedules reach the GA's result sooner?).
    ``seed_baselines`` applies to both phases. The budget must be in evaluations."""

    name = "policy-ga"
    options = {"policy_share": 0.25, "seed_baselines": True}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        check_option("policy_share", self.config["policy_share"], "open_unit")

    def hash_inputs(self) -> dict[str, Any]:
        return composite_hash(ShippedPolicy().hash_inputs(), (ShippedPolicy, GA))

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        c = self.config
        if ev.budget.evals is None:
            raise ValueError("agent 'policy-ga' needs a budget in evaluations")
        sb = bool(c["seed_baselines"])
        cap = int(round(float(c["policy_share"]) * ev.budget.evals))
        first = ShippedPolicy(learn=False, seed_baselines=sb)
        if cap > 0:
            try:
                first.search(problem, _Capped(ev, cap), rng)  # type: ignore[arg-type]
            except BudgetExhausted:
                pass
        ga = GA(seed_baselines=sb)
        chains = getattr(first, "chains", None)
        if chains is not None and hasattr(chains, "best"):
            ga.warm_start = chains.best[np.argsort(chains.f_best, kind="stable")]
        self.policy_evals = ev.n_evals
        ga.search(problem, ev, rng)

    def extra_result(self) -> dict[str, Any]:
        return {"policy_evals": getattr(self, "policy_evals", None)}
