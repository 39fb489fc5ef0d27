"""``chiplet_sched/Mapping-v0``: build a schedule one layer per step (sequential decisions, so an
action mask can express what a flat genome cannot: window order and non-empty windows).

Order. Layers of all models are interleaved in a fixed order, round-robin by progress fraction
(:func:`env.features.interleaved_order`); the current model is the model of the next layer.

Actions, ``Discrete(n + 1)`` for ``n`` chiplets (``Discrete(N + 1 + B)`` with ``N =
pad_chiplets`` and ``B = pad_micro_batches`` micro-batch actions under ``micro_batch="choose"``;
then "``n``" below reads "``N``", and docs/environment.md gives the whole layout):

- ``c < n`` puts the current layer on chiplet ``c`` in its model's current window;
- ``n`` closes the current model's window: its next layers go to the next window. Valid only when
  the model already has a layer in its current window and that window is not the last
  (``max_windows - 1``); :meth:`MappingEnv.action_masks` says so for MaskablePPO. With
  ``empty_windows=True`` a window may also be closed empty (a model can start in a later window
  or skip one, as genomes can): then every genome has an action sequence
  (:meth:`MappingEnv.actions_for`), which imitation of searched schedules needs.

Micro-batch. Every window of model ``m`` uses one micro-batch size, chosen by the option
``micro_batch``: ``"min"`` (default) = the smallest divisor of the batch (1, the most pipelining),
``"max"`` = the whole batch (one micro-batch, no pipelining), ``"choose"`` = option 0 unless the
agent picks another option with a micro-batch action before the window's first layer.

Observation: ``obs="flat"`` (default) is the Box below; ``obs="dict"`` is the size-independent
:class:`env.observation.DictObservation` (per-chiplet, per-layer and per-model features, padded
to ``pad_chiplets`` / ``pad_models`` with masks; docs/environment.md).

Flat observation, ``Box(0, 1, (3 + K + M + 4 + 2 n,), float32)`` with ``K`` chiplet classes, ``M``
models, ``n`` chiplets; loads and times are in units of ``share`` = (sum over layers of the
fastest class's whole-batch compute time) / n, the per-chiplet load of a perfect balance, and
squashed by ``x / (1 + x)`` (1 share -> 0.5):

====================  =====  ============================================================
slice                 size   content
====================  =====  ============================================================
``[0:3]``             3      current layer: log1p MACs, weight bytes, output bytes (whole
                             batch), each divided by its maximum over the workload
``[3:3+K]``           K      current layer's compute time on each chiplet class (squashed)
next                  M      current model, one-hot
next                  1      the model's current window / ``max_windows``
next                  1      the model's progress: layers placed / its layers
next                  1      overall progress: layers placed / ``L``
next                  1      1 if the model's current window already holds one of its layers
next                  n      accumulated compute load of each chiplet over all windows
                             (squashed)
next                  n      chiplet of the model's previous layer, one-hot (zeros for a
                             model's first layer)
====================  =====  ============================================================

After the last layer, the terminal observation has zero layer and model fields and progress 1.

Reward. 0 until the last layer, then ``-objective / reference`` from the exact batch evaluator
(``Problem.evaluate_batch``, the evaluator every agent uses, docs/evaluation.md; pass
``evaluator=`` a function of genomes ``[P, G]`` returning a ``BatchResult`` to use another, e.g. a
search's counting evaluator), ``reference`` being the mean objective of ``p.sample(64,
seed=0)`` (:func:`env.common.reference_objective`): -1 is an average random schedule, higher is
better. With a target objective the final reward is the penalty form ``-x (1 + 10 V) /
reference`` (:func:`env.common.evaluate_genome`, docs/evaluation.md). ``shaped=True`` adds potential-based shaping ``Phi(s') - Phi(s)`` with ``Phi = -max
chiplet load / (n share)`` and ``Phi = 0`` at the end: a per-step load-balancing hint that sums
to zero over an episode, so the return is unchanged.

Invalid actions (out of range, or a masked close, as ``check_env`` sends them): ignored (the
state does not change), reward ``-invalid_penalty`` (default 0.01), counted in
``info["invalid_actions"]``. Episodes end within ``max_steps`` steps (default ``2 (L + M (W -
1))``, twice the longest valid episode): on truncation the remaining layers are placed on their
model's previous chiplet (chiplet 0 for a first layer) in its current window and the schedule is
evaluated as usual; ``info["defaulted_layers"]`` counts them.

``info`` at the end (terminated or truncated) holds ``latency_s``, ``energy_j``, ``edp``,
``throughput``, ``objective``, ``reference`` and ``genome`` (the flat genome, see
``costmodel.problem``). The environment is deterministic; ``reset(seed=...)`` only seeds
``np_random``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from costmodel import Problem
from costmodel.stages import stage_bounds

from .common import BatchEvaluatorFn, build_problem, evaluate_genome, reference_objective
from .features import class_times, layer_features, squash
from .observation import DictObservation

MICRO_BATCH = ("min", "max", "choose")
OBSERVATIONS = ("flat", "dict")


def _pad(name: str, value: int | None, least: int) -> int:
    """A padded size: ``least`` when ``None``, else an integer ``>= least`` (``ValueError``)."""
    if value is None:
        return least
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(
            f"{name} must be an integer >= {least} (the problem's size), got {value!r}"
        )
    return int(value)


class MappingEnv(gym.Env):
    """Place one layer per step on a chiplet, or close the current model's window."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        problem: Problem | None = None,
        scenario: str | None = None,
        pattern: str | None = None,
        rows: int | None = None,
        cols: int | None = None,
        objective: str | Callable | None = None,
        max_windows: int | None = None,
        micro_batch: str = "min",
        shaped: bool = False,
        invalid_penalty: float = 0.01,
        max_steps: int | None = None,
        render_mode: str | None = None,
        evaluator: BatchEvaluatorFn | None = None,
        obs: str = "flat",
        pad_chiplets: int | None = None,
        pad_models: int | None = None,
        pad_micro_batches: int | None = None,
        empty_windows: bool = False,
    ) -> None:
        if obs not in OBSERVATIONS:
            raise ValueError(f"obs must be one of {OBSERVATIONS}, got {obs!r}")
        if micro_batch not in MICRO_BATCH:
            raise ValueError(f"micro_batch must be one of {MICRO_BATCH}, got {micro_batch!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if isinstance(invalid_penalty, bool) or not isinstance(invalid_penalty, (int, float)):
            raise ValueError(f"invalid_penalty must be a number >= 0, got {invalid_penalty!r}")
        if not invalid_penalty >= 0:
            raise ValueError(f"invalid_penalty must be a number >= 0, got {invalid_penalty!r}")
        if not isinstance(empty_windows, bool):
            raise ValueError(f"empty_windows must be true or false, got {empty_windows!r}")
        self.empty_windows = empty_windows
        p = build_problem(problem, scenario, pattern, rows, cols, objective, max_windows)
        self.problem, self.micro_batch, self.shaped = p, micro_batch, bool(shaped)
        self.invalid_penalty, self.render_mode = float(invalid_penalty), render_mode
        self.n, self.L, self.M, self.W = p.mcm.n_chiplets, p.n_layers, p.n_models, p.max_windows
        self.K = len(p.mcm.classes)
        self.obs_mode = obs
        n_opts = max(len(o) for o in p.mb_options)
        self.slots = _pad("pad_chiplets", pad_chiplets, self.n)
        pad_m = _pad("pad_models", pad_models, self.M)
        self.mb_slots = _pad("pad_micro_batches", pad_micro_batches, n_opts)
        if obs == "flat" and (self.slots != self.n or pad_m != self.M):
            raise ValueError(
                "pad_chiplets and pad_models need obs='dict' (the flat Box is unpadded)"
            )
        if micro_batch != "choose":
            if pad_micro_batches is not None:
                raise ValueError("pad_micro_batches needs micro_batch='choose'")
            self.mb_slots = 0
        longest = self.L + self.M * (self.W - 1) + (self.M * self.W if self.mb_slots else 0)
        if max_steps is None:
            max_steps = 2 * longest
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)):
            raise ValueError(f"max_steps must be an integer >= {longest}, got {max_steps!r}")
        if max_steps < longest:
            raise ValueError(f"max_steps must be an integer >= {longest}, got {max_steps!r}")
        self.max_steps = int(max_steps)
        self.features = layer_features(p, "min" if micro_batch == "choose" else micro_batch)
        self.class_time = class_times(p)  # [L, O, K]
        self._placement = np.asarray(p.mcm.placement)
        self._n_opts = np.array([len(o) for o in p.mb_options], dtype=np.int64)
        self.reference = reference_objective(p)
        self.evaluator = evaluator
        self._model = p.index.model.astype(np.int64)
        self._sizes = np.array([len(m) for m in p.workload.models], dtype=np.float64)
        self._w_bytes = np.asarray(p.compiled.w_bytes, dtype=np.float64)
        # observation offsets
        f = 3 + self.K
        self._o_model, self._o_win = f, f + self.M
        self._o_load = self._o_win + 4
        self._o_prev = self._o_load + self.n
        self._dim = self._o_prev + self.n
        self._dict_obs = DictObservation(self, self.slots, pad_m) if obs == "dict" else None
        self.observation_space: gym.spaces.Space = (
            self._dict_obs.space
            if self._dict_obs is not None
            else gym.spaces.Box(0.0, 1.0, (self._dim,), np.float32)
        )
        self.n_actions = self.slots + 1 + self.mb_slots
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self._clear()

    # --- state --------------------------------------------------------------------------------
    def _clear(self) -> None:
        self._k = 0  # layers placed
        self._steps = 0
        self._invalid = 0
        self._done = False
        self._chiplet = np.full(self.L, -1, dtype=np.int64)
        self._window = np.full(self.L, -1, dtype=np.int64)
        self._cw = np.zeros(self.M, dtype=np.int64)  # current window per model
        self._in_window = np.zeros(self.M, dtype=np.int64)  # its layers in the current window
        self._placed = np.zeros(self.M, dtype=np.int64)
        self._prev = np.full(self.M, -1, dtype=np.int64)
        self._load = np.zeros(self.n)
        self._wload = np.zeros((self.W, self.n))  # compute time per window and chiplet
        self._wres = np.zeros((self.W, self.n))  # weight bytes resident per window and chiplet
        self._mload = np.zeros(self.M)  # compute time of each model's placed layers
        self._mb = np.repeat(self.features.mb_index[:, None], self.W, axis=1)  # [M, W] options
        self._mb_set = np.zeros(self.M, dtype=bool)  # micro-batch chosen for the current window

    def _layer(self) -> int:
        return int(self.features.order[self._k])

    def _potential(self) -> float:
        return -float(self._load.max()) / (self.n * self.features.share)

    def _obs(self):
        if self._dict_obs is not None:
            return self._dict_obs.build(self)
        o = np.zeros(self._dim, dtype=np.float32)
        if self._k < self.L:
            layer = self._layer()
            m = int(self._model[layer])
            o[: self._o_model] = self.features.static[layer]
            o[self._o_model + m] = 1.0
            w = self._o_win
            o[w] = self._cw[m] / self.W
            o[w + 1] = self._placed[m] / self._sizes[m]
            o[w + 3] = 1.0 if self._in_window[m] else 0.0
            if self._prev[m] >= 0:
                o[self._o_prev + self._prev[m]] = 1.0
        o[self._o_win + 2] = self._k / self.L
        o[self._o_load : self._o_prev] = squash(self._load / self.features.share)
        return o

    def action_masks(self) -> np.ndarray:
        """Valid actions (bool, one per action): every real chiplet (padding slots never); close
        only with a non-empty current window that is not the last; with ``micro_batch="choose"``
        micro-batch option ``j`` only before the current window's first layer, once per window,
        for an option the model's batch has other than the current one. For sb3-contrib's
        MaskablePPO (reach it through wrappers with ``env.unwrapped`` or ``get_wrapper_attr``)."""
        mask = np.zeros(self.slots + 1 + self.mb_slots, dtype=bool)
        mask[: self.n] = True
        if self._done or self._k >= self.L:
            return mask
        m = self._model[self._layer()]
        mask[self.slots] = self.can_close(m)
        if self.mb_slots and self._in_window[m] == 0 and not self._mb_set[m]:
            k = min(int(self._n_opts[m]), self.mb_slots)
            mask[self.slots + 1 : self.slots + 1 + k] = True
            mask[self.slots + 1 + int(self._mb[m, self._cw[m]])] = False
        return mask

    def can_close(self, m: int) -> bool:
        """Whether model ``m``'s current window may be closed now (see the action layout)."""
        return bool((self.empty_windows or self._in_window[m] > 0) and self._cw[m] < self.W - 1)

    def actions_for(self, genome) -> list[int]:
        """The actions that build ``genome`` from a fresh episode (the schedule's canonical form:
        ``problem.canonical``), in this environment's layer order: closes to reach each layer's
        window, a micro-batch action before a window's first layer where the genome's option
        differs from the default (``micro_batch="choose"``), the layer's chiplet. ``ValueError``
        when the genome has no such sequence here: an empty window without ``empty_windows``, or
        a micro-batch other than the default without ``micro_batch="choose"``."""
        p = self.problem
        g = p.canonical(np.asarray(genome, dtype=np.int64).reshape(1, -1))[0]
        if len(g) != p.genome_length:
            raise ValueError(f"genome length {len(g)} != the problem's {p.genome_length}")
        chip, win = g[: self.L], g[self.L : 2 * self.L]
        mb = g[2 * self.L :].reshape(self.M, self.W)
        default = self.features.mb_index
        cw = np.zeros(self.M, dtype=np.int64)
        opened = np.zeros(self.M, dtype=bool)
        actions: list[int] = []
        for layer in self.features.order:
            m, w = int(self._model[layer]), int(win[layer])
            if not self.empty_windows and not (w == cw[m] or (w == cw[m] + 1 and opened[m])):
                raise ValueError(
                    f"model {m} leaves window {cw[m]} empty before layer {int(layer)}: "
                    "needs empty_windows=True"
                )
            actions += [self.slots] * int(w - cw[m])
            if w > cw[m]:
                cw[m], opened[m] = w, False
            if not opened[m] and mb[m, w] != default[m]:
                if not self.mb_slots:
                    raise ValueError(
                        f"model {m} window {w} uses micro-batch option {int(mb[m, w])}, "
                        f"not the default {int(default[m])}: needs micro_batch='choose'"
                    )
                if mb[m, w] >= self.mb_slots:
                    raise ValueError(
                        f"micro-batch option {int(mb[m, w])} >= pad_micro_batches {self.mb_slots}"
                    )
                actions.append(self.slots + 1 + int(mb[m, w]))
            opened[m] = True
            actions.append(int(chip[layer]))
        return actions

    def clone(self) -> MappingEnv:
        """A fresh copy sharing every static array (cost tables, features, reference) but with
        its own state: the cheap way to build several environments of one problem."""
        c = copy.copy(self)
        c._np_random = None
        c._clear()
        return c

    def observation(self):
        """The current observation (what :meth:`reset` and :meth:`step` return), e.g. after
        :meth:`advance`."""
        return self._obs()

    def genome(self) -> np.ndarray:
        """The flat genome of the schedule so far (unplaced layers have chiplet/window -1)."""
        return np.concatenate([self._chiplet, self._window, self._mb.ravel()])

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._clear()
        return self._obs(), {"invalid_actions": 0}

    def _place(self, chiplet: int) -> None:
        layer = self._layer()
        m = self._model[layer]
        self._chiplet[layer] = chiplet
        self._window[layer] = self._cw[m]
        self._in_window[m] += 1
        self._placed[m] += 1
        self._prev[m] = chiplet
        w = self._cw[m]
        t = self.class_time[layer, self._mb[m, w], self._placement[chiplet]]
        self._load[chiplet] += t
        self._wload[w, chiplet] += t
        self._wres[w, chiplet] += self._w_bytes[layer]
        self._mload[m] += t
        self._k += 1

    def advance(self, action) -> tuple[float, bool, bool, dict]:
        """One step without the end-of-episode evaluation: ``(reward so far, terminated,
        truncated, info)``. A finished episode's schedule is :meth:`genome`; :meth:`step` adds its
        final reward, and :class:`env.vector.MappingVectorEnv` evaluates the schedules of several
        environments in one batch instead. Why: one batched evaluation is far cheaper than many."""
        if self._done:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._steps += 1
        phi = self._potential() if self.shaped else 0.0
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        reward = 0.0
        valid = 0 <= a < self.n_actions and (a < self.n or self.action_masks()[a])
        if not valid:
            self._invalid += 1
            reward -= self.invalid_penalty
        elif a < self.n:
            self._place(a)
        elif a == self.slots:
            m = self._model[self._layer()]
            self._cw[m] += 1
            self._in_window[m] = 0
            self._mb_set[m] = False
        else:  # a micro-batch option for the current (still empty) window
            m = self._model[self._layer()]
            self._mb[m, self._cw[m]] = a - self.slots - 1
            self._mb_set[m] = True
        terminated = self._k >= self.L
        truncated = not terminated and self._steps >= self.max_steps
        info: dict = {"invalid_actions": self._invalid}
        if truncated:
            info["defaulted_layers"] = self.L - self._k
            while self._k < self.L:
                self._place(max(int(self._prev[self._model[self._layer()]]), 0))
        if self.shaped:
            reward += (0.0 if terminated or truncated else self._potential()) - phi
        if terminated or truncated:
            self._done = True
        return reward, terminated, truncated, info

    def step(self, action):
        reward, terminated, truncated, info = self.advance(action)
        if terminated or truncated:
            final, units = evaluate_genome(
                self.problem, self.genome(), self.reference, self.evaluator
            )
            reward += final
            info.update(units)
        return self._obs(), reward, terminated, truncated, info

    def render(self) -> str | None:
        """The schedule so far as text (``render_mode="ansi"``): per model and window its stages
        ``first-last@chiplet`` (model-local layer indices), then the chiplet loads."""
        if self.render_mode is None:
            return None
        p = self.problem
        lines = [
            f"{p.workload.name} on {p.mcm.name} ({'/'.join(p.mcm.grid_letters())}), "
            f"objective {p.objective if isinstance(p.objective, str) else 'custom'}; "
            f"placed {self._k}/{self.L}, step {self._steps}, invalid {self._invalid}"
        ]
        for m, mod in enumerate(p.workload.models):
            a = int(p.index.offset[m])
            cs, ws = self._chiplet[a : a + len(mod)], self._window[a : a + len(mod)]
            parts: dict[int, list[str]] = {}
            k = int(self._placed[m])
            for start, stop in stage_bounds(cs[:k], ws[:k], np.arange(k) == 0):
                span = f"{start}" if stop - 1 == start else f"{start}-{stop - 1}"
                parts.setdefault(int(ws[start]), []).append(f"{span}@{cs[start]}")
            text = " | ".join(f"w{w}: {' '.join(s)}" for w, s in sorted(parts.items()))
            lines.append(
                f"  {mod.name} [{self._placed[m]}/{len(mod)}, window {self._cw[m]}] {text}"
            )
        loads = " ".join(f"{x / self.features.share:.2f}" for x in self._load)
        lines.append(f"  chiplet load / share: {loads}")
        return "\n".join(lines)
