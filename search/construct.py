"""``construct``: a schedule in one pass, one forward pass of a policy per decision, by a policy
that imitates searched schedules (issue 13, item 4's form).

Why imitation. Policy gradients on ``Mapping-v0`` get one reward per episode of hundreds of
decisions and plateau far above the baselines (README, RL agents). A search (the expert, e.g.
``sa``) finds good schedules on generated problems; :meth:`env.mapping.MappingEnv.actions_for`
turns each into the decisions that build it; the policy (:class:`search.policies.ChipletPolicyNet`:
attention over the chiplets, so one network fits any mesh and any number of models) learns to
take those decisions (cross-entropy, behaviour cloning). At test time it builds a schedule for an
unseen problem in one pass: greedily, and ``samples - 1`` more by sampling, all in lockstep (one
batched forward pass per step), evaluated in one batch; the best is the result.

The environment every policy here sees: :data:`ENV_OPTIONS` (the dict observation, micro-batch
actions, windows that may stay empty, so that every schedule a search finds can be shown).
Training: :mod:`experiments.train_construct`; shipped weights: :data:`SHIPPED_CONSTRUCT`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from costmodel import Problem
from env.mapping import MappingEnv
from env.observation import CHIPLET_FEATURES, LAYER_FEATURES, MODEL_FEATURES
from env.vector import stack

from .base import Algorithm, Evaluator
from .genetic import GA
from .policies import ChipletPolicyNet, as_tensors
from .rl import (
    check_layout,
    check_path_option,
    composite_hash,
    file_digest,
    load_checkpoint,
    masked_softmax,
    sample_actions,
    save_checkpoint,
    shipped_or_path,
)

#: micro-batch options a policy scores (a model whose batch has more divisors: ValueError)
PAD_MICRO_BATCHES = 16
#: the ``Mapping-v0`` options of every constructive policy (part of its checkpoint's layout)
ENV_OPTIONS: dict[str, Any] = {
    "obs": "dict",
    "micro_batch": "choose",
    "empty_windows": True,
    "pad_micro_batches": PAD_MICRO_BATCHES,
}
#: the shipped weights (``experiments/train_construct.py`` writes them)
SHIPPED_CONSTRUCT = Path(__file__).with_name("construct_policy.pt")
RETRAIN_COMMAND = (
    "python -m experiments.train_construct experiments/configs/training/train-construct.yaml "
    "--out search/construct_policy.pt"
)
RETRAIN_HINT = f"a constructive policy of this code: {RETRAIN_COMMAND}"


def policy_env(problem: Problem) -> MappingEnv:
    """``Mapping-v0`` on ``problem`` as constructive policies see it (:data:`ENV_OPTIONS`)."""
    for model, opts in zip(problem.workload.models, problem.mb_options):
        if len(opts) > PAD_MICRO_BATCHES:
            raise ValueError(
                f"model {model.name!r}: batch {model.batch} has {len(opts)} micro-batch options; "
                f"constructive policies score at most {PAD_MICRO_BATCHES}"
            )
    return MappingEnv(problem, **ENV_OPTIONS)


def layout(d: int, heads: int, blocks: int) -> dict[str, Any]:
    """What a checkpoint's network reads and is (checked on load, a mismatch is a ValueError)."""
    return {
        "agent": "construct",
        "policy": "attention",
        "obs": "dict",
        "chiplet_features": list(CHIPLET_FEATURES),
        "layer_features": list(LAYER_FEATURES),
        "model_features": list(MODEL_FEATURES),
        "env": ENV_OPTIONS,
        "d": d,
        "heads": heads,
        "blocks": blocks,
    }


def new_policy(
    problem: Problem, d: int = 64, heads: int = 4, blocks: int = 1, seed: int = 0
) -> ChipletPolicyNet:
    """An untrained :class:`ChipletPolicyNet` for the constructive environment (its weights drawn
    from ``seed``); any problem gives the same network (the net does not depend on its size)."""
    space = policy_env(problem).observation_space
    assert isinstance(space, gym.spaces.Dict)  # ENV_OPTIONS asks for the dict observation
    with torch.random.fork_rng(devices=[]):  # the caller's torch random state is left alone
        torch.manual_seed(seed)
        return ChipletPolicyNet(space, 1 + PAD_MICRO_BATCHES, d, heads, blocks)


def save_policy(path: str | Path, net: ChipletPolicyNet, d: int, heads: int, blocks: int) -> None:
    """Write ``net`` with its layout atomically."""
    save_checkpoint(path, layout(d, heads, blocks), {"policy": net.state_dict()})


def read_weights(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (read once), its layout checked against this code's for the
    network size it records; ``ValueError`` naming option ``weights`` for a missing file, a file
    that is not a checkpoint, or one of another layout."""
    state = load_checkpoint(path, None, option="weights")
    saved = json.loads(state["layout"])
    dims = [saved.get(k) for k in ("d", "heads", "blocks")]
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dims)
    expect = layout(*dims) if ok else layout(64, 4, 1)
    check_layout(path, saved, expect, "weights", RETRAIN_HINT)
    return state


def load_policy(state: dict[str, Any], problem: Problem) -> ChipletPolicyNet:
    """The network of a checkpoint read by :func:`read_weights`, in evaluation mode."""
    saved = json.loads(state["layout"])
    net = new_policy(problem, saved["d"], saved["heads"], saved["blocks"])
    net.load_state_dict(state["policy"])
    net.eval()
    return net


@dataclass
class Demonstration:
    """The decisions that build one schedule: per step the observation (dict of stacked arrays),
    the valid actions and the action taken."""

    obs: dict[str, np.ndarray]
    masks: np.ndarray
    actions: np.ndarray


def demonstration(env: MappingEnv, genome: np.ndarray) -> Demonstration:
    """The steps of ``env`` (a :func:`policy_env`) building ``genome``."""
    e = env.clone()
    o, _ = e.reset()
    obs, masks = [], []
    actions = e.actions_for(genome)
    for a in actions:
        obs.append(o)
        masks.append(e.action_masks())
        e.advance(a)
        o = e.observation()
    o_stacked = stack(obs)
    assert isinstance(o_stacked, dict)  # the dict observation
    return Demonstration(o_stacked, np.stack(masks), np.asarray(actions, dtype=np.int64))


def imitation_loss(net: ChipletPolicyNet, demo: Demonstration, rows: np.ndarray | None = None):
    """``(mean cross-entropy, number of rows whose greedy action is the demonstrated one)`` on
    the steps ``rows`` of ``demo`` (all by default); invalid actions are masked out."""
    sel = slice(None) if rows is None else rows
    obs = {k: torch.as_tensor(v[sel]) for k, v in demo.obs.items()}
    mask = torch.as_tensor(demo.masks[sel])
    target = torch.as_tensor(demo.actions[sel])
    logits = net.encode(obs)[0].masked_fill(~mask, -1e9)
    loss = nn.functional.cross_entropy(logits, target)
    hits = int((logits.argmax(1) == target).sum())
    return loss, hits


def rollout(
    env: MappingEnv,
    n: int,
    rng: np.random.Generator,
    net: ChipletPolicyNet | None = None,
    greedy_first: bool = True,
) -> np.ndarray:
    """``n`` schedules (genomes ``[n, G]``) built in lockstep by ``net`` (``None``: the uniform
    policy over valid actions): the first greedily when ``greedy_first``, the others sampled
    from the policy with ``rng``. One batched forward pass per step."""
    envs = [env.clone() for _ in range(n)]
    for e in envs:
        e.reset()
    live = list(range(n))
    while live:
        mask = np.stack([envs[i].action_masks() for i in live])
        logits = np.zeros(mask.shape)
        if net is not None:
            with torch.no_grad():
                out = net.encode(as_tensors(stack([envs[i].observation() for i in live])))[0]
            logits = out.numpy().astype(np.float64)
        a = sample_actions(masked_softmax(logits, mask), mask, rng)
        if greedy_first and live[0] == 0:
            a[0] = int(np.argmax(np.where(mask[0], logits[0], -np.inf)))
        still = []
        for i, ai in zip(live, a):
            _, term, trunc, _ = envs[i].advance(int(ai))
            if not (term or trunc):
                still.append(i)
        live = still
    return np.stack([e.genome() for e in envs])


class Construct(Algorithm):
    """``construct``: one-pass schedules by the shipped constructive policy (or ``weights=`` a
    checkpoint of :mod:`experiments.train_construct`): the greedy one and ``samples - 1`` sampled,
    evaluated in one batch (``samples`` evaluations at most: fewer if the budget is smaller or a
    schedule is built twice; a larger budget is not spent: the agent is one pass, ``n_evals``
    says what it used). ``threads``:
    torch threads while it runs (restored after)."""

    name = "construct"
    options = {"samples": 16, "weights": "shipped", "threads": 1}
    uniform = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        s, t = self.config["samples"], self.config["threads"]
        for key, v in (("samples", s), ("threads", t)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"option {key!r} must be an integer >= 1, got {v!r}")
        check_path_option("weights", self.config["weights"])
        # read and checked now, so that a bad file fails before a run writes anything
        self.state = None if self.uniform else read_weights(self.weights_path())

    def weights_path(self) -> Path:
        w = self.config["weights"]
        path = shipped_or_path(
            "shipped" if w is None else w, SHIPPED_CONSTRUCT, RETRAIN_COMMAND, "constructive policy"
        )
        assert path is not None
        return path

    def hash_inputs(self) -> dict[str, Any]:
        """The weights' digest: retrained weights under the same path are another computation."""
        return (
            {} if self.uniform else {"weights_sha256": file_digest(self.weights_path(), "weights")}
        )

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        self.build(problem, ev, rng)

    def build(
        self, problem: Problem, ev: Evaluator, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Build and evaluate the schedules; returns them and their objectives."""
        env = policy_env(problem)
        threads = torch.get_num_threads()
        torch.set_num_threads(int(self.config["threads"]))
        try:
            net = None if self.state is None else load_policy(self.state, problem)
            n = min(int(self.config["samples"]), ev.remaining)
            genomes = rollout(env, n, rng, net, greedy_first=not self.uniform)
        finally:
            torch.set_num_threads(threads)
        return genomes, ev.cached(genomes)  # a schedule built twice is evaluated once


class ConstructUniform(Construct):
    """``construct-uniform``: the same one pass with every valid action equally likely (the
    untrained reference a constructive policy must beat); ``weights`` is ignored."""

    name = "construct-uniform"
    uniform = True


class ConstructThenGA(Algorithm):
    """``construct-ga``: the constructive policy's ``samples`` schedules, then the GA (the rest
    of the budget) with them first in its population, best first (issue 13: does seeding the GA
    with the policy's samples reach the GA's result in fewer evaluations?). ``seed_baselines``
    is the GA's."""

    name = "construct-ga"
    options = {**Construct.options, "seed_baselines": True}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        self.first = Construct(samples=c["samples"], weights=c["weights"], threads=c["threads"])

    def hash_inputs(self) -> dict[str, Any]:
        return composite_hash(self.first.hash_inputs(), (Construct, GA))

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        genomes, f = self.first.build(problem, ev, rng)
        order = np.argsort(f, kind="stable")
        # each distinct schedule once, best first: a repeat would only take a place in the population
        _, first = np.unique(problem.canonical(genomes[order]), axis=0, return_index=True)
        ga = GA(seed_baselines=self.config["seed_baselines"])
        ga.warm_start = genomes[order[np.sort(first)]]
        ga.search(problem, ev, rng)
