#!/usr/bin/env python3
"""Generate MAESTRO inputs for the validation layer set, run MAESTRO, collect reference numbers.

Usage:
    python3 validation/maestro/run_maestro.py [MAESTRO_BIN] [--out CSV] [--inputs DIR] [--gen-only]

The MAESTRO binary comes from the first positional argument or the MAESTRO_BIN environment
variable.  Stdlib only.  See validation/maestro/README.md for how to build MAESTRO.

Writes one row per (layer, dataflow, PE count, NoC config) to tests/data/maestro_reference.csv,
for the layers of validation/layers.csv and validation/maestro/layers_extra.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LAYERS_CSV = REPO / "validation" / "layers.csv"
# MAESTRO-only families (GEMMs of several shapes, strided 1x1 and 3x3 convs), run on the same grid.
EXTRA_CSV = HERE / "layers_extra.csv"
DEFAULT_OUT = REPO / "tests" / "data" / "maestro_reference.csv"
DEFAULT_INPUTS = HERE / "inputs"

PES = (4096, 256)
# (noc_bw, noc_latency); None = unconstrained.  Every layer runs on the whole grid.
NOC_BWS = (None, 8, 32, 64, 128, 256, 512)
NOC_LATENCIES = (0, 1, 5)
NOC_CONFIGS = tuple((bw, lat) for bw in NOC_BWS for lat in NOC_LATENCIES)
# Stand-in for "unconstrained": MAESTRO reads these fields with atoi() into an int, so it must be
# written as a plain integer (not "1e9", which atoi reads as 1).
HUGE = 1_000_000_000
L1_L2_SIZE = HUGE  # sizes only trigger warnings in MAESTRO; they never change runtime or counts
OFFCHIP_BW = (
    HUGE  # top-level runtime = max(off-chip in/out delay, step delay): keep off-chip out of it
)

# ws: NVDLA-like KCP-WS.  K across clusters, C across 64 lanes inside a cluster.
WS_LANES = 64
# os: ShiDianNao-like YXP-OS.  Output Y across rows (clusters), output X across cols (PEs in a cluster).
OS_COLS = {4096: 64, 256: 16}

# MAESTRO energy constants (cost-model/include/base/BASE_constants.hpp), in units of one MAC.
L1_MULT = 1.68
L2_MULT = 18.61

TENSORS = (("input", "input"), ("filter", "weight"), ("output", "output"))

FIELDS = [
    "layer",
    "kind",
    "dataflow",
    "pes",
    "noc_bw",
    "noc_latency",
    "runtime_cycles",
    "macs",
    "expected_macs",
    "energy_mac_units",
    "energy_mac_units_printed",
]
for _lvl in ("l1", "l2"):
    for _op in ("read", "write"):
        for _, _t in TENSORS:
            FIELDS.append(f"{_lvl}_{_op}_{_t}")
FIELDS += ["ingress_delay_avg", "egress_delay_avg", "compute_delay_avg", "mapping_file", "hw_file"]


def read_layers(path: Path = LAYERS_CSV) -> list[dict]:
    lines = [
        ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    rows = []
    for r in csv.DictReader(lines):
        d = {"name": r["name"], "kind": r["kind"]}
        for k in ("K", "C", "R", "S", "Yo", "Xo", "stride", "N"):
            d[k] = int(r[k])
        rows.append(d)
    return rows


def maestro_dims(L: dict) -> dict:
    """MAESTRO CONV dimensions: Y/X are INPUT sizes."""
    s = L["stride"]
    return {
        "K": L["K"],
        "C": L["C"],
        "R": L["R"],
        "S": L["S"],
        "Y": (L["Yo"] - 1) * s + L["R"],
        "X": (L["Xo"] - 1) * s + L["S"],
        "N": L["N"],
    }


def expected_macs(L: dict) -> int:
    return L["K"] * L["C"] * L["R"] * L["S"] * L["Yo"] * L["Xo"] * L["N"]


def dataflow_ws(L: dict, pes: int) -> list[str]:
    # MAESTRO's kcp_ws example (data/mapping/Resnet50_kcp_ws.m) with the batch loop added innermost.
    assert pes % WS_LANES == 0
    return [
        "SpatialMap(1,1) K;",
        f"TemporalMap({WS_LANES},{WS_LANES}) C;",
        "TemporalMap(Sz(R),Sz(R)) R;",
        "TemporalMap(Sz(S),Sz(S)) S;",
        "TemporalMap(Sz(R),1) Y;",
        "TemporalMap(Sz(S),1) X;",
        "TemporalMap(1,1) N;",
        f"Cluster({WS_LANES}, P);",
        "SpatialMap(1,1) C;",
        "TemporalMap(Sz(R),1) Y;",
        "TemporalMap(Sz(S),1) X;",
        "TemporalMap(Sz(R),Sz(R)) R;",
        "TemporalMap(Sz(S),Sz(S)) S;",
        "TemporalMap(1,1) N;",
    ]


def dataflow_os(L: dict, pes: int) -> list[str]:
    # MAESTRO's yxp_os example (data/mapping/Resnet50_yxp_os.m): output rows across clusters,
    # a tile of `cols` output columns across the PEs of a cluster; batch loop innermost.
    cols = OS_COLS[pes]
    s = L["stride"]
    xmap = (cols - 1) * s + L["S"]  # input columns covering `cols` output columns
    xofs = cols * s  # MAESTRO rewrites size/offset of strided dims anyway (ApplyOuterStride)
    X = maestro_dims(L)["X"]
    if xmap >= X:
        # Single X tile: map the whole input width.  Without this clip MAESTRO returns 0 cycles and
        # 0 MACs when X == xofs < xmap (resnet_l3_3x3 at 256 PEs: X=16, TemporalMap(18,16));
        # in every other single-tile case the clipped and unclipped files give identical output.
        xmap = xofs = X
    return [
        "TemporalMap(1,1) K;",
        "TemporalMap(1,1) C;",
        "SpatialMap(Sz(R),1) Y;",
        f"TemporalMap({xmap},{xofs}) X;",
        "TemporalMap(1,1) N;",
        f"Cluster({cols}, P);",
        "SpatialMap(Sz(S),1) X;",
        "TemporalMap(Sz(R),Sz(R)) R;",
        "TemporalMap(Sz(S),Sz(S)) S;",
        "TemporalMap(1,1) N;",
    ]


def dataflow_os_gemm(L: dict, pes: int) -> list[str]:
    # GEMM on an output-stationary array with M spread over every PE: one spatial level
    # (no Cluster directive: the whole array is the single cluster level), K and C temporal size 1.
    return [
        "TemporalMap(1,1) K;",
        "TemporalMap(1,1) C;",
        "SpatialMap(1,1) Y;",
        "TemporalMap(1,1) X;",
        "TemporalMap(1,1) N;",
        "TemporalMap(Sz(R),Sz(R)) R;",
        "TemporalMap(Sz(S),Sz(S)) S;",
    ]


DATAFLOWS = {"ws": dataflow_ws, "os": dataflow_os, "os_gemm": dataflow_os_gemm}


def mapping_text(L: dict, dataflow: str, pes: int) -> str:
    d = maestro_dims(L)
    s = L["stride"]
    body = "\n".join("\t\t\t" + line for line in DATAFLOWS[dataflow](L, pes))
    dims = ", ".join(f"{k}: {d[k]}" for k in ("N", "K", "C", "R", "S", "Y", "X"))
    return (
        f"// generated by validation/maestro/run_maestro.py: {L['name']} ({L['kind']}), {dataflow}, {pes} PEs\n"
        f"Network {L['name']} {{\n"
        f"\tLayer {L['name']} {{\n"
        f"\t\tType: CONV\n"
        f"\t\tStride {{ X: {s}, Y: {s} }}\n"
        f"\t\tDimensions {{ {dims} }}\n"
        f"\t\tDataflow {{\n{body}\n\t\t}}\n"
        f"\t}}\n"
        f"}}\n"
    )


def hw_name(pes: int, bw, lat: int) -> str:
    return f"hw_p{pes}_bw{'inf' if bw is None else bw}_lat{lat}.m"


def hw_text(pes: int, bw, lat: int) -> str:
    return (
        f"num_pes: {pes}\n"
        f"l1_size_cstr: {L1_L2_SIZE}\n"
        f"l2_size_cstr: {L1_L2_SIZE}\n"
        f"noc_bw_cstr: {HUGE if bw is None else bw}\n"
        f"offchip_bw_cstr: {OFFCHIP_BW}\n"
        f"NoC_NumHops: {lat}\n"
    )


def cases(layers: list[dict]):
    for L in layers:
        dfs = ["ws", "os"] + (["os_gemm"] if L["kind"] == "gemm" else [])
        for df in dfs:
            for pes in PES:
                for bw, lat in NOC_CONFIGS:
                    yield L, df, pes, bw, lat


def mapping_name(L: dict, df: str, pes: int) -> str:
    return f"{L['name']}__{df}__p{pes}.m"


def generate_inputs(layers: list[dict], inputs: Path) -> None:
    (inputs / "hw").mkdir(parents=True, exist_ok=True)
    (inputs / "mapping").mkdir(parents=True, exist_ok=True)
    for pes in PES:
        for bw, lat in NOC_CONFIGS:
            (inputs / "hw" / hw_name(pes, bw, lat)).write_text(hw_text(pes, bw, lat))
    for L in layers:
        dfs = ["ws", "os"] + (["os_gemm"] if L["kind"] == "gemm" else [])
        for df in dfs:
            for pes in PES:
                (inputs / "mapping" / mapping_name(L, df, pes)).write_text(mapping_text(L, df, pes))


_NUM = r"(-?[0-9.eE+\-]+)"


def parse_output(text: str) -> dict:
    """Parse MAESTRO's screen report (PrintAnalysisResultsSingleCluster, top cluster level)."""
    out: dict = {}

    def grab(pattern, cast=int, src=text):
        m = re.search(pattern, src)
        if not m:
            raise ValueError(f"pattern {pattern!r} not found in MAESTRO output")
        return cast(m.group(1)) if cast is not int else int(float(m.group(1)))

    out["macs"] = grab(r"Num MACs: " + _NUM)
    out["runtime_cycles"] = grab(r"Runtime: " + _NUM + " cycles")
    out["energy_mac_units_printed"] = grab(r"Total energy consumption: " + _NUM, float)
    # Per-tensor block of "[Buffer Access Analysis]" (before "[Energy Analysis]").
    access = text.split("[Buffer Access Analysis]", 1)[1].split("[Energy Analysis]", 1)[0]
    for mname, tname in TENSORS:
        m = re.search(r"Tensor " + mname + r"\n(.*?)(?=Tensor |Overall data reuse)", access, re.S)
        if not m:
            raise ValueError(f"tensor {mname} block not found")
        blk = m.group(1)
        out[f"l2_write_{tname}"] = grab(r"L2 buffer write: " + _NUM, src=blk)
        out[f"l2_read_{tname}"] = grab(r"L2 buffer read: " + _NUM, src=blk)
        out[f"l1_write_{tname}"] = grab(r"L1 buffer write: " + _NUM, src=blk)
        out[f"l1_read_{tname}"] = grab(r"L1 buffer read: " + _NUM, src=blk)
    for key, label in (
        ("ingress_delay_avg", "Ingress Delay"),
        ("egress_delay_avg", "Egress Delay"),
        ("compute_delay_avg", "Computation Delay"),
    ):
        m = re.search(label + r"\nMin: " + _NUM + r"\nMax: " + _NUM + r"\nAvg: " + _NUM, text)
        out[key] = m.group(3) if m else ""
    l1 = sum(out[f"l1_{op}_{t}"] for op in ("read", "write") for _, t in TENSORS)
    l2 = sum(out[f"l2_{op}_{t}"] for op in ("read", "write") for _, t in TENSORS)
    # Same formula MAESTRO prints (MACs + 1.68 L1 + 18.61 L2), at full precision.
    out["energy_mac_units"] = round(out["macs"] + L1_MULT * l1 + L2_MULT * l2, 4)
    printed = out["energy_mac_units_printed"]
    if abs(printed - out["energy_mac_units"]) > 1e-5 * max(1.0, abs(printed)):
        raise ValueError(
            f"energy mismatch: printed {printed}, recomputed {out['energy_mac_units']}"
        )
    return out


def run_case(binary: str, mapping: Path, hw: Path, workdir: Path, timeout: float = 600) -> dict:
    # MAESTRO writes <mapping stem>.csv into its working directory: run it in a scratch dir.
    proc = subprocess.run(
        [
            binary,
            f"--HW_file={hw}",
            f"--Mapping_file={mapping}",
            "--print_res=true",
            "--print_res_csv_file=false",
            "--print_log_file=false",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"maestro failed ({proc.returncode}) on {mapping.name} / {hw.name}:\n{proc.stderr[-2000:]}"
        )
    return parse_output(proc.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "maestro_bin",
        nargs="?",
        default=os.environ.get("MAESTRO_BIN"),
        help="path to the maestro binary (default: $MAESTRO_BIN)",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS)
    ap.add_argument(
        "--layers", type=Path, nargs="+", default=[LAYERS_CSV, EXTRA_CSV], help="layer lists"
    )
    ap.add_argument("--gen-only", action="store_true", help="only write the input files")
    args = ap.parse_args(argv)

    layers = [L for path in args.layers for L in read_layers(path)]
    generate_inputs(layers, args.inputs)
    if args.gen_only:
        return 0
    if not args.maestro_bin:
        ap.error("give the maestro binary as an argument or set MAESTRO_BIN")
    binary = str(Path(args.maestro_bin).resolve())

    rows = []
    with tempfile.TemporaryDirectory(prefix="maestro_run_") as tmp:
        for L, df, pes, bw, lat in cases(layers):
            mapping = (args.inputs / "mapping" / mapping_name(L, df, pes)).resolve()
            hw = (args.inputs / "hw" / hw_name(pes, bw, lat)).resolve()
            res = run_case(binary, mapping, hw, Path(tmp))
            row = {
                "layer": L["name"],
                "kind": L["kind"],
                "dataflow": df,
                "pes": pes,
                "noc_bw": "" if bw is None else bw,
                "noc_latency": lat,
                "expected_macs": expected_macs(L),
                "mapping_file": f"mapping/{mapping.name}",
                "hw_file": f"hw/{hw.name}",
            }
            row.update(res)
            rows.append(row)
            print(
                f"{L['name']:18s} {df:8s} {pes:5d} bw={row['noc_bw'] or 'inf':>4} lat={lat} "
                f"cycles={res['runtime_cycles']:>12} macs={res['macs']:>12} exp={row['expected_macs']:>12}",
                flush=True,
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
