"""Layers, models (layer chains) and workloads (several models served together)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import check_at_most, check_choice, check_positive_int
from .targets import Target, resolve_targets

LAYER_KINDS = ("conv", "gemm", "eltwise")
#: Largest loop bound a layer may have (MAESTRO's int). Costs are computed in float64, so their
#: products never overflow; every count below 2**53 is exact.
MAX_DIM = 2**31 - 1
#: Largest fused element-wise op count (float64 represents every integer up to it exactly).
MAX_COUNT = 2**53


@dataclass(frozen=True)
class Layer:
    """One layer as a convolution loop nest (K out-channels, C in-channels, R x S filter, Yo x Xo output).

    A GEMM ``(M, N, K)`` is stored as the 1x1 convolution ``K_out = N, C = K, Yo = M, Xo = 1``; its
    batch multiplies M (tokens x batch). ``groups`` runs that many independent copies of the nest
    with ``K/groups`` and ``C/groups`` channels (grouped convolutions, attention heads). ``weights``
    is False for GEMMs whose second operand is an activation (attention QK^T and AV). An ``eltwise``
    layer (pool, norm, add) is cheap and memory-bound: ``K x Yo x Xo`` outputs, each reading an
    ``R x S`` window over C channels. ``vec_ops`` counts the element-wise operations fused into a
    compute layer per sample (layer norm, softmax, GELU, residual add). ``skips`` are indices of
    earlier layers of the same model whose outputs this layer also reads (residuals, U-Net concat).
    """

    name: str
    kind: str = "conv"
    K: int = 1
    C: int = 1
    R: int = 1
    S: int = 1
    Yo: int = 1
    # None: Yo for a conv or eltwise layer (square output), 1 for a GEMM; __post_init__ always
    # fills in an int, so readers see ``int`` (hence the ignore on the None default).
    Xo: int = None  # type: ignore[assignment]
    stride: int = 1
    groups: int = 1
    weights: bool = True
    vec_ops: int = 0
    skips: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        check_choice("layer kind", self.kind, LAYER_KINDS)
        if self.Xo is None:
            object.__setattr__(self, "Xo", 1 if self.kind == "gemm" else self.Yo)
        for f in ("K", "C", "R", "S", "Yo", "Xo", "stride", "groups"):
            v = getattr(self, f)
            check_positive_int(f"layer {self.name!r} {f}", v)
            check_at_most(f"layer {self.name!r} {f}", v, MAX_DIM)
            object.__setattr__(self, f, int(v))  # plain Python ints: exact products, no overflow
        v = self.vec_ops
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"layer {self.name!r} vec_ops must be an integer >= 0, got {v!r}")
        check_at_most(f"layer {self.name!r} vec_ops", v, MAX_COUNT)
        object.__setattr__(self, "vec_ops", int(v))
        if self.kind != "eltwise" and (self.K % self.groups or self.C % self.groups):
            raise ValueError(
                f"layer {self.name!r}: groups={self.groups} must divide K={self.K} and C={self.C}"
            )

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def conv(
        cls,
        name: str,
        K: int,
        C: int,
        R: int = 1,
        S: int | None = None,
        Yo: int = 1,
        Xo: int | None = None,
        stride: int = 1,
        groups: int = 1,
        **kw,
    ) -> Layer:
        """A convolution; ``Yo``, ``Xo`` are the OUTPUT sizes (``S``, ``Xo`` default to ``R``, ``Yo``)."""
        return cls(
            name,
            "conv",
            K,
            C,
            R,
            R if S is None else S,
            Yo,
            Yo if Xo is None else Xo,
            stride,
            groups,
            **kw,
        )

    @classmethod
    def gemm(
        cls, name: str, M: int, N: int, K: int, weights: bool = True, heads: int = 1, **kw
    ) -> Layer:
        """``[M x K] @ [K x N]`` per head (``heads`` independent products, e.g. attention heads)."""
        return cls(
            name, "gemm", K=N * heads, C=K * heads, Yo=M, Xo=1, groups=heads, weights=weights, **kw
        )

    @classmethod
    def eltwise(
        cls,
        name: str,
        C: int,
        Yo: int,
        Xo: int | None = None,
        R: int = 1,
        stride: int = 1,
        **kw,
    ) -> Layer:
        """A pool / norm / add over ``C x Yo x Xo`` outputs (``Xo`` defaults to ``Yo``, as for a
        conv), each reading an ``R x R`` window."""
        return cls(
            name,
            "eltwise",
            K=C,
            C=C,
            R=R,
            S=R,
            Yo=Yo,
            Xo=Yo if Xo is None else Xo,
            stride=stride,
            weights=False,
            **kw,
        )

    # --- shapes -------------------------------------------------------------------------------
    @property
    def Yi(self) -> int:
        return (self.Yo - 1) * self.stride + self.R

    @property
    def Xi(self) -> int:
        return (self.Xo - 1) * self.stride + self.S

    def gemm_dims(self) -> tuple[int, int, int]:
        """``(M, N, K)`` per head of a GEMM layer."""
        return self.Yo, self.K // self.groups, self.C // self.groups

    def macs(self, batch: int = 1) -> int:
        """Multiply-accumulates for ``batch`` samples (0 for an eltwise layer)."""
        if self.kind == "eltwise":
            return 0
        return self.K * (self.C // self.groups) * self.R * self.S * self.Yo * self.Xo * batch

    def weight_elems(self) -> int:
        if self.kind == "eltwise" or not self.weights:
            return 0
        return self.K * (self.C // self.groups) * self.R * self.S

    def input_elems(self, batch: int = 1) -> int:
        """Activation elements read per ``batch`` samples (both operands of a weight-less GEMM)."""
        if self.kind == "gemm":
            m, n, k = self.gemm_dims()
            per = m * k + (0 if self.weights else k * n)
            return per * self.groups * batch
        return self.C * self.Yi * self.Xi * batch

    def output_elems(self, batch: int = 1) -> int:
        return self.K * self.Yo * self.Xo * batch

    def describe(self) -> str:
        if self.kind == "gemm":
            m, n, k = self.gemm_dims()
            h = f" x{self.groups} heads" if self.groups > 1 else ""
            return f"gemm M={m} N={n} K={k}{h}{'' if self.weights else ' (no weights)'}"
        if self.kind == "eltwise":
            return f"eltwise {self.K}x{self.Yo}x{self.Xo} window {self.R}x{self.S}"
        g = f" g={self.groups}" if self.groups > 1 else ""
        return (
            f"conv K={self.K} C={self.C} {self.R}x{self.S} -> {self.Yo}x{self.Xo} s{self.stride}{g}"
        )


@dataclass(frozen=True)
class Model:
    """A DNN as a chain of layers in topological order, served ``batch`` samples per request."""

    name: str
    layers: tuple[Layer, ...]
    batch: int = 1

    def __init__(self, name: str, layers: Iterable[Layer], batch: int = 1) -> None:
        object.__setattr__(self, "name", str(name))
        object.__setattr__(self, "layers", tuple(layers))
        object.__setattr__(self, "batch", batch)
        check_positive_int(f"model {name!r} batch", batch)
        check_at_most(f"model {name!r} batch", batch, MAX_DIM)
        if not self.layers:
            raise ValueError(f"model {name!r} has no layers")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"model {name!r} layer {i} is {type(layer).__name__}, not a Layer")
            bad = [s for s in layer.skips if not 0 <= s < i]
            if bad:
                raise ValueError(
                    f"model {name!r} layer {layer.name!r} skips from {bad[0]}; allowed 0..{i - 1}"
                )

    def __len__(self) -> int:
        return len(self.layers)

    def macs(self, batch: int | None = None) -> int:
        b = self.batch if batch is None else batch
        return sum(layer.macs(b) for layer in self.layers)

    def weight_bytes(self, data_bytes: int = 1) -> int:
        return sum(layer.weight_elems() for layer in self.layers) * data_bytes

    def with_batch(self, batch: int) -> Model:
        return Model(self.name, self.layers, batch)

    def renamed(self, name: str) -> Model:
        return Model(name, self.layers, self.batch)


@dataclass(frozen=True)
class Workload:
    """Several models served at once; duplicate names are told apart as ``name#2``, ``name#3``...
    ``targets``: per model an optional latency :class:`~costmodel.targets.Target` (a mapping by
    the final model names, or one entry or ``None`` per model); they matter only to the target
    objectives (costmodel/targets.py)."""

    models: tuple[Model, ...]
    name: str = ""
    targets: tuple[Target | None, ...] = ()

    def __init__(
        self,
        models: Sequence[Model],
        name: str = "",
        targets: Mapping[str, Target] | Sequence[Target | None] | None = None,
    ) -> None:
        models = list(models)
        if not models:
            raise ValueError("a workload needs at least one model")
        seen: dict[str, int] = {}
        named = []
        for m in models:
            if not isinstance(m, Model):
                raise ValueError(f"workload entries must be Model, got {type(m).__name__}")
            seen[m.name] = seen.get(m.name, 0) + 1
            named.append(m if seen[m.name] == 1 else m.renamed(f"{m.name}#{seen[m.name]}"))
        object.__setattr__(self, "models", tuple(named))
        object.__setattr__(self, "name", name or "+".join(m.name for m in named))
        object.__setattr__(
            self, "targets", resolve_targets(targets, [m.name for m in named], "workload targets")
        )

    def __len__(self) -> int:
        return len(self.models)

    @property
    def n_layers(self) -> int:
        return sum(len(m) for m in self.models)

    def macs(self) -> int:
        return sum(m.macs() for m in self.models)

    def with_batches(self, batches: Sequence[int]) -> Workload:
        if len(batches) != len(self.models):
            raise ValueError(f"batches needs {len(self.models)} entries, got {len(batches)}")
        return Workload(
            [m.with_batch(b) for m, b in zip(self.models, batches)], self.name, self.targets
        )
