"""Policies over the ``obs="dict"`` observation of ``Mapping-v0`` that do not depend on chiplet
order or count (torch; the optional ``rl`` extra).

:class:`ChipletPolicyNet` embeds every chiplet's row together with the current layer and a pooled
summary of the models, mixes the chiplets with self-attention (padding masked out), and scores
each chiplet with one shared linear head: permuting the chiplets permutes their scores, and the
same weights score a 2x2 or a 6x6 mesh. A linear term on each chiplet's raw row is added to its
score (shared weights, so still equivariant): it learns simple preferences quickly. The other actions (close the window, micro-batch options)
and the value are read from the masked mean over the chiplets, which no permutation changes.

Used by the torch REINFORCE (``search.rl.Reinforce`` with ``policy="attention"``) directly, and by
MaskablePPO through :class:`ChipletExtractor` (an SB3 features extractor) and
:class:`ChipletActorCriticPolicy`; :class:`SB3MappingVecEnv` adapts
:class:`env.vector.MappingVectorEnv` (batched evaluation) to SB3's ``VecEnv``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from env.vector import MappingVectorEnv

#: Keys of the dict observation the network reads (env.observation).
OBS_KEYS = ("chiplets", "chiplet_mask", "layer", "models", "model_mask")


def _shape(space: gym.spaces.Dict, key: str) -> tuple[int, ...]:
    shape = space[key].shape
    assert shape is not None
    return tuple(shape)


def _mlp(d_in: int, d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d), nn.ReLU(), nn.Linear(d, d))


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``h [B, N, d]`` over rows where ``mask [B, N]`` is 1."""
    w = mask.unsqueeze(-1)
    return (h * w).sum(1) / w.sum(1).clamp_min(1.0)


class _Block(nn.Module):
    """Self-attention over the chiplets, then a per-chiplet feed-forward (post-norm residuals)."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.att = nn.MultiheadAttention(d, heads, batch_first=True)
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = _mlp(d, d)

    def forward(self, h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        a, _ = self.att(h, h, h, key_padding_mask=pad, need_weights=False)
        h = self.n1(h + a)
        return self.n2(h + self.ff(h))


class ChipletPolicyNet(nn.Module):
    """Chiplet-order-equivariant action scores and an order-invariant value.

    ``forward(obs)`` takes the dict observation as tensors with a batch axis and returns
    ``(logits [B, N + n_extra], value [B])``: one logit per chiplet slot (padding slots get
    -1e9), then ``n_extra`` logits for the other actions (close, micro-batch options)."""

    def __init__(
        self, obs_space: gym.spaces.Dict, n_extra: int, d: int = 64, heads: int = 4, blocks: int = 1
    ) -> None:
        super().__init__()
        fc = _shape(obs_space, "chiplets")[1]
        fl = _shape(obs_space, "layer")[0]
        fm = _shape(obs_space, "models")[1]
        self.n_slots, self.n_extra, self.d = _shape(obs_space, "chiplets")[0], n_extra, d
        self.ctx = _mlp(fl, d)
        self.models = _mlp(fm, d)
        self.tok = _mlp(fc + 2 * d, d)
        self.blocks = nn.ModuleList([_Block(d, heads) for _ in range(blocks)])
        self.score = nn.Linear(d, 1)
        # a linear score on the raw chiplet row, shared by all chiplets: simple preferences
        # ("stay on the producer's chiplet", "the faster class") are learnt in a few updates
        self.direct = nn.Linear(fc, 1)
        self.extra = nn.Linear(3 * d, n_extra)
        self.value = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), nn.Linear(d, 1))

    def encode(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B, N + n_extra], pooled [B, 3d])``: the action scores and what the value
        reads (masked chiplet mean, layer context, model summary)."""
        chip, cmask = obs["chiplets"].float(), obs["chiplet_mask"].float()
        ctx = self.ctx(obs["layer"].float())
        mod = _masked_mean(self.models(obs["models"].float()), obs["model_mask"].float())
        B, N, _ = chip.shape
        g = torch.cat([ctx, mod], 1)
        h = self.tok(torch.cat([chip, g.unsqueeze(1).expand(B, N, 2 * self.d)], 2))
        pad = cmask < 0.5
        for blk in self.blocks:
            h = blk(h, pad)
        scores = (self.score(h) + self.direct(chip)).squeeze(-1).masked_fill(pad, -1e9)
        pooled = torch.cat([_masked_mean(h, cmask), g], 1)
        return torch.cat([scores, self.extra(pooled)], 1), pooled

    def forward(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits, pooled = self.encode(obs)
        return logits, self.value(pooled).squeeze(-1)


def as_tensors(obs: Any, batched: bool = True) -> dict[str, torch.Tensor]:
    """The dict observation as float tensors (a batch axis added unless ``batched``)."""
    return {
        k: torch.as_tensor(v, dtype=torch.float32) if batched else torch.as_tensor(v[None])
        for k, v in obs.items()
    }


# --- Stable-Baselines3 --------------------------------------------------------------------------------
class ChipletExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: the features are ``[logits (N + n_extra) | pooled (3d)]`` of a
    :class:`ChipletPolicyNet`; :class:`ChipletActorCriticPolicy` splits them into the action
    logits (as they are) and the value input."""

    def __init__(
        self,
        observation_space: gym.spaces.Dict,
        n_extra: int,
        d: int = 64,
        heads: int = 4,
        blocks: int = 1,
    ) -> None:
        n = _shape(observation_space, "chiplets")[0]
        super().__init__(observation_space, features_dim=n + n_extra + 3 * d)
        self.net = ChipletPolicyNet(observation_space, n_extra, d, heads, blocks)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        logits, pooled = self.net.encode(observations)
        return torch.cat([logits, pooled], 1)


class _Split(nn.Module):
    """SB3's ``mlp_extractor`` slot: the actor gets the logits, the critic the pooled part."""

    def __init__(self, n_logits: int, n_pooled: int) -> None:
        super().__init__()
        self.n = n_logits
        self.latent_dim_pi, self.latent_dim_vf = n_logits, n_pooled

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return f[:, : self.n], f[:, self.n :]

    def forward_actor(self, f: torch.Tensor) -> torch.Tensor:
        return f[:, : self.n]

    def forward_critic(self, f: torch.Tensor) -> torch.Tensor:
        return f[:, self.n :]


class ChipletActorCriticPolicy(MaskableActorCriticPolicy):
    """MaskablePPO policy whose action logits are :class:`ChipletPolicyNet`'s scores, unchanged
    (the action head is the identity, so chiplet order equivariance holds end to end); the
    value is a small MLP on the pooled features. Keywords ``d``, ``heads``, ``blocks``."""

    def __init__(
        self,
        observation_space: gym.spaces.Dict,
        action_space: gym.spaces.Discrete,
        lr_schedule: Any,
        d: int = 64,
        heads: int = 4,
        blocks: int = 1,
        **kwargs: Any,
    ) -> None:
        n = _shape(observation_space, "chiplets")[0]
        self._n_logits, self._pooled = int(action_space.n), 3 * d
        kwargs.update(
            features_extractor_class=ChipletExtractor,
            features_extractor_kwargs={
                "n_extra": int(action_space.n) - n,
                "d": d,
                "heads": heads,
                "blocks": blocks,
            },
            ortho_init=False,
            net_arch=[],
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = _Split(self._n_logits, self._pooled)  # type: ignore[assignment]

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        self.value_net = nn.Sequential(  # type: ignore[assignment]
            nn.Linear(self._pooled, self._pooled // 3), nn.ReLU(), nn.Linear(self._pooled // 3, 1)
        )
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


class SB3MappingVecEnv(VecEnv):
    """SB3 ``VecEnv`` over a :class:`env.vector.MappingVectorEnv`: lockstep environments, one
    batched evaluation per step for the episodes that end on it, ``action_masks`` for MaskablePPO."""

    def __init__(self, venv: MappingVectorEnv) -> None:
        self.venv = venv
        super().__init__(venv.num_envs, venv.observation_space, venv.action_space)
        self._actions: np.ndarray | None = None

    def reset(self):
        self._reset_seeds()
        self._reset_options()
        return self.venv.reset()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step(self._actions)
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def _envs(self, indices) -> list:
        return [self.venv.envs[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(e, attr_name) for e in self._envs(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        for e in self._envs(indices):
            setattr(e, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        return [getattr(e, method_name)(*method_args, **method_kwargs) for e in self._envs(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._envs(indices)]

    def has_attr(self, attr_name: str) -> bool:
        return hasattr(self.venv.envs[0], attr_name)
