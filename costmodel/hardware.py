"""Chiplet classes and multi-chiplet modules (MCMs) on a 2D-mesh network-on-package."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import networkx as nx
import numpy as np

from . import constants as k
from .errors import check_choice, check_positive, check_positive_int

#: Dataflows and their aliases. ``ws`` = NVDLA-like weight-stationary (MAESTRO KCP-WS), ``os`` =
#: ShiDianNao-like output-stationary (MAESTRO YXP-OS), ``systolic-*`` = TPU-like arrays (SCALE-Sim),
#: ``os-best`` = an output-stationary array that takes, per layer, the faster of the ``os`` and
#: ``systolic-os`` mappings (the papers' "optimized OS" monolithic baseline).
DATAFLOWS = ("ws", "os", "systolic-ws", "systolic-os", "os-best")
ALIASES = {"nvdla": "ws", "shidiannao": "os", "tpu": "systolic-ws"}

#: Canonical PE-array shapes per dataflow and PE count (docs/design.md, Hardware model): ``ws`` puts K across
#: clusters and C across 64 lanes; ``os`` lays out output Y x X as a square.
_SHAPES = {
    ("ws", 4096): (64, 64),
    ("ws", 256): (4, 64),
    ("os", 4096): (64, 64),
    ("os", 256): (16, 16),
    ("systolic-ws", 4096): (64, 64),
    ("systolic-ws", 256): (16, 16),
    ("systolic-os", 4096): (64, 64),
    ("systolic-os", 256): (16, 16),
    ("os-best", 4096): (64, 64),
    ("os-best", 256): (16, 16),
}


def canonical_dataflow(name: str) -> str:
    """Resolve aliases (``nvdla`` -> ``ws``) and reject unknown names."""
    name = ALIASES.get(str(name).lower(), str(name).lower())
    check_choice("dataflow", name, DATAFLOWS + tuple(ALIASES))
    return name


def pe_shape(dataflow: str, pes: int) -> tuple[int, int]:
    """PE array rows x cols for a dataflow at a PE count (canonical shape, else the squarest)."""
    dataflow = canonical_dataflow(dataflow)
    check_positive("pes", pes)
    if (dataflow, pes) in _SHAPES:
        return _SHAPES[(dataflow, pes)]
    r = int(np.sqrt(pes))
    while pes % r:
        r -= 1
    return r, pes // r


@dataclass(frozen=True)
class ChipletClass:
    """One kind of chiplet: a dataflow on a PE array with its memories and energy constants.

    ``noc_bw`` is the L2->PE bandwidth in elements per cycle (``None`` = unconstrained) and
    ``noc_latency`` the cycles each transfer pays, as MAESTRO models the on-chip network; with
    ``noc_bw=None`` every transfer still pays ``noc_latency`` (set it to 0 for an ideal network).
    """

    dataflow: str = "ws"
    # None (the default) means the dataflow's canonical shape; __post_init__ always fills in an
    # int, so readers see ``int`` (hence the ignores on the None defaults).
    pe_rows: int = None  # type: ignore[assignment]
    pe_cols: int = None  # type: ignore[assignment]
    l1_bytes: int = k.L1_BYTES
    l2_bytes: int = k.L2_BYTES
    noc_bw: float | None = k.NOC_BW
    noc_latency: int = k.NOC_LATENCY
    clock_hz: float = k.CLOCK_HZ
    mac_pj: float = k.MAC_PJ
    l1_rel: float = k.L1_REL
    l2_rel: float = k.L2_REL
    data_bytes: int = k.DATA_BYTES
    name: str = ""

    def __post_init__(self) -> None:
        df = canonical_dataflow(self.dataflow)
        object.__setattr__(self, "dataflow", df)
        rows, cols = pe_shape(df, k.PES_DATACENTER)
        if self.pe_rows is None:
            object.__setattr__(self, "pe_rows", rows)
        if self.pe_cols is None:
            object.__setattr__(self, "pe_cols", cols)
        for f in ("pe_rows", "pe_cols", "l1_bytes", "l2_bytes", "clock_hz", "data_bytes"):
            check_positive(f, getattr(self, f))
        if self.noc_bw is not None:
            check_positive("noc_bw", self.noc_bw)
        if self.noc_latency < 0:
            raise ValueError(f"noc_latency must be >= 0 cycles, got {self.noc_latency!r}")
        for f in ("mac_pj", "l1_rel", "l2_rel"):
            if getattr(self, f) < 0:
                raise ValueError(f"{f} must be >= 0, got {getattr(self, f)!r}")
        if not self.name:
            object.__setattr__(self, "name", f"{df}-{self.pes}")

    @property
    def pes(self) -> int:
        return int(self.pe_rows) * int(self.pe_cols)

    @classmethod
    def with_pes(cls, dataflow: str, pes: int = k.PES_DATACENTER, **kw) -> ChipletClass:
        """A chiplet of ``dataflow`` with ``pes`` PEs in the dataflow's canonical array shape."""
        rows, cols = pe_shape(dataflow, pes)
        return cls(dataflow=dataflow, pe_rows=rows, pe_cols=cols, **kw)


PATTERNS = ("homo-ws", "homo-os", "het-checkerboard", "het-sides", "het-cross", "grid")
#: Letters of a YAML grid and the dataflow each stands for (overridable with ``legend=``).
DEFAULT_LEGEND = {"W": "ws", "O": "os", "T": "systolic-ws", "S": "systolic-os", "B": "os-best"}


@dataclass(frozen=True)
class MCM:
    """A rows x cols mesh of chiplets; ``placement[i]`` is the class index of chiplet ``i`` (row-major).

    DRAM is reached only through the chiplets of the left and right edge columns; a chiplet elsewhere
    goes over NoP hops to the nearest edge chiplet. Routing is dimension-ordered (X then Y).
    """

    rows: int
    cols: int
    classes: tuple[ChipletClass, ...]
    placement: tuple[int, ...]
    nop_bw: float = k.NOP_BW_BYTES_S
    nop_hop_s: float = k.NOP_HOP_S
    nop_pj_per_bit: float = k.NOP_PJ_PER_BIT
    dram_bw: float = k.DRAM_BW_BYTES_S
    dram_latency_s: float = k.DRAM_LATENCY_S
    dram_pj_per_bit: float = k.DRAM_PJ_PER_BIT
    name: str = ""
    monolithic: bool = field(default=False)

    def __post_init__(self) -> None:
        check_positive_int("rows", self.rows)
        check_positive_int("cols", self.cols)
        if len(self.placement) != self.rows * self.cols:
            raise ValueError(
                f"placement has {len(self.placement)} entries; a {self.rows}x{self.cols} mesh needs "
                f"{self.rows * self.cols}"
            )
        bad = [p for p in self.placement if not 0 <= p < len(self.classes)]
        if bad:
            raise ValueError(
                f"placement refers to class {bad[0]}; allowed 0..{len(self.classes) - 1}"
            )
        for f in ("nop_bw", "dram_bw"):
            check_positive(f, getattr(self, f))

    @property
    def n_chiplets(self) -> int:
        return self.rows * self.cols

    def coord(self, i: int) -> tuple[int, int]:
        return divmod(int(i), self.cols)

    def chiplet_class(self, i: int) -> ChipletClass:
        return self.classes[self.placement[i]]

    @cached_property
    def graph(self) -> nx.Graph:
        """The NoP mesh as a networkx grid graph whose nodes are chiplet indices."""
        g = nx.grid_2d_graph(self.rows, self.cols)
        return nx.relabel_nodes(g, {(r, c): r * self.cols + c for r, c in g.nodes})

    @cached_property
    def hops(self) -> np.ndarray:
        """``[n, n]`` hop counts under XY routing (Manhattan distance on the mesh)."""
        r, c = np.divmod(np.arange(self.n_chiplets), self.cols)
        return np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])

    @cached_property
    def dram_hops(self) -> np.ndarray:
        """``[n]`` hops from each chiplet to its nearest DRAM interface (left/right edge column)."""
        c = np.arange(self.n_chiplets) % self.cols
        return np.minimum(c, self.cols - 1 - c)

    @cached_property
    def links(self) -> tuple[tuple[int, int], ...]:
        """Directed NoP links ``(a, b)`` between neighbouring chiplets, in a fixed order."""
        return tuple(sorted((a, b) for u, v in self.graph.edges for a, b in ((u, v), (v, u))))

    def route(self, src: int, dst: int) -> list[tuple[int, int]]:
        """The directed links an XY-routed transfer from ``src`` to ``dst`` crosses."""
        (r0, c0), (r1, c1) = self.coord(src), self.coord(dst)
        path, r, c = [], r0, c0
        while c != c1:
            nc = c + (1 if c1 > c else -1)
            path.append((r * self.cols + c, r * self.cols + nc))
            c = nc
        while r != r1:
            nr = r + (1 if r1 > r else -1)
            path.append((r * self.cols + c, nr * self.cols + c))
            r = nr
        return path

    def dram_route(self, chiplet: int) -> list[tuple[int, int]]:
        """Links from ``chiplet`` to its nearest DRAM edge chiplet (same row)."""
        r, c = self.coord(chiplet)
        edge = 0 if c <= self.cols - 1 - c else self.cols - 1
        return self.route(chiplet, r * self.cols + edge)

    def grid_letters(self) -> list[str]:
        """The placement as rows of dataflow initials (``W``/``O``/``T``/``S``), for display."""
        inv = {v: kk for kk, v in DEFAULT_LEGEND.items()}
        return [
            "".join(inv[self.chiplet_class(r * self.cols + c).dataflow] for c in range(self.cols))
            for r in range(self.rows)
        ]

    def with_classes(self, **overrides) -> MCM:
        """The same MCM with every chiplet class's fields overridden (e.g. ``noc_bw=None``)."""
        return replace(self, classes=tuple(replace(c, name="", **overrides) for c in self.classes))


def _pattern_grid(pattern: str, rows: int, cols: int) -> list[list[int]]:
    """Class index (0 = first dataflow, 1 = second) of every chiplet for a named pattern."""
    if pattern == "homo-ws":
        return [[0] * cols for _ in range(rows)]
    if pattern == "homo-os":
        return [[1] * cols for _ in range(rows)]
    if pattern == "het-checkerboard":
        return [[(r + c) % 2 for c in range(cols)] for r in range(rows)]
    if pattern == "het-sides":
        if cols < 2:
            raise ValueError(f"pattern het-sides needs cols >= 2, got cols={cols}")
        left = (cols + 1) // 2
        return [[0 if c < left else 1 for c in range(cols)] for r in range(rows)]
    if pattern == "het-cross":
        if rows < 3 or cols < 3:
            raise ValueError(f"pattern het-cross needs rows >= 3 and cols >= 3, got {rows}x{cols}")
        mr, mc = rows // 2, cols // 2
        return [[1 if (r == mr or c == mc) else 0 for c in range(cols)] for r in range(rows)]
    check_choice("pattern", pattern, PATTERNS)
    raise AssertionError  # pragma: no cover


#: largest mesh side and chiplet count an MCM may have: the evaluators hold chiplet x chiplet hop
#: tables and per-chiplet arrays per schedule; past this a config is refused instead of running
#: out of memory or hanging (docs/design.md, Limits)
MAX_MESH_SIDE = 64
MAX_CHIPLETS = 1024


def check_mesh(rows: int, cols: int) -> None:
    """``ValueError`` for a mesh past :data:`MAX_MESH_SIDE` or :data:`MAX_CHIPLETS`."""
    for name, v in (("rows", rows), ("cols", cols)):
        if v > MAX_MESH_SIDE:
            raise ValueError(f"{name} must be at most {MAX_MESH_SIDE}, got {v}")
    if rows * cols > MAX_CHIPLETS:
        raise ValueError(
            f"rows x cols must be at most {MAX_CHIPLETS} chiplets, got {rows}x{cols} = {rows * cols}"
        )


def mcm(
    pattern: str = "het-sides",
    rows: int = 2,
    cols: int = 2,
    *,
    pes: int = k.PES_DATACENTER,
    pe_rows: int | None = None,
    pe_cols: int | None = None,
    dataflows: Sequence[str] = ("ws", "os"),
    grid: Sequence[str] | None = None,
    legend: dict[str, str] | None = None,
    **chiplet_kw,
) -> MCM:
    """Build an MCM from a named pattern (``homo-ws``, ``homo-os``, ``het-checkerboard``,
    ``het-sides``, ``het-cross``) or from ``grid`` rows of letters (``pattern="grid"``).

    ``dataflows`` names the pair a two-class pattern uses (first = ``ws`` role, second = ``os``
    role); ``pes`` picks each dataflow's canonical array shape, ``pe_rows``/``pe_cols`` override it;
    other keywords (``noc_bw``, ``l2_bytes``, ...) go to every :class:`ChipletClass`.
    """
    check_positive_int("rows", rows)
    check_positive_int("cols", cols)
    check_mesh(rows, cols)
    if grid is not None:
        pattern = "grid"
    check_choice("pattern", pattern, PATTERNS)

    def make(df: str) -> ChipletClass:
        r, c = pe_shape(df, pes)
        return ChipletClass(dataflow=df, pe_rows=pe_rows or r, pe_cols=pe_cols or c, **chiplet_kw)

    if pattern == "grid":
        if not grid:
            raise ValueError("pattern 'grid' needs grid=, a list of rows of dataflow letters")
        leg = {**DEFAULT_LEGEND, **(legend or {})}
        rows, cols = len(grid), len(grid[0])
        check_mesh(rows, cols)
        if any(len(row) != cols for row in grid):
            raise ValueError(f"grid rows must all have {cols} letters, got {list(grid)}")
        letters = sorted({ch for row in grid for ch in row})
        for ch in letters:
            check_choice("grid letter", ch, tuple(leg))
        dfs = sorted({canonical_dataflow(leg[ch]) for ch in letters}, key=DATAFLOWS.index)
        classes = tuple(make(df) for df in dfs)
        placement = tuple(dfs.index(canonical_dataflow(leg[ch])) for row in grid for ch in row)
        return MCM(rows, cols, classes, placement, name="grid:" + "/".join(grid))
    if len(dataflows) != 2:
        raise ValueError(f"dataflows must name two dataflows, got {list(dataflows)}")
    cells = _pattern_grid(pattern, rows, cols)
    used = sorted({v for row in cells for v in row})
    classes = tuple(make(dataflows[u]) for u in used)
    placement = tuple(used.index(v) for row in cells for v in row)
    return MCM(rows, cols, classes, placement, name=f"{pattern}-{rows}x{cols}")


def monolithic(
    like: MCM, dataflow: str = "os", pe_rows: int | None = None, pe_cols: int | None = None
) -> MCM:
    """One chip with the PEs of all of ``like``'s chiplets, their summed L2, the same DRAM, no NoP.

    With 4 chiplets of 4096 PEs this is the 16384-PE (128 x 128) monolithic baseline of the papers.
    """
    pes = sum(like.chiplet_class(i).pes for i in range(like.n_chiplets))
    l2 = sum(like.chiplet_class(i).l2_bytes for i in range(like.n_chiplets))
    base = like.chiplet_class(0)
    if pe_rows is None or pe_cols is None:
        pe_rows, pe_cols = pe_shape(dataflow, pes)
    cc = replace(base, dataflow=dataflow, pe_rows=pe_rows, pe_cols=pe_cols, l2_bytes=l2, name="")
    return replace(
        like,
        rows=1,
        cols=1,
        classes=(cc,),
        placement=(0,),
        name=f"monolithic-{cc.name}",
        monolithic=True,
    )
