#!/usr/bin/env python3
"""Generate SCALE-Sim v3 reference cycle counts for validation/layers.csv.

Run with the python of a virtual environment that has SCALE-Sim installed
(see README.md in this folder), from anywhere:

    /work/tools/scalesim-venv/bin/python validation/scalesim/run_scalesim.py

What it does:
  1. writes our own config files (32x32 array, ws and os dataflows, CALC
     bandwidth mode, large SRAMs) and one topology file per layer under
     validation/scalesim/inputs/;
  2. runs SCALE-Sim once per (layer, dataflow) in a separate process
     (traces are not saved), results go to validation/scalesim/results/
     (not meant to be committed);
  3. parses each COMPUTE_REPORT.csv and writes tests/data/scalesim_reference.csv
     together with the closed-form prediction of our design (formula_cycles).

GEMM rows (kind=gemm) are run as a 1x1 convolution (the reference numbers) and,
additionally, through SCALE-Sim's own M,N,K GEMM topology format; the two are
compared and the comparison is written to results/gemm_format_check.csv.

Batch N>1 is folded into the output rows: the layer is run with
Yo' = N*Yo output rows, i.e. IFMAP_H = (N*Yo-1)*stride + R, which gives exactly
N*Yo*Xo output pixels with the same R, S, C, K (same GEMM shape).
"""

import argparse
import csv
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
LAYERS_CSV = os.path.join(REPO, "validation", "layers.csv")
INPUTS = os.path.join(HERE, "inputs")
RESULTS = os.path.join(HERE, "results")
OUT_CSV = os.path.join(REPO, "tests", "data", "scalesim_reference.csv")

ARRAY_ROWS = 32
ARRAY_COLS = 32
DATAFLOWS = ["ws", "os"]
# Large SRAMs (kB); with InterfaceBandwidth = CALC SCALE-Sim sizes the DRAM
# bandwidth so that there are no stalls anyway.
SRAM_KB = 65536

CONFIG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   {sram}
FilterSramSzkB:  {sram}
OfmapSramSzkB:   {sram}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {df}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
    "Channels, Num Filter, Strides,\n"
)
GEMM_HEADER = "Layer Name, M, N, K,\n"
# SCALE-Sim always opens a layout file; it is only used when
# IfmapCustomLayout/FilterCustomLayout are True (they are False here), so a
# header-only file is enough.
LAYOUT_HEADER = (
    "Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, "
    "Filter Height Intraline Factor, Filter Width Intraline Factor, "
    "Channel Intraline Factor, Num Filter Intraline Factor, "
    "IFMAP Height Intraline Order, IFMAP Width Intraline Order, "
    "Channel Intraline Order, IFMAP Height Interline Order, "
    "IFMAP Width Interline Order, Channel Interline Order, "
    "Num Filter Intraline Order, Channel Intraline Order, "
    "Filter Height Intraline Order, Filter Width Intraline Order, "
    "Num Filter Interline Order, Channel Interline Order, "
    "Filter Height Interline Order, Filter Width Interline Order,\n"
)


def read_layers():
    with open(LAYERS_CSV) as f:
        lines = [l for l in f if l.strip() and not l.lstrip().startswith("#")]
    layers = []
    for r in csv.DictReader(lines):
        d = {"name": r["name"].strip(), "kind": r["kind"].strip()}
        for k in ["K", "C", "R", "S", "Yo", "Xo", "stride", "N"]:
            d[k] = int(r[k])
        layers.append(d)
    return layers


def conv_topology_row(L):
    """SCALE-Sim conv row: IFMAP sizes are INPUT sizes; batch folded into rows."""
    yo = L["Yo"] * L["N"]
    ifmap_h = (yo - 1) * L["stride"] + L["R"]
    ifmap_w = (L["Xo"] - 1) * L["stride"] + L["S"]
    return [L["name"], ifmap_h, ifmap_w, L["R"], L["S"], L["C"], L["K"], L["stride"]]


def gemm_topology_row(L):
    """SCALE-Sim M,N,K row: M = Yo (output rows), N = K column, K = C column."""
    return [L["name"] + "_mnk", L["Yo"] * L["Xo"] * L["N"], L["K"], L["C"] * L["R"] * L["S"]]


def write_inputs(layers):
    os.makedirs(INPUTS, exist_ok=True)
    for df in DATAFLOWS:
        with open(os.path.join(INPUTS, "systolic_32x32_%s.cfg" % df), "w") as f:
            f.write(
                CONFIG_TEMPLATE.format(
                    run_name="run", rows=ARRAY_ROWS, cols=ARRAY_COLS, sram=SRAM_KB, df=df
                )
            )
    with open(os.path.join(INPUTS, "layout_default.csv"), "w") as f:
        f.write(LAYOUT_HEADER)
    jobs = []
    # all layers in one file too, for reference / manual runs
    with open(os.path.join(INPUTS, "topology_all_conv.csv"), "w") as fall:
        fall.write(CONV_HEADER)
        for L in layers:
            row = ", ".join(str(x) for x in conv_topology_row(L)) + ",\n"
            fall.write(row)
            p = os.path.join(INPUTS, "topo_%s.csv" % L["name"])
            with open(p, "w") as f:
                f.write(CONV_HEADER + row)
            for df in DATAFLOWS:
                jobs.append((L["name"], df, p, "conv"))
    with open(os.path.join(INPUTS, "topology_all_gemm_mnk.csv"), "w") as fall:
        fall.write(GEMM_HEADER)
        for L in layers:
            if L["kind"] != "gemm":
                continue
            row = ", ".join(str(x) for x in gemm_topology_row(L)) + ",\n"
            fall.write(row)
            p = os.path.join(INPUTS, "topo_%s_mnk.csv" % L["name"])
            with open(p, "w") as f:
                f.write(GEMM_HEADER + row)
            for df in DATAFLOWS:
                jobs.append((L["name"] + "_mnk", df, p, "gemm"))
    return jobs


def run_one(cfg, topo, outdir, kind):
    """Worker: run one SCALE-Sim simulation (called in a subprocess)."""
    from scalesim.scale_sim import scalesim

    s = scalesim(
        save_disk_space=True,
        verbose=False,
        config=cfg,
        topology=topo,
        layout=os.path.join(INPUTS, "layout_default.csv"),
        input_type_gemm=(kind == "gemm"),
    )
    s.run_scale(top_path=outdir)


def report_path(name, df):
    return os.path.join(RESULTS, "%s_%s" % (name, df), "run", "COMPUTE_REPORT.csv")


def launch(job, force, timeout=None):
    name, df, topo, kind = job
    rep = report_path(name, df)
    if os.path.exists(rep) and not force:
        return name, df, 0, "cached"
    outdir = os.path.join(RESULTS, "%s_%s" % (name, df))
    os.makedirs(outdir, exist_ok=True)
    cfg = os.path.join(INPUTS, "systolic_32x32_%s.cfg" % df)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", cfg, topo, outdir, kind]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return name, df, "timeout", "killed after %s s" % timeout
    with open(os.path.join(outdir, "log.txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    return name, df, r.returncode, r.stderr[-2000:]


def parse_report(path):
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    vals = [v.strip() for v in lines[1].split(",")]
    d = dict(zip(header, vals))
    return {
        "total_cycles_incl_prefetch": int(float(d["Total Cycles (incl. prefetch)"])),
        "cycles": int(float(d["Total Cycles"])),
        "stall_cycles": int(float(d["Stall Cycles"])),
        "overall_util": float(d["Overall Util %"]),
        "mapping_eff": float(d["Mapping Efficiency %"]),
        "compute_util": float(d["Compute Util %"]),
    }


def formula(L, df, Ra=ARRAY_ROWS, Ca=ARRAY_COLS):
    """Closed forms of our design (see task brief)."""
    P = L["Yo"] * L["Xo"] * L["N"]  # output pixels
    RSC = L["R"] * L["S"] * L["C"]
    if df == "ws":
        row_dim, col_dim, T = RSC, L["K"], P
        per_fold = 2 * Ra + Ca + T - 2
    else:
        row_dim, col_dim, T = P, L["K"], RSC
        per_fold = 2 * Ra + T - 2
    folds = math.ceil(row_dim / Ra) * math.ceil(col_dim / Ca)
    return folds, folds * per_fold - 1


# Small layers run on non-square arrays, to tell R_a from C_a in the per-fold
# cost (the 32x32 reference runs cannot distinguish them).
ASPECT_ARRAYS = [(16, 64), (64, 16), (8, 32)]
ASPECT_LAYERS = ["resnet_l1_1x1", "gpt2l_qk", "resnet_l4_3x3"]


def aspect_check(njobs):
    layers = {L["name"]: L for L in read_layers()}
    write_inputs(list(layers.values()))
    adir = os.path.join(INPUTS, "aspect_check")
    os.makedirs(adir, exist_ok=True)
    jobs = []
    for ra, ca in ASPECT_ARRAYS:
        for df in DATAFLOWS:
            cfg = os.path.join(adir, "systolic_%dx%d_%s.cfg" % (ra, ca, df))
            with open(cfg, "w") as f:
                f.write(
                    CONFIG_TEMPLATE.format(run_name="run", rows=ra, cols=ca, sram=SRAM_KB, df=df)
                )
            for name in ASPECT_LAYERS:
                topo = os.path.join(INPUTS, "topo_%s.csv" % name)
                outdir = os.path.join(RESULTS, "aspect_check", "%s_%dx%d_%s" % (name, ra, ca, df))
                jobs.append((name, ra, ca, df, cfg, topo, outdir))

    def go(j):
        name, ra, ca, df, cfg, topo, outdir = j
        os.makedirs(outdir, exist_ok=True)
        subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--worker", cfg, topo, outdir, "conv"],
            capture_output=True,
            text=True,
            check=True,
        )
        return j

    rows = []
    with ThreadPoolExecutor(max_workers=njobs) as ex:
        for name, ra, ca, df, _cfg, _topo, outdir in ex.map(go, jobs):
            r = parse_report(os.path.join(outdir, "run", "COMPUTE_REPORT.csv"))
            L = layers[name]
            folds, brief = formula(L, df, ra, ca)
            P = L["Yo"] * L["Xo"] * L["N"]
            RSC = L["R"] * L["S"] * L["C"]
            T = P if df == "ws" else RSC
            # SCALE-Sim source: ws per fold 2*Ra+Ca+T-2, os per fold Ra+Ca+T-2
            per_fold = (2 * ra + ca + T - 2) if df == "ws" else (ra + ca + T - 2)
            rows.append(
                {
                    "layer": name,
                    "dataflow": "systolic-" + df,
                    "array_rows": ra,
                    "array_cols": ca,
                    "cycles": r["cycles"],
                    "stall_cycles": r["stall_cycles"],
                    "folds": folds,
                    "brief_formula_cycles": brief,
                    "rule_cycles": folds * per_fold - 1,
                    "brief_match": int(brief == r["cycles"]),
                    "rule_match": int(folds * per_fold - 1 == r["cycles"]),
                }
            )
    p = os.path.join(RESULTS, "aspect_check.csv")
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print(r)
    print("wrote", p)


def main():
    global SRAM_KB, RESULTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4, metavar=("CFG", "TOPO", "OUTDIR", "KIND"))
    ap.add_argument("--jobs", type=int, default=2, help="parallel SCALE-Sim processes")
    ap.add_argument("--force", action="store_true", help="rerun even if a report exists")
    ap.add_argument("--only", default="", help="comma separated layer names")
    ap.add_argument("--skip", default="", help="comma separated layer names not to run")
    ap.add_argument(
        "--timeout", type=float, default=None, help="seconds per SCALE-Sim run (default: none)"
    )
    ap.add_argument(
        "--sram-kb", type=int, default=SRAM_KB, help="size of each SRAM in kB (%(default)s)"
    )
    ap.add_argument("--results", default=RESULTS, help="results folder (%(default)s)")
    ap.add_argument(
        "--aspect-check",
        action="store_true",
        help="only run the small non-square-array check (results/aspect_check.csv)",
    )
    args = ap.parse_args()
    SRAM_KB, RESULTS = args.sram_kb, os.path.abspath(args.results)
    if args.worker:
        run_one(*args.worker)
        return
    if args.aspect_check:
        aspect_check(args.jobs)
        return

    layers = read_layers()
    jobs = write_inputs(layers)
    if args.only:
        keep = set(args.only.split(","))
        jobs = [j for j in jobs if j[0] in keep or j[0].replace("_mnk", "") in keep]
    if args.skip:
        drop = set(args.skip.split(","))
        jobs = [j for j in jobs if j[0].replace("_mnk", "") not in drop]
    # smallest first (SCALE-Sim's run time grows faster than linearly with the
    # number of folds, the biggest layers take tens of minutes)
    sizes = {
        L["name"]: L["Yo"] * L["Xo"] * L["N"] * L["R"] * L["S"] * L["C"] * L["K"] for L in layers
    }
    jobs.sort(key=lambda j: sizes[j[0].replace("_mnk", "")])
    os.makedirs(RESULTS, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for name, df, rc, msg in ex.map(lambda j: launch(j, args.force, args.timeout), jobs):
            print("%-22s %s rc=%s %s" % (name, df, rc, "" if rc == 0 else msg), flush=True)

    out_rows = []
    mism = []
    for L in layers:
        for df in DATAFLOWS:
            rep = report_path(L["name"], df)
            if not os.path.exists(rep):
                print("missing report", rep)
                continue
            r = parse_report(rep)
            folds, fc = formula(L, df)
            out_rows.append(
                {
                    "layer": L["name"],
                    "dataflow": "systolic-" + df,
                    "array_rows": ARRAY_ROWS,
                    "array_cols": ARRAY_COLS,
                    "cycles": r["cycles"],
                    "stall_cycles": r["stall_cycles"],
                    "compute_util": "%.4f" % r["compute_util"],
                    "mapping_eff": "%.4f" % r["mapping_eff"],
                    "overall_util": "%.4f" % r["overall_util"],
                    "folds": folds,
                    "formula_cycles": fc,
                    "formula_match": int(fc == r["cycles"]),
                }
            )
            if fc != r["cycles"]:
                mism.append((L["name"], df, r["cycles"], fc))
    os.makedirs(os.path.dirname(OUT_CSV), exist_ok=True)
    with open(OUT_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out_rows[0].keys()))
        w.writeheader()
        w.writerows(out_rows)
    print("wrote", OUT_CSV, len(out_rows), "rows")
    print("formula mismatches:", mism if mism else "none")

    # GEMM: 1x1-conv encoding vs SCALE-Sim's M,N,K format
    chk = []
    for L in layers:
        if L["kind"] != "gemm":
            continue
        for df in DATAFLOWS:
            a, b = report_path(L["name"], df), report_path(L["name"] + "_mnk", df)
            if os.path.exists(a) and os.path.exists(b):
                ra, rb = parse_report(a), parse_report(b)
                chk.append(
                    {
                        "layer": L["name"],
                        "dataflow": df,
                        "conv1x1_cycles": ra["cycles"],
                        "mnk_cycles": rb["cycles"],
                        "conv1x1_mapping_eff": ra["mapping_eff"],
                        "mnk_mapping_eff": rb["mapping_eff"],
                        "agree": int(ra["cycles"] == rb["cycles"]),
                    }
                )
    if chk:
        p = os.path.join(RESULTS, "gemm_format_check.csv")
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(chk[0].keys()))
            w.writeheader()
            w.writerows(chk)
        print(
            "GEMM conv1x1 vs MNK:",
            "all agree" if all(c["agree"] for c in chk) else [c for c in chk if not c["agree"]],
        )


if __name__ == "__main__":
    main()
