"""Reinforcement-learning agents on ``chiplet_sched/Mapping-v0`` (:class:`env.mapping.MappingEnv`).

- :class:`Reinforce` (``"reinforce"``): REINFORCE with the episode's final reward as its return,
  a running-mean baseline, Adam; ``policy="linear"`` (default): numpy alone, a masked softmax
  policy (linear, or one tanh hidden layer) over the flat observation; ``policy="attention"``:
  torch, the chiplet-attention network of :mod:`search.policies` over the dict observation.
- :class:`MaskablePPOAgent` (``"ppo"``): sb3-contrib's MaskablePPO (the optional ``rl`` extra;
  imported only when the agent searches), sb3's MLP or the chiplet-attention policy, on lockstep
  environments with batched evaluation (:class:`env.vector.MappingVectorEnv`).

Both write learning curves (``learning.jsonl``, :class:`LearningLog`) and take ``checkpoint`` /
``resume`` (:func:`save_checkpoint`, :func:`load_checkpoint`); docs/environment.md.

Counting. Both agents run the environment with the search :class:`~search.base.Evaluator` as its
batch evaluator (``evaluator=``): the schedule an episode ends with is evaluated once,
by ``ev``, which counts it against the budget, keeps the best and logs it, and the environment's
final reward ``-objective / reference`` is computed from that same evaluation (no second,
uncounted evaluation). One finished episode = one evaluation, as for every other agent
(episodes that end together are evaluated in one call, each still counted). The
environment's fixed reward normalizer (``reference``, the mean of 64 random genomes drawn with a
fixed seed) is computed once from the plain problem when the environment is built and is not
counted, like any other agent's set-up.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from costmodel import Problem
from costmodel.files import AtomicFile

from .base import Algorithm, BudgetExhausted, Evaluator

RL_EXTRA_HINT = (
    "agent 'ppo' and policy='attention' need the optional 'rl' extra (torch, stable-baselines3, sb3-contrib): "
    'pip install torch==2.13.0 && pip install -e ".[rl]"'
)


def counted_mapping_env(problem: Problem, ev: Evaluator, **env_options: Any):
    """A :class:`env.mapping.MappingEnv` on ``problem`` whose end-of-episode evaluation is ``ev``
    (counted, logged, best kept; ``BudgetExhausted`` when the budget is spent)."""
    from env.mapping import MappingEnv

    return MappingEnv(problem=problem, evaluator=ev.evaluate, **env_options)


def check_option(name: str, value: Any, kind: str) -> None:
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


# --- learning curves and checkpoints ------------------------------------------------------------------
class LearningLog:
    """``learning.jsonl`` beside ``history.jsonl`` (when the evaluator has a ``log_dir``): one
    JSON line per policy update with the episodes' objectives (the fitness the evaluator counts),
    the best so far and the policy's entropy, written like the history (a hidden temporary file,
    flushed as it goes, moved onto ``learning.jsonl`` when the search ends). The records are
    also kept in :attr:`records`. Plot them with ``python -m experiments.learning RUN_DIR``."""

    def __init__(self, ev: Evaluator) -> None:
        self.ev = ev
        self.records: list[dict[str, Any]] = []
        log_dir = getattr(ev, "log_dir", None)
        self._file = AtomicFile(Path(log_dir) / "learning.jsonl") if log_dir else None
        self._t0 = time.perf_counter()

    def record(
        self, objectives: list[float], returns: list[float], entropy: float, **extra
    ) -> None:
        o = np.asarray(objectives, dtype=np.float64)
        rec = {
            "update": len(self.records) + 1,
            "evals": self.ev.n_evals,
            "seconds": round(time.perf_counter() - self._t0, 6),
            "episodes": len(o),
            "objective_mean": float(o.mean()) if len(o) else None,
            "objective_min": float(o.min()) if len(o) else None,
            "best": float(self.ev.best_fitness),
            "return_mean": float(np.mean(returns)) if len(returns) else None,
            "entropy": float(entropy),
            **extra,
        }
        self.records.append(rec)
        if self._file is not None:
            self._file.file.write(json.dumps(rec) + "\n")
            self._file.file.flush()

    def close(self, ok: bool = True) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.commit() if ok else f.discard()

    def __enter__(self) -> LearningLog:
        return self

    def __exit__(self, kind, value, tb) -> None:
        """Keep the log when the search ended normally or by its budget; discard it otherwise."""
        self.close(kind is None or issubclass(kind, BudgetExhausted))


#: what a checkpoint's policy was built for; a resume checks every entry
def checkpoint_layout(env: Any, agent: str, policy: str, **net: Any) -> dict[str, Any]:
    """The observation and action layout of ``env`` (a MappingEnv) and the network's shape: a
    checkpoint resumes only under an equal layout (:func:`check_layout`)."""
    from env.observation import CHIPLET_FEATURES, LAYER_FEATURES, MODEL_FEATURES

    out: dict[str, Any] = {"agent": agent, "policy": policy, "obs": env.obs_mode}
    if env.obs_mode == "dict":
        space = env.observation_space
        out.update(
            chiplet_features=list(CHIPLET_FEATURES),
            layer_features=list(LAYER_FEATURES),
            model_features=list(MODEL_FEATURES),
            pad_chiplets=int(space["chiplets"].shape[0]),
            pad_models=int(space["models"].shape[0]),
        )
    else:
        out["obs_dim"] = int(env.observation_space.shape[0])
    out["n_actions"] = int(env.action_space.n)
    out.update(net)
    return out


#: what a layout mismatch tells the user to do, unless the caller knows better
RESUME_HINT = "resume with the same environment and policy options"


def check_layout(
    path: str | Path,
    saved: dict,
    current: dict,
    option: str = "resume",
    hint: str = RESUME_HINT,
) -> None:
    """``ValueError`` naming ``option`` and the first entry where a checkpoint's layout differs
    from this run's, with ``hint`` (what to do about it)."""
    first = ("agent", "policy", "obs", "pad_chiplets", "pad_models", "obs_dim", "n_actions")
    keys = [k for k in first if k in saved or k in current]
    for key in keys + sorted((set(saved) | set(current)) - set(keys)):
        if saved.get(key) != current.get(key):
            raise ValueError(
                f"option {option!r}: checkpoint {str(path)!r} does not fit this run: its {key} "
                f"is {saved.get(key)!r}, this run's is {current.get(key)!r} (another "
                f"observation layout or network; {hint})"
            )


def file_digest(path: Path, option: str) -> str:
    """SHA-256 of a weights file (part of a run's hash: retrained weights under the same path
    are another computation); ``ValueError`` naming ``option`` when it cannot be read."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise ValueError(f"option {option!r}: cannot read {str(path)!r} ({err})") from None


def shipped_or_path(value: Any, shipped: Path, retrain: str, what: str) -> Path | None:
    """The weights an option names: ``None``, ``"shipped"`` (the package's ``shipped`` file,
    ``ValueError`` with the ``retrain`` command when it is missing) or a path."""
    if value is None:
        return None
    if value == "shipped":
        if not shipped.is_file():
            raise ValueError(
                f"the shipped {what} {str(shipped)!r} is missing; retrain it: {retrain}"
            )
        return shipped
    return Path(value)


def composite_hash(first: dict[str, Any], parts: tuple[type[Algorithm], ...]) -> dict[str, Any]:
    """``hash_inputs`` of an agent that runs others: ``first`` (its weights' digest) and the
    revisions of the agents it runs (absent at 0, so older hashes are kept)."""
    out = dict(first)
    revisions = {a.name: a.revision for a in parts if a.revision}
    if revisions:
        out["revisions"] = revisions
    return out


def save_checkpoint(path: str | Path, layout: dict, state: dict[str, Any]) -> None:
    """Write ``state`` (arrays, or torch state dicts) with ``layout`` atomically: ``.npz`` for
    the numpy policy, ``torch.save`` otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path, "wb") as f:
        if layout["policy"] == "linear":
            np.savez(f, layout=np.array(json.dumps(layout)), **state)
        else:
            import torch

            torch.save({"layout": json.dumps(layout), **state}, f)


def load_checkpoint(
    path: str | Path, layout: dict | None, option: str = "resume", hint: str = RESUME_HINT
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` and check its layout against
    ``layout`` (``ValueError`` naming ``option`` on a mismatch, or when the file is not a
    checkpoint); ``layout=None``: the caller checks it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"option {option!r}: no checkpoint file {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "layout" in z.files:
                state = {k: z[k] for k in z.files}
                state["layout"] = str(state["layout"])
            else:
                state = None
    except (ValueError, OSError):
        state = None
    if state is None:
        try:
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001  (any unreadable file: one clear message)
            raise ValueError(
                f"option {option!r}: {str(path)!r} is not a checkpoint ({err})"
            ) from err
    if not isinstance(state, dict) or "layout" not in state:
        raise ValueError(f"option {option!r}: {str(path)!r} is not a checkpoint (no layout)")
    if layout is not None:
        check_layout(path, json.loads(state["layout"]), layout, option, hint)
    return state


def check_path_option(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, (str, Path)):
        raise ValueError(f"option {name!r} must be a file path or None, got {value!r}")


def _check_policy(value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"option 'policy' must be one of {allowed}, got {value!r}")


def _check_micro_batch(value: Any) -> None:
    from env.mapping import MICRO_BATCH

    if value not in MICRO_BATCH:
        raise ValueError(f"option 'micro_batch' must be one of {MICRO_BATCH}, got {value!r}")


# --- REINFORCE in numpy ---------------------------------------------------------------------------
class SoftmaxPolicy:
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


def masked_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    z = np.where(mask, logits, -np.inf)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class Adam:
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


def policy_state(policy: SoftmaxPolicy, adam: Adam) -> dict[str, np.ndarray]:
    """The numpy policy's weights and its optimizer's moments as checkpoint arrays."""
    state = {f"param{i}": q for i, q in enumerate(policy.params)}
    state.update({f"adam_m{i}": q for i, q in enumerate(adam.m)})
    state.update({f"adam_v{i}": q for i, q in enumerate(adam.v)})
    state["adam_t"] = np.array(adam.t)
    return state


def set_policy_state(state: dict[str, Any], policy: SoftmaxPolicy, adam: Adam) -> None:
    """Load :func:`policy_state` arrays into ``policy`` and ``adam`` (in place)."""
    for i, q in enumerate(policy.params):
        q[...] = state[f"param{i}"]
        adam.m[i][...] = state[f"adam_m{i}"]
        adam.v[i][...] = state[f"adam_v{i}"]
    adam.t = int(state["adam_t"])


def sample_actions(p: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of the probabilities ``p [n, A]`` (one uniform draw per row, inverse
    CDF); a rounding edge that lands on a masked action takes the row's likeliest valid one."""
    u = rng.random(len(p))
    a = np.minimum((p.cumsum(1) < u[:, None] * p.sum(1, keepdims=True)).sum(1), p.shape[1] - 1)
    bad = ~mask[np.arange(len(a)), a]
    a[bad] = np.argmax(np.where(mask[bad], p[bad], -1.0), axis=1)
    return a


def policy_gradient_step(
    policy: SoftmaxPolicy,
    adam: Adam,
    x: np.ndarray,
    mask: np.ndarray,
    a: np.ndarray,
    adv: np.ndarray,
    n_episodes: int,
    entropy: float = 0.0,
) -> float:
    """One Adam ascent step on ``mean over episodes of adv * sum log pi(a|s)`` (+ ``entropy``
    times the policy's entropy); returns the policy's mean entropy over the steps (before the
    step)."""
    x = x.astype(np.float64)
    p = masked_softmax(policy.logits(x), mask)
    d = -p
    d[np.arange(len(a)), a] += 1.0
    d *= adv[:, None]
    logp = np.where(mask, np.log(np.where(mask, p, 1.0)), 0.0)
    h = -(p * logp).sum(axis=1, keepdims=True)
    if entropy > 0:
        d += entropy * (-p * (logp + h))  # d entropy / d logits
    d /= n_episodes
    adam.ascend(policy.params, policy.grads(x, d))
    return float(h.mean())


class Reinforce(Algorithm):
    """REINFORCE with a running-mean baseline on ``Mapping-v0``.

    Options: ``lr`` (Adam step), ``episodes_per_update`` (episodes per gradient step),
    ``hidden`` (0: linear policy; else tanh hidden units), ``baseline_decay`` (the baseline and
    the advantage scale are exponential running means of the returns with this decay; 0 = the
    batch's own mean), ``entropy`` (entropy bonus weight), ``micro_batch`` (the environment's
    option, ``"min"``, ``"max"`` or ``"choose"``), ``policy``: ``"linear"`` (numpy, the flat
    observation; ``hidden`` applies) or ``"attention"`` (torch, the dict observation and
    :class:`search.policies.ChipletPolicyNet` with ``d_model`` and ``blocks``; the
    ``episodes_per_update`` episodes run in lockstep, one forward pass per step for all, and
    their schedules are evaluated in one call), ``pad_chiplets`` / ``pad_models`` (the dict
    observation's padding, so a checkpoint fits other problem sizes), ``threads`` (torch
    threads), ``checkpoint`` (a file written when the search ends: weights, optimizer, baseline)
    and ``resume`` (a checkpoint to start from; one for another observation layout or network is
    a ``ValueError`` naming the mismatch).

    The return of an episode is its final reward ``-fitness / reference`` with the fitness from
    the counting evaluator; the advantage ``(R - baseline) / scale`` weighs the summed
    log-probabilities of the episode's actions. Learning curves go to ``learning.jsonl``
    (:class:`LearningLog`). All randomness (initial weights, actions) comes from the ``rng``
    handed to :meth:`search`, so a seed gives one result.
    """

    name = "reinforce"
    options = {
        "lr": 0.05,
        "episodes_per_update": 8,
        "hidden": 0,
        "baseline_decay": 0.9,
        "entropy": 0.0,
        "micro_batch": "min",
        "policy": "linear",
        "d_model": 64,
        "blocks": 1,
        "pad_chiplets": None,
        "pad_models": None,
        "threads": 1,
        "checkpoint": None,
        "resume": None,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        check_option("lr", c["lr"], "pos")
        check_option("episodes_per_update", c["episodes_per_update"], "pos_int")
        check_option("hidden", c["hidden"], "nonneg_int")
        check_option("baseline_decay", c["baseline_decay"], "open_unit")
        check_option("entropy", c["entropy"], "nonneg")
        _check_micro_batch(c["micro_batch"])
        _check_policy(c["policy"], ("linear", "attention"))
        check_option("d_model", c["d_model"], "pos_int")
        check_option("blocks", c["blocks"], "pos_int")
        check_option("threads", c["threads"], "pos_int")
        for k in ("pad_chiplets", "pad_models"):
            if c[k] is not None:
                check_option(k, c[k], "pos_int")
        if c["policy"] == "linear" and (c["pad_chiplets"] or c["pad_models"]):
            raise ValueError("options 'pad_chiplets'/'pad_models' need policy='attention'")
        check_path_option("checkpoint", c["checkpoint"])
        check_path_option("resume", c["resume"])
        self.stats: dict[str, Any] = {}

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        with LearningLog(ev) as log:
            if self.config["policy"] == "attention":
                self._search_torch(problem, ev, rng, log)
            else:
                self._search_numpy(problem, ev, rng, log)

    def _baseline(
        self, r: np.ndarray, mean: float | None, var: float
    ) -> tuple[np.ndarray, float, float]:
        """Advantages of returns ``r`` and the updated running (mean, variance)."""
        decay = float(self.config["baseline_decay"])
        if mean is None or decay == 0.0:
            mean, var = float(r.mean()), float(r.var())
        adv = (r - mean) / (math.sqrt(var) + 1e-8) if var > 0 else r - mean
        mean = decay * mean + (1.0 - decay) * float(r.mean())
        var = decay * var + (1.0 - decay) * float(np.mean((r - mean) ** 2))
        return adv, mean, var

    def _search_numpy(
        self, problem: Problem, ev: Evaluator, rng: np.random.Generator, log: LearningLog
    ) -> None:
        c = self.config
        e = counted_mapping_env(problem, ev, micro_batch=c["micro_batch"])
        n_actions = int(e.action_space.n)
        policy = SoftmaxPolicy(int(e.observation_space.shape[0]), n_actions, int(c["hidden"]), rng)
        adam = Adam(policy.params, float(c["lr"]))
        batch = int(c["episodes_per_update"])
        layout = checkpoint_layout(e, "reinforce", "linear", hidden=int(c["hidden"]))
        # running return statistics (the baseline and the advantage scale); var is set with mean
        mean: float | None = None
        var = 0.0
        if c["resume"] is not None:
            st = load_checkpoint(c["resume"], layout)
            set_policy_state(st, policy, adam)
            b = st["baseline"]
            mean, var = (None, 0.0) if np.isnan(b[0]) else (float(b[0]), float(b[1]))
        self.stats = {"updates": 0, "episodes": 0, "steps": 0, "returns": []}
        try:
            while not ev.exhausted:
                xs: list[np.ndarray] = []
                masks: list[np.ndarray] = []
                acts: list[int] = []
                lengths: list[int] = []
                returns: list[float] = []
                objectives: list[float] = []
                for _ in range(batch):
                    try:
                        ret, n, obj = self._episode(e, policy, rng, xs, masks, acts)
                    except BudgetExhausted:
                        break
                    returns.append(ret)
                    objectives.append(obj)
                    lengths.append(n)
                    if ev.exhausted:
                        break
                self.stats["episodes"] += len(returns)
                self.stats["steps"] += sum(lengths)
                self.stats["returns"] += returns
                if not returns or ev.exhausted:
                    if returns:
                        log.record(objectives, returns, float("nan"))
                    break  # no gradient step that no episode will use
                adv, mean, var = self._baseline(np.asarray(returns), mean, var)
                entropy = policy_gradient_step(
                    policy,
                    adam,
                    np.asarray(xs),
                    np.asarray(masks),
                    np.asarray(acts),
                    np.repeat(adv, lengths),
                    len(returns),
                    float(c["entropy"]),
                )
                self.stats["updates"] += 1
                log.record(objectives, returns, entropy)
        finally:
            if c["checkpoint"] is not None:
                state = policy_state(policy, adam)
                state["baseline"] = np.array([np.nan if mean is None else mean, var])
                save_checkpoint(c["checkpoint"], layout, state)

    def _search_torch(
        self, problem: Problem, ev: Evaluator, rng: np.random.Generator, log: LearningLog
    ) -> None:
        try:
            import torch

            from .policies import ChipletPolicyNet, as_tensors
        except ImportError as err:
            raise ImportError(f"{RL_EXTRA_HINT} ({err})") from err
        from env.common import evaluate_genomes
        from env.vector import stack

        c = self.config
        e0 = counted_mapping_env(
            problem,
            ev,
            obs="dict",
            micro_batch=c["micro_batch"],
            pad_chiplets=c["pad_chiplets"],
            pad_models=c["pad_models"],
        )
        B = int(c["episodes_per_update"])
        envs = [e0] + [e0.clone() for _ in range(B - 1)]
        seed = int(rng.integers(0, 2**31 - 1))
        d, blocks = int(c["d_model"]), int(c["blocks"])
        layout = checkpoint_layout(e0, "reinforce", "attention", d_model=d, blocks=blocks)
        threads = torch.get_num_threads()
        torch.set_num_threads(int(c["threads"]))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = ChipletPolicyNet(
                e0.observation_space, int(e0.action_space.n) - e0.slots, d, 4, blocks
            )
        opt = torch.optim.Adam(net.parameters(), lr=float(c["lr"]))
        mean: float | None = None
        var = 0.0
        if c["resume"] is not None:
            st = load_checkpoint(c["resume"], layout)
            net.load_state_dict(st["net"])
            opt.load_state_dict(st["optimizer"])
            mean, var = st["baseline_mean"], float(st["baseline_var"])
        self.stats = {"updates": 0, "episodes": 0, "steps": 0, "returns": [], "seed": seed}
        try:
            while not ev.exhausted:
                obs = [e.reset()[0] for e in envs]
                traj: list[list[tuple]] = [[] for _ in range(B)]
                step_r = np.zeros(B)
                active = list(range(B))
                while active:
                    masks = np.stack([envs[i].action_masks() for i in active])
                    with torch.no_grad():
                        logits, _ = net(as_tensors(stack([obs[i] for i in active])))
                    p = masked_softmax(logits.double().numpy(), masks)
                    u = rng.random(len(active))
                    acts = (p.cumsum(1) < u[:, None] * p.sum(1, keepdims=True)).sum(1)
                    still = []
                    for j, i in enumerate(active):
                        a = int(min(acts[j], p.shape[1] - 1))
                        if not masks[j, a]:  # a rounding edge: the likeliest valid action
                            a = int(np.argmax(p[j]))
                        traj[i].append((obs[i], masks[j], a))
                        r, term, trunc, _ = envs[i].advance(a)
                        step_r[i] += r
                        if term or trunc:
                            continue
                        obs[i] = envs[i]._obs()
                        still.append(i)
                    active = still
                genomes = np.stack([e.genome() for e in envs])
                final, infos = evaluate_genomes(problem, genomes, e0.reference, ev.evaluate)
                k = len(infos)
                returns = list(step_r[:k] + final)
                objectives = [float(x["objective"]) for x in infos]
                lengths = [len(t) for t in traj[:k]]
                self.stats["episodes"] += k
                self.stats["steps"] += sum(lengths)
                self.stats["returns"] += returns
                if k < B or ev.exhausted:
                    log.record(objectives, returns, float("nan"))
                    break
                adv, mean, var = self._baseline(np.asarray(returns), mean, var)
                steps = [s for t in traj for s in t]
                x = as_tensors(stack([s[0] for s in steps]))
                mask_t = torch.as_tensor(np.stack([s[1] for s in steps]))
                act_t = torch.as_tensor([s[2] for s in steps])
                w = torch.as_tensor(np.repeat(adv, lengths), dtype=torch.float32)
                logits, _ = net(x)
                logp = torch.log_softmax(logits.masked_fill(~mask_t, -1e9), 1)
                ent = -(logp.exp() * logp).sum(1).mean()
                loss = -(w * logp[torch.arange(len(act_t)), act_t]).sum() / B
                loss = loss - float(c["entropy"]) * ent
                opt.zero_grad()
                loss.backward()
                opt.step()
                self.stats["updates"] += 1
                log.record(objectives, returns, float(ent.detach()))
        finally:
            torch.set_num_threads(threads)
            if c["checkpoint"] is not None:
                state = {
                    "net": net.state_dict(),
                    "optimizer": opt.state_dict(),
                    "baseline_mean": mean,
                    "baseline_var": var,
                }
                save_checkpoint(c["checkpoint"], layout, state)

    @staticmethod
    def _episode(
        e, policy: SoftmaxPolicy, rng: np.random.Generator, xs: list, masks: list, acts: list
    ) -> tuple[float, int, float]:
        obs, _ = e.reset()
        ret, n = 0.0, 0
        while True:
            mask = e.action_masks()
            p = masked_softmax(policy.logits(obs.astype(np.float64)), mask)
            a = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
            a = min(a, len(p) - 1)
            if not mask[a]:  # a rounding edge: fall back on the likeliest valid action
                a = int(np.argmax(p))
            xs.append(obs)
            masks.append(mask)
            acts.append(a)
            obs, reward, terminated, truncated, info = e.step(a)
            ret += float(reward)
            n += 1
            if terminated or truncated:
                return ret, n, float(info["objective"])

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

    Options: ``n_envs`` (environments stepped in lockstep by
    :class:`search.policies.SB3MappingVecEnv`: one policy forward for all, and one batched
    evaluation of the schedules that end on the same step), ``n_steps`` (per environment and
    update), ``batch_size``, ``n_epochs``, ``learning_rate``, ``gamma``, ``gae_lambda``,
    ``clip_range``, ``ent_coef``, ``net_arch`` (hidden sizes of the policy and value networks of
    ``policy="mlp"``) as in sb3, ``policy``: ``"mlp"`` (sb3's MlpPolicy on the flat observation)
    or ``"attention"`` (:class:`search.policies.ChipletActorCriticPolicy` on the dict
    observation, ``d_model``, ``blocks``, padding ``pad_chiplets`` / ``pad_models``), the
    environment's ``shaped`` and ``micro_batch``, ``threads`` (torch threads, restored
    afterwards), ``checkpoint`` / ``resume`` (as for ``reinforce``: policy weights and
    optimizer). Every finished episode's schedule is evaluated by the counting evaluator;
    learning stops when the budget is spent. sb3 is seeded with an integer drawn from the search
    ``rng``, and the global numpy / Python / torch random states that sb3 seeds are restored
    after the search. Learning curves (per rollout: the episodes' objectives, best so far, the
    policy entropy of the last update) go to ``learning.jsonl``.
    """

    name = "ppo"
    options = {
        "n_envs": 8,
        "n_steps": 64,
        "batch_size": 256,
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
        "policy": "mlp",
        "d_model": 64,
        "blocks": 1,
        "pad_chiplets": None,
        "pad_models": None,
        "threads": 1,
        "checkpoint": None,
        "resume": None,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        c = self.config
        for k in ("n_envs", "n_steps", "batch_size", "n_epochs", "d_model", "blocks", "threads"):
            check_option(k, c[k], "pos_int")
        check_option("learning_rate", c["learning_rate"], "pos")
        check_option("gamma", c["gamma"], "unit")
        check_option("gae_lambda", c["gae_lambda"], "unit")
        check_option("clip_range", c["clip_range"], "pos")
        check_option("ent_coef", c["ent_coef"], "nonneg")
        arch = c["net_arch"]
        if not isinstance(arch, (list, tuple)) or any(
            isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0 for h in arch
        ):
            raise ValueError(f"option 'net_arch' must be a list of positive integers, got {arch!r}")
        self.config["net_arch"] = [int(h) for h in arch]
        if not isinstance(c["shaped"], bool):
            raise ValueError(f"option 'shaped' must be True or False, got {c['shaped']!r}")
        _check_micro_batch(c["micro_batch"])
        _check_policy(c["policy"], ("mlp", "attention"))
        for k in ("pad_chiplets", "pad_models"):
            if c[k] is not None:
                check_option(k, c[k], "pos_int")
        if c["policy"] == "mlp" and (c["pad_chiplets"] or c["pad_models"]):
            raise ValueError("options 'pad_chiplets'/'pad_models' need policy='attention'")
        if not isinstance(c["device"], str):
            raise ValueError(f"option 'device' must be a torch device name, got {c['device']!r}")
        check_path_option("checkpoint", c["checkpoint"])
        check_path_option("resume", c["resume"])
        self.stats: dict[str, Any] = {}

    def search(self, problem: Problem, ev: Evaluator, rng: np.random.Generator) -> None:
        try:
            import torch
            from sb3_contrib import MaskablePPO
            from stable_baselines3.common.callbacks import BaseCallback

            from env.vector import MappingVectorEnv

            from .policies import ChipletActorCriticPolicy, SB3MappingVecEnv
        except ImportError as err:
            raise ImportError(f"{RL_EXTRA_HINT} ({err})") from err
        import random

        c = self.config
        seed = int(rng.integers(0, 2**31 - 1))
        attention = c["policy"] == "attention"
        env_opts: dict[str, Any] = {"shaped": c["shaped"], "micro_batch": c["micro_batch"]}
        if attention:
            env_opts.update(obs="dict", pad_chiplets=c["pad_chiplets"], pad_models=c["pad_models"])
        e0 = counted_mapping_env(problem, ev, **env_opts)
        vec = SB3MappingVecEnv(MappingVectorEnv(e0, int(c["n_envs"])))
        net = (
            {"d_model": int(c["d_model"]), "blocks": int(c["blocks"])}
            if attention
            else {"net_arch": list(c["net_arch"])}
        )
        layout = checkpoint_layout(e0, "ppo", c["policy"], **net)
        log = LearningLog(ev)
        pending: dict[str, list[float]] = {"objective": [], "return": []}

        class _Curves(BaseCallback):
            """Stop when the budget is spent; log each rollout's finished episodes."""

            def _on_step(self) -> bool:
                loc = self.locals
                for done, info, r in zip(loc["dones"], loc["infos"], loc["rewards"]):
                    if done and info.get("evaluated"):
                        pending["objective"].append(float(info["objective"]))
                        pending["return"].append(float(r))  # the last step's (final) reward
                return not ev.exhausted

            def _on_rollout_end(self) -> None:
                ent = self.model.logger.name_to_value.get("train/entropy_loss")
                log.record(
                    pending["objective"],
                    pending["return"],
                    float("nan") if ent is None else -float(ent),
                    steps=int(self.model.num_timesteps),
                )
                pending["objective"].clear()
                pending["return"].clear()

        threads = torch.get_num_threads()
        states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        torch.set_num_threads(int(c["threads"]))
        model = None
        ok = False
        try:
            policy_kwargs: dict[str, Any] = (
                {"d": int(c["d_model"]), "blocks": int(c["blocks"])}
                if attention
                else {"net_arch": list(c["net_arch"])}
            )
            model = MaskablePPO(
                ChipletActorCriticPolicy if attention else "MlpPolicy",
                vec,
                n_steps=c["n_steps"],
                batch_size=c["batch_size"],
                n_epochs=c["n_epochs"],
                learning_rate=c["learning_rate"],
                gamma=c["gamma"],
                gae_lambda=c["gae_lambda"],
                clip_range=c["clip_range"],
                ent_coef=c["ent_coef"],
                policy_kwargs=policy_kwargs,
                seed=seed,
                device=c["device"],
                verbose=0,
            )
            if c["resume"] is not None:
                st = load_checkpoint(c["resume"], layout)
                model.policy.load_state_dict(st["policy"])
                model.policy.optimizer.load_state_dict(st["optimizer"])
            # An upper bound on the steps the budget allows; the callback ends learning sooner.
            total = min(ev.remaining, 10**9) * e0.max_steps + c["n_steps"] * c["n_envs"]
            try:
                model.learn(total_timesteps=total, callback=_Curves())
            except BudgetExhausted:
                pass
            ok = True
        finally:
            torch.set_num_threads(threads)
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
            log.close(ok)
            if model is not None and c["checkpoint"] is not None:
                state = {
                    "policy": model.policy.state_dict(),
                    "optimizer": model.policy.optimizer.state_dict(),
                }
                save_checkpoint(c["checkpoint"], layout, state)
        self.stats = {"steps": int(model.num_timesteps), "seed": seed, "updates": len(log.records)}

    def extra_result(self) -> dict[str, Any]:
        return dict(self.stats)
