"""`systolic-ws` and `systolic-os` against SCALE-Sim v3 (calculated, stall-free bandwidth):
tests/data/scalesim_reference.csv on a 32x32 array and scalesim_aspect_reference.csv on
non-square arrays, made by validation/scalesim/run_scalesim.py. Both dataflows match SCALE-Sim's
cycle count exactly on every row (it reports no energy), so the test asserts equality."""

import pytest

from costmodel import ChipletClass, layer_cost

from .reference import reference_rows, validation_layers

LAYERS = validation_layers()
ROWS = reference_rows("scalesim_reference.csv") + reference_rows("scalesim_aspect_reference.csv")


def test_reference_covers_the_layer_set():
    main = reference_rows("scalesim_reference.csv")
    assert len({r["layer"] for r in main}) >= 10
    assert {r["dataflow"] for r in main} == {"systolic-ws", "systolic-os"}
    assert {(r["array_rows"], r["array_cols"]) for r in ROWS} > {("32", "32")}


@pytest.mark.parametrize(
    "r", ROWS, ids=lambda r: f"{r['layer']}-{r['dataflow']}-{r['array_rows']}x{r['array_cols']}"
)
def test_matches_scalesim(r):
    layer, batch = LAYERS[r["layer"]]
    cc = ChipletClass(
        dataflow=r["dataflow"],
        pe_rows=int(r["array_rows"]),
        pe_cols=int(r["array_cols"]),
        noc_bw=None,
        noc_latency=0,
    )
    assert int(r["stall_cycles"]) == 0
    assert layer_cost(layer, cc, batch).cycles == int(r["cycles"])
