"""Several ``Mapping-v0`` environments stepped together, with one batched evaluation of all the
schedules that finish on the same step (why: a policy then runs one forward pass for all the
environments, and the evaluator one call for all finished episodes instead of one call each).

:class:`MappingVectorEnv` is plain numpy (no Stable-Baselines3 dependency); ``search.policies``
adapts it to SB3's ``VecEnv`` interface for MaskablePPO. Finished environments are reset at once
(auto-reset); the observation of the finished episode is in ``infos[i]["terminal_observation"]``
as SB3 expects, and ``infos[i]`` holds the end-of-episode figures of :meth:`MappingEnv.step`.
"""

from __future__ import annotations

import numpy as np

from .common import BatchEvaluatorFn, evaluate_genomes
from .mapping import MappingEnv


def stack(observations: list) -> np.ndarray | dict[str, np.ndarray]:
    """Stack per-environment observations (arrays, or dicts of arrays) along a new first axis."""
    if isinstance(observations[0], dict):
        return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return np.stack(observations)


class MappingVectorEnv:
    """``n_envs`` clones of ``env`` (:meth:`MappingEnv.clone`), stepped in lockstep.

    ``evaluator`` (default: ``env.evaluator``, else ``Problem.evaluate_batch``) evaluates the
    schedules finished on one step in one call. When it returns fewer rows than asked (a counting
    evaluator at the end of its budget), the episodes left out end without their final reward and
    with ``info["evaluated"] = False``; :attr:`spent` becomes True.
    """

    def __init__(
        self, env: MappingEnv, n_envs: int, evaluator: BatchEvaluatorFn | None = None
    ) -> None:
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
        self.envs = [env] + [env.clone() for _ in range(int(n_envs) - 1)]
        self.num_envs = int(n_envs)
        self.evaluator = evaluator if evaluator is not None else env.evaluator
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.problem = env.problem
        self.spent = False
        self.episodes = 0

    def reset(self, seed: int | None = None):
        obs = [e.reset(seed=None if seed is None else seed + i)[0] for i, e in enumerate(self.envs)]
        return stack(obs)

    def action_masks(self) -> np.ndarray:
        return np.stack([e.action_masks() for e in self.envs])

    def step(self, actions) -> tuple:
        """``(observations, rewards [B], dones [B], infos)``; finished environments restart."""
        B = self.num_envs
        rewards = np.zeros(B)
        dones = np.zeros(B, dtype=bool)
        infos: list[dict] = [{} for _ in range(B)]
        finished = []
        for i, (e, a) in enumerate(zip(self.envs, np.asarray(actions).reshape(B))):
            r, term, trunc, info = e.advance(a)
            rewards[i] = r
            infos[i] = info
            if term or trunc:
                dones[i] = True
                info["TimeLimit.truncated"] = bool(trunc and not term)
                finished.append(i)
        if finished:
            genomes = np.stack([self.envs[i].genome() for i in finished])
            ref = self.envs[0].reference
            final, units = evaluate_genomes(self.problem, genomes, ref, self.evaluator)
            for j, i in enumerate(finished):
                if j < len(units):
                    rewards[i] += final[j]
                    infos[i].update(units[j])
                    infos[i]["evaluated"] = True
                else:
                    infos[i]["evaluated"] = False
                    self.spent = True
            self.episodes += len(units)
        obs = []
        for i, e in enumerate(self.envs):
            o = e._obs()
            if dones[i]:
                infos[i]["terminal_observation"] = o
                o = e.reset()[0]
            obs.append(o)
        return stack(obs), rewards, dones, infos
