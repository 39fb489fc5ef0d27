import numpy as np
import pytest

from costmodel import ChipletClass, mcm, monolithic


def test_chiplet_defaults_follow_scar_table2():
    cc = ChipletClass(dataflow="systolic-os", pe_rows=32, pe_cols=32)
    assert cc.pes == 1024 and cc.clock_hz == 500e6 and cc.l2_bytes == 10 * 2**20
    assert ChipletClass("ws").pes == 4096
    assert ChipletClass("nvdla").dataflow == "ws" and ChipletClass("shidiannao").dataflow == "os"
    assert ChipletClass.with_pes("ws", 256).pe_rows == 4
    assert ChipletClass.with_pes("os", 256).pe_rows == 16


@pytest.mark.parametrize(
    "bad, field",
    [({"dataflow": "rs"}, "dataflow"), ({"pe_rows": 0}, "pe_rows"), ({"noc_bw": -1}, "noc_bw")],
)
def test_chiplet_rejects_bad_fields(bad, field):
    with pytest.raises(ValueError, match=field):
        ChipletClass(**bad)


def test_patterns_place_dataflows():
    assert mcm("homo-ws", 2, 2).grid_letters() == ["WW", "WW"]
    assert mcm("het-checkerboard", 3, 3).grid_letters() == ["WOW", "OWO", "WOW"]
    assert mcm("het-sides", 2, 2).grid_letters() == ["WO", "WO"]
    assert mcm("het-cross", 3, 3).grid_letters() == ["WOW", "OOO", "WOW"]
    six = mcm("het-sides", 6, 6).grid_letters()
    assert all(row == "WWWOOO" for row in six)
    assert mcm(grid=["WW", "WO"]).grid_letters() == ["WW", "WO"]
    m = mcm("het-sides", 3, 3, dataflows=("ws", "systolic-os"))
    assert {c.dataflow for c in m.classes} == {"ws", "systolic-os"}


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"pattern": "spiral"}, "pattern"),
        ({"pattern": "het-cross", "rows": 2, "cols": 2}, "het-cross"),
        ({"pattern": "het-sides", "rows": 0}, "rows"),
        ({"grid": ["WX"]}, "grid letter"),
        ({"grid": ["WW", "W"]}, "grid rows"),
    ],
)
def test_bad_patterns_are_named(kw, field):
    with pytest.raises(ValueError, match=field):
        mcm(**kw)


def test_xy_routing_and_dram_hops_on_mesh():
    m = mcm("het-sides", 3, 4)
    assert m.graph.number_of_nodes() == 12 and m.graph.number_of_edges() == 17
    # hop counts equal networkx shortest paths on the mesh and the length of the XY route
    for a in range(12):
        for b in range(12):
            route = m.route(a, b)
            assert len(route) == m.hops[a, b]
            if route:
                assert route[0][0] == a and route[-1][1] == b
                assert all(m.graph.has_edge(u, v) for u, v in route)
    assert list(m.dram_hops.reshape(3, 4)[0]) == [0, 1, 1, 0]
    # XY: horizontal first
    assert m.route(0, 5) == [(0, 1), (1, 5)]


def test_monolithic_sums_pes_and_l2():
    m = mcm(grid=["WW", "WO"])
    mono = monolithic(m, "os")
    cc = mono.classes[0]
    assert mono.n_chiplets == 1 and cc.pes == 16384 and (cc.pe_rows, cc.pe_cols) == (128, 128)
    assert cc.l2_bytes == 4 * 10 * 2**20 and mono.dram_bw == m.dram_bw
    assert np.all(mono.hops == 0)
