"""Reinforcement-learning agents on ``chiplet_sched/Mapping-v0`` (:class:`env.mapping.MappingEnv`).

- :class:`Reinforce` (``"reinforce"``): REINFORCE in numpy alone, a masked softmax policy (linear,
  or one tanh hidden layer) over the environment's observation, the episode's final reward as
  its return, a running-mean baseline, Adam.
- :class:`MaskablePPOAgent` (``"ppo"``): sb3-contrib's MaskablePPO (the optional ``rl`` extra;
  imported only when the agent searches).

Counting. Both agents run the environment with the search :class:`~search.base.Evaluator` as its
batch evaluator (``evaluator=``): the schedule an episode ends with is evaluated once,
by ``ev``, which counts it against the budget, keeps the best and logs it, and the environment's
final reward ``-objective / reference`` is computed from that same evaluation (no second,
uncounted evaluation). One finished episode = one evaluation, as for every other agent. The
environment's fixed reward normalizer (``reference``, the mean of 64 random genomes drawn with a
fixed seed) is computed once from the plain problem when the environment is built and is not
counted, like any other agent's set-up.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from costmodel import Problem

from .base import Algorithm, BudgetExhausted, Evaluator

RL_EXTRA_HINT = (
    "agent 'ppo' needs the optional 'rl' extra (torch, stable-baselines3, sb3-contrib): "
    'pip install torch==2.13.0 && pip install -e ".[rl]"'
)


def counted_mapping_env(problem: Problem, ev: Evaluator, **env_options: Any):
    """A :class:`env.mapping.MappingEnv` on ``problem`` whose end-of-episode evaluation is ``ev``
    (counted, logged, best kept; ``BudgetExhausted`` when the budget is spent)."""
    from env.mapping import MappingEnv

    return MappingEnv(problem=problem, evaluator=ev.evaluate, **env_options)


def _check(name: str, value: Any, kind: str) -> None:
    """``ValueError`` unless ``value`` is a number of the given kind: ``pos_int``, ``pos`` (> 0),
    ``nonneg`` (>= 0), ``unit`` (0 <= x <= 1) or ``open_unit`` (0 <= x < 1)."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    is_num = (is_int or isinstance(value, (float, np.floating))) and math.isfinite(float(value))
    ok = {
        "pos_int": is_int and value > 0,
        "nonneg_int": is_int and value >= 0,
        "pos": is_num and value > 0,
        "nonneg": is_num and value >= 0,
        "unit": is_num and 0 <= value <= 1,
        "open_unit": is_num and 0 <= value < 1,
    }[kind]
    if not ok:
        want = {
            "pos_int": "a positive integer",
            "nonneg_int": "an integer >= 0",
            "pos": "a number > 0",
            "nonneg": "a number >= 0",
            "unit": "a number in [0, 1]",
            "open_unit": "a number in [0, 1)",
        }[kind]
        raise ValueError(f"option {name!r} must be {want}, got {value!r}")


def _check_micro_batch(value: Any) -> None:
    from env.mapping import MICRO_BATCH

    if value not in MICRO_BATCH:
        raise ValueError(f"option 'micro_batch' must be one of {MICRO_BATCH}, got {value!r}")


# --- REINFORCE in numpy ---------------------------------------------------------------------------
class _SoftmaxPolicy:
    """Masked softmax policy: logits = linear(obs), or linear(tanh(linear(obs))) with ``hidden``
    units. The output layer starts at zero, so the first policy is uniform over valid actions."""

    def __init__(self, d: int, n_actions: int, hidden: int, rng: np.random.Generator) -> None:
        self.hidden = hidden
        if hidden:
            self.params = [
                rng.normal(0.0, 1.0 / math.sqrt(d), (d, hidden)),
                np.zeros(hidden),
                np.zeros((hidden, n_actions)),
                np.zeros(n_actions),
            ]
        else:
            self.params = [np.zeros((d, n_actions)), np.zeros(n_actions)]

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self.hidden:
            w1, b1, w2, b2 = self.params
            return np.tanh(x @ w1 + b1) @ w2 + b2
        w, b = self.params
        return x @ w + b

    def grads(self, x: np.ndarray, dlogits: np.ndarray) -> list[np.ndarray]:
        """Gradients of ``sum(dlogits * logits(x))`` with respect to the parameters."""
        if self.hidden:
            w1, b1, w2, _ = self.params
            h = np.tanh(x @ w1 + b1)
            dh = (dlogits @ w2.T) * (1.0 - h * h)
            return [x.T @ dh, dh.sum(0), h.T @ dlogits, dlogits.sum(0)]
        return [x.T @ dlogits, dlogits.sum(0)]


def _masked_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    z = np.where(mask, logits, -np.inf)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class _Adam:
    def __init__(
        self,
        params: list[np.ndarray],
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def ascend(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.b1**self.t, 1.0 - self.b2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p += self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


class Reinforce(Algorithm):
    """REINFORCE with a running-mean baseline on ``Mapping-v0``, numpy only.

    Options: ``lr`` (Adam step), ``episodes_per_update`` (episodes per gradient step),
    ``hidden`` (0: linear policy; else tanh hidden units), ``baseline_decay`` (the baseline and
    the advantage scale are exponential running means of the returns with this decay; 0 = the
    batch's own mean), ``entropy`` (entropy bonus weight), ``micro_batch`` (the environment's
    option, ``"min"`` or ``"max"``).

    The return of an episode is its final reward ``-fitness / reference`` with the fitness from
    the counting evaluator; the advantage ``(R - baseline) / scale`` weighs the summed
    log-probabilities of the episode's actions. All randomness (initial weights, actions) comes
    from the ``rng`` handed to :meth:`search`, so a seed gives one result.
    """

    name = "reinforce"
    options = {
        "lr": 0.05,
        "episodes_per_update": 8,
        "hidden": 0,
        "baseline_decay": 0.9,
        "entropy": 0.0,
        "micro_batch": "min",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        _check("lr", c["lr"], "pos")
        _check("episodes_per_update", c["episodes_per_update"], "pos_int")
        _check("hidden", c["hidden"], "nonneg_int")
        _check("baseline_decay", c["baseline_decay"], "open_unit")
        _check("entropy", c["entropy"], "nonneg")
        _check_micro_batch(c["micro_batch"])
        self.stats: dict[str, Any] = {}

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        c = self.config
        e = counted_mapping_env(problem, ev, micro_batch=c["micro_batch"])
        n_actions = int(e.action_space.n)
        policy = _SoftmaxPolicy(int(e.observation_space.shape[0]), n_actions, int(c["hidden"]), rng)
        adam = _Adam(policy.params, float(c["lr"]))
        decay, batch = float(c["baseline_decay"]), int(c["episodes_per_update"])
        mean = var = None  # running return statistics (the baseline and the advantage scale)
        self.stats = {"updates": 0, "episodes": 0, "steps": 0, "returns": []}
        while not ev.exhausted:
            xs, masks, acts, lengths, returns = [], [], [], [], []
            for _ in range(batch):
                try:
                    ret, n = self._episode(e, policy, rng, xs, masks, acts)
                except BudgetExhausted:
                    break
                returns.append(ret)
                lengths.append(n)
                if ev.exhausted:
                    break
            self.stats["episodes"] += len(returns)
            self.stats["steps"] += sum(lengths)
            self.stats["returns"] += returns
            if not returns or ev.exhausted:
                break  # no gradient step that no episode will use
            r = np.asarray(returns)
            if mean is None or decay == 0.0:
                mean, var = float(r.mean()), float(r.var())
            adv = (r - mean) / (math.sqrt(var) + 1e-8) if var > 0 else r - mean
            mean = decay * mean + (1.0 - decay) * float(r.mean())
            var = decay * var + (1.0 - decay) * float(np.mean((r - mean) ** 2))
            self._update(
                policy,
                adam,
                np.asarray(xs),
                np.asarray(masks),
                np.asarray(acts),
                np.repeat(adv, lengths),
                len(returns),
            )
            self.stats["updates"] += 1

    @staticmethod
    def _episode(
        e, policy: _SoftmaxPolicy, rng: np.random.Generator, xs: list, masks: list, acts: list
    ) -> tuple[float, int]:
        obs, _ = e.reset()
        ret, n = 0.0, 0
        while True:
            mask = e.action_masks()
            p = _masked_softmax(policy.logits(obs.astype(np.float64)), mask)
            a = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
            a = min(a, len(p) - 1)
            if not mask[a]:  # a rounding edge: fall back on the likeliest valid action
                a = int(np.argmax(p))
            xs.append(obs)
            masks.append(mask)
            acts.append(a)
            obs, reward, terminated, truncated, _ = e.step(a)
            ret += float(reward)
            n += 1
            if terminated or truncated:
                return ret, n

    def _update(
        self,
        policy: _SoftmaxPolicy,
        adam: _Adam,
        x: np.ndarray,
        mask: np.ndarray,
        a: np.ndarray,
        adv: np.ndarray,
        n_episodes: int,
    ) -> None:
        """One Adam ascent step on ``mean over episodes of adv * sum log pi(a|s)`` (+ entropy)."""
        x = x.astype(np.float64)
        p = _masked_softmax(policy.logits(x), mask)
        d = -p
        d[np.arange(len(a)), a] += 1.0
        d *= adv[:, None]
        ent = float(self.config["entropy"])
        if ent > 0:
            logp = np.where(mask, np.log(np.where(mask, p, 1.0)), 0.0)
            h = -(p * logp).sum(axis=1, keepdims=True)
            d += ent * (-p * (logp + h))  # d entropy / d logits
        d /= n_episodes
        adam.ascend(policy.params, policy.grads(x, d))

    def extra_result(self) -> dict[str, Any]:
        s = self.stats
        if not s:
            return {}
        r = s["returns"]
        k = max(1, len(r) // 10)
        return {
            "episodes": s["episodes"],
            "steps": s["steps"],
            "updates": s["updates"],
            "return_first": float(np.mean(r[:k])) if r else None,
            "return_last": float(np.mean(r[-k:])) if r else None,
        }


# --- MaskablePPO (sb3-contrib) ----------------------------------------------------------------------
class MaskablePPOAgent(Algorithm):
    """sb3-contrib's MaskablePPO on ``Mapping-v0`` with the environment's action masks.

    Options: ``n_envs`` (environments stepped together, one ``DummyVecEnv``: one policy forward
    for all), ``n_steps`` (per environment and update), ``batch_size``, ``n_epochs``, ``learning_rate``, ``gamma``,
    ``gae_lambda``, ``clip_range``, ``ent_coef``, ``net_arch`` (hidden sizes of the policy and
    value networks) as in sb3, and the environment's ``shaped`` and ``micro_batch``. Every
    finished episode's schedule is evaluated by the counting evaluator; learning stops when the
    budget is spent. torch runs on one thread (restored afterwards); sb3 is seeded with an
    integer drawn from the search ``rng``, and the global numpy / Python / torch random states
    that sb3 seeds are restored after the search.
    """

    name = "ppo"
    options = {
        "n_envs": 4,
        "n_steps": 128,
        "batch_size": 128,
        "n_epochs": 4,
        "learning_rate": 3e-4,
        "gamma": 1.0,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.0,
        "net_arch": [64, 64],
        "shaped": False,
        "micro_batch": "min",
        "device": "cpu",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        for k in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            _check(k, c[k], "pos_int")
        _check("learning_rate", c["learning_rate"], "pos")
        _check("gamma", c["gamma"], "unit")
        _check("gae_lambda", c["gae_lambda"], "unit")
        _check("clip_range", c["clip_range"], "pos")
        _check("ent_coef", c["ent_coef"], "nonneg")
        arch = c["net_arch"]
        if not isinstance(arch, (list, tuple)) or any(
            isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0 for h in arch
        ):
            raise ValueError(f"option 'net_arch' must be a list of positive integers, got {arch!r}")
        self.config["net_arch"] = [int(h) for h in arch]
        if not isinstance(c["shaped"], bool):
            raise ValueError(f"option 'shaped' must be True or False, got {c['shaped']!r}")
        _check_micro_batch(c["micro_batch"])
        if not isinstance(c["device"], str):
            raise ValueError(f"option 'device' must be a torch device name, got {c['device']!r}")
        self.stats: dict[str, Any] = {}

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        try:
            import torch
            from sb3_contrib import MaskablePPO
            from stable_baselines3.common.callbacks import BaseCallback
            from stable_baselines3.common.vec_env import DummyVecEnv
        except ImportError as err:
            raise ImportError(f"{RL_EXTRA_HINT} ({err})") from err
        import random

        c = self.config
        seed = int(rng.integers(0, 2**31 - 1))
        envs = [
            counted_mapping_env(problem, ev, shaped=c["shaped"], micro_batch=c["micro_batch"])
            for _ in range(c["n_envs"])
        ]
        vec = DummyVecEnv([lambda e=e: e for e in envs])

        class _StopWhenSpent(BaseCallback):
            def _on_step(self) -> bool:
                return not ev.exhausted

        threads = torch.get_num_threads()
        states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        torch.set_num_threads(1)
        model = None
        try:
            model = MaskablePPO(
                "MlpPolicy",
                vec,
                n_steps=c["n_steps"],
                batch_size=c["batch_size"],
                n_epochs=c["n_epochs"],
                learning_rate=c["learning_rate"],
                gamma=c["gamma"],
                gae_lambda=c["gae_lambda"],
                clip_range=c["clip_range"],
                ent_coef=c["ent_coef"],
                policy_kwargs={"net_arch": list(c["net_arch"])},
                seed=seed,
                device=c["device"],
                verbose=0,
            )
            # An upper bound on the steps the budget allows; the callback ends learning sooner.
            total = min(ev.remaining, 10**9) * envs[0].max_steps + c["n_steps"] * c["n_envs"]
            try:
                model.learn(total_timesteps=total, callback=_StopWhenSpent())
            except BudgetExhausted:
                pass
        finally:
            torch.set_num_threads(threads)
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
        self.stats = {"steps": int(model.num_timesteps), "seed": seed}

    def extra_result(self) -> dict[str, Any]:
        return dict(self.stats)
