"""Mutation check of the hand-worked tests: does every constant and every term of the schedule
evaluators matter to some test?

A standalone script, not collected by pytest (no ``test_`` prefix). For every constant in
``costmodel/constants.py`` (scaled by 2) and for every source-level mutant listed in ``MUTANTS``
below (a term of ``costmodel/evaluate.py``, ``costmodel/batch.py``, ``costmodel/numba_batch.py``
or the numba kernel's tables in ``costmodel/compiled.py`` doubled, dropped, or its max turned
into a sum), it runs a focused pytest subset in a temporary copy of the repository, with
``-x -q``, and records whether the mutant is caught (pytest exits non-zero). Nothing in the
repository is modified.

    python tests/mutation_check.py                 # the working tree, 2 jobs
    python tests/mutation_check.py --source HEAD --overlay tests/test_hand_worked.py
                                                   # the last commit, with the working tree's
                                                   # version of a file (repeatable)
    python tests/mutation_check.py --list          # the mutants, without running them
    python tests/mutation_check.py --only flow     # only mutants whose id contains "flow"

The subset: ``tests/test_hand_worked.py`` and ``tests/test_exactness.py`` (when it exists) for
the source mutants; ``tests/test_hand_worked.py`` and the per-layer reference tests
(``tests/test_cost.py``, ``tests/test_maestro_reference.py``, ``tests/test_scalesim_reference.py``)
for the constants (test_exactness compares the evaluators with each other, so a constant they all
read cannot change its verdict). The unmutated copy must pass all of them first.

Isolation: each mutant runs in a fresh copy under a temporary directory, from that directory,
with ``PYTHONPATH`` pointing at it (so the copy's packages come before the editable install that
points at the original checkout), ``-p no:cacheprovider`` and ``PYTHONDONTWRITEBYTECODE=1``
(no ``.pyc`` can go stale between two mutants of one file). numba caches compiled kernels
(``cache=True``) by source path and stamp: a mutant of ``numba_batch.py`` or ``compiled.py``
(whose constants the kernel freezes) gets a fresh, empty ``NUMBA_CACHE_DIR``; every other mutant
shares one cache per worker (its numba source is byte- and stamp-identical). Before the mutants,
three sanity runs must pass: the unmutated copy passes, a canary that makes ``costmodel`` raise
on import is caught (the copy is what is imported), and a canary that triples the latency in the
numba kernel is caught after the unmutated kernel was cached (mutated kernels are recompiled).

Output: one line per mutant, then ``mutation check: N mutants, N caught, 0 survived``; exit 1 if
any mutant survived, 2 if the check itself could not run (a mutant no longer applies to the
source, the unmutated copy fails, a canary survives).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EVALUATOR_TESTS = ["tests/test_hand_worked.py", "tests/test_exactness.py"]  # fast one first
#: per-model latency mutants: its hand-worked cases and the four evaluators' agreement (files,
#: not node ids: run_mutant keeps only the paths that are files)
TARGET_TESTS = ["tests/test_targets.py"]
PER_LAYER_TESTS = [
    "tests/test_cost.py",
    "tests/test_maestro_reference.py",
    "tests/test_scalesim_reference.py",
]
#: for the constants: the per-layer reference tests hold the per-layer constants; not
#: tests/test_exactness.py, which compares the evaluators with each other (a constant they all
#: read cannot change its verdict) and is the slowest
CONSTANT_TESTS = ["tests/test_hand_worked.py", *PER_LAYER_TESTS]
#: files whose mutants need a fresh numba cache (the kernel, and the module whose column
#: constants the kernel freezes at compile time)
NUMBA_FILES = {"costmodel/numba_batch.py", "costmodel/compiled.py"}

#: constants a doubled value is expected NOT to change any figure, and why. Each still runs: if
#: it is caught, the exclusion is stale and the check says so (and fails).
EXCLUDED_CONSTANTS = {
    "L1_BYTES": "no model reads it: ChipletClass.l1_bytes is only validated (constants.py: "
    "'bounds nothing yet')",
    "PES_ARVR": "no code reads it: AR/VR chiplets are built with an explicit PE count "
    "(ChipletClass.with_pes(df, 256), mcm(pes=256))",
}


@dataclass
class Mutant:
    id: str
    file: str  # repository-relative
    what: str
    old: str = ""  # exact source text, must occur exactly once
    new: str = ""
    append: str = ""  # or: text put after the file's last line
    tests: list[str] = field(default_factory=lambda: list(EVALUATOR_TESTS))
    excluded: str = ""  # expected to survive, with the reason
    expect: str = ""  # canaries: text the failing run's output must show


def m(id_, file, what, old, new):
    return Mutant(id_, file, what, old, new)


EV, BA, NB, CO, SI = (
    "costmodel/evaluate.py",
    "costmodel/batch.py",
    "costmodel/numba_batch.py",
    "costmodel/compiled.py",
    "costmodel/simulate.py",
)

# Terms of the evaluators, from the code of the "Exact evaluator" commit. Each ``old`` must occur
# exactly once in its file; when the code changes, the check stops (exit 2) and names the mutant.
# fmt: off
MUTANTS = [
    # ---- reference evaluator (costmodel/evaluate.py) -------------------------------------------
    m("ref-dram-bytes-x2", EV, "DRAM transfer: bytes / dram_bw doubled",
      "t[g] += nbytes / cp.dram_bw + (dram_fixed",
      "t[g] += 2 * nbytes / cp.dram_bw + (dram_fixed"),
    m("ref-dram-fixed-no-hops", EV, "DRAM fixed cost: hops to the edge x hop latency dropped",
      "return cp.dram_latency_s + cp.dram_hops[c] * cp.nop_hop_s",
      "return cp.dram_latency_s"),
    m("ref-dram-latency-x2", EV, "DRAM fixed cost: DRAM latency doubled",
      "return cp.dram_latency_s + cp.dram_hops[c] * cp.nop_hop_s",
      "return 2 * cp.dram_latency_s + cp.dram_hops[c] * cp.nop_hop_s"),
    m("ref-dram-hop-energy", EV, "DRAM traffic: NoP energy of the hops to the edge dropped",
      "hop_b[g] += nbytes * cp.dram_hops[C[g]]", "hop_b[g] += 0.0"),
    m("ref-dram-route-links", EV, "DRAM traffic: left off the links to the edge",
      "for lk in mcm.dram_route(int(C[g])):\n            links[g][lk] += nbytes",
      "for lk in mcm.dram_route(int(C[g])):\n            links[g][lk] += 0.0"),
    m("ref-nop-bytes-x2", EV, "NoP transfer: bytes / nop_bw doubled",
      "t[b] += nbytes / cp.nop_bw + hops * cp.nop_hop_s",
      "t[b] += 2 * nbytes / cp.nop_bw + hops * cp.nop_hop_s"),
    m("ref-nop-no-hop-latency", EV, "NoP transfer: hop latency dropped",
      "t[b] += nbytes / cp.nop_bw + hops * cp.nop_hop_s", "t[b] += nbytes / cp.nop_bw"),
    m("ref-nop-energy-no-hops", EV, "NoP energy: bits not multiplied by hops",
      "hop_b[b] += nbytes * hops", "hop_b[b] += nbytes"),
    m("ref-nop-links-x2", EV, "NoP link load doubled",
      "links[b][lk] += nbytes", "links[b][lk] += 2 * nbytes"),
    m("ref-xwin-write-at-consumer-mb", EV,
      "cross-window edge: the producer writes at the consumer's micro-batch",
      "via_dram(a, cp.out_ps[a] * bp[a])", "via_dram(a, cp.out_ps[a] * bp[b])"),
    m("ref-xwin-no-read", EV, "cross-window edge: the consumer's DRAM read dropped",
      "via_dram(b, cp.out_ps[a] * bp[b])", "None"),
    m("ref-no-skips", EV, "skip edges ignored",
      "edges += list(zip(cp.skip_src.tolist(), cp.skip_dst.tolist()))", "edges += []"),
    m("ref-input-one-sample", EV, "model input read for one sample, not the micro-batch",
      "via_dram(g, cp.in_ps[g] * bp[g])", "via_dram(g, cp.in_ps[g])"),
    m("ref-spill-x2", EV, "spill: 2 x spill (out and back) doubled",
      "via_dram(g, 2 * spill[g], fixed=False)",
      "via_dram(g, 4 * spill[g], fixed=False)"),
    m("ref-spill-fixed-cost", EV, "spill: pays the DRAM fixed cost",
      "via_dram(g, 2 * spill[g], fixed=False)",
      "via_dram(g, 2 * spill[g], fixed=True)"),
    m("ref-spill-room-all-l2", EV, "spill: room ignores the resident weights",
      "room = np.maximum(cp.l2[cls] - np.where(fits, resident[Wn, C], 0.0), 0.0)",
      "room = cp.l2[cls]"),
    m("ref-fit-per-layer", EV, "residency: decided per layer, not per (window, chiplet)",
      "fits = resident[Wn, C] <= cp.l2[cls]", "fits = cp.w_bytes <= cp.l2[cls]"),
    m("ref-wload-bytes-x2", EV, "weight load: bytes / dram_bw doubled",
      "wtime = wload / cp.dram_bw + dram_fixed(c)",
      "wtime = 2 * wload / cp.dram_bw + dram_fixed(c)"),
    m("ref-wload-no-fixed", EV, "weight load: DRAM fixed cost dropped",
      "wtime = wload / cp.dram_bw + dram_fixed(c)", "wtime = wload / cp.dram_bw"),
    m("ref-reload-time-dropped", EV, "non-resident weights: no reload time per micro-batch",
      "t_mb += wtime", "t_mb += 0.0"),
    m("ref-reload-bytes-once", EV, "non-resident weights: DRAM bytes once per window",
      "d_mb += wload", "d_once += wload"),
    m("ref-flow-loads-overlap", EV, "flow shop: a chiplet's loads overlap (max, not sum)",
      "free[st.chiplet] += st.weight_load_once_s",
      "free[st.chiplet] = max(free[st.chiplet], st.weight_load_once_s)"),
    m("ref-flow-no-loads", EV, "flow shop: loads take no time",
      "free[st.chiplet] += st.weight_load_once_s", "free[st.chiplet] += 0.0"),
    m("ref-flow-max-to-sum", EV, "flow shop: max(ready, free) turned into ready + free",
      "finish[k] = max(ready, free[st.chiplet]) + st.time_per_micro_batch_s",
      "finish[k] = ready + free[st.chiplet] + st.time_per_micro_batch_s"),
    m("ref-flow-no-precedence", EV, "flow shop: run(s, j) does not wait for run(s - 1, j)",
      "ready = finish[k - 1] if same_group else 0.0", "ready = 0.0"),
    m("ref-flow-precedence-across-models", EV,
      "flow shop: a model's first stage waits for the previous model's last",
      "same_group = k > 0 and stages[k - 1].model_index == st.model_index",
      "same_group = k > 0"),
    m("ref-window-no-dram-bound", EV, "window latency: DRAM bound dropped",
      "win.append(max(span, dram_w / cp.dram_bw, lmax / cp.nop_bw))",
      "win.append(max(span, lmax / cp.nop_bw))"),
    m("ref-window-no-link-bound", EV, "window latency: link bound dropped",
      "win.append(max(span, dram_w / cp.dram_bw, lmax / cp.nop_bw))",
      "win.append(max(span, dram_w / cp.dram_bw))"),
    m("ref-window-dram-bytes-once", EV, "window DRAM bytes: per-micro-batch bytes not x n_mb",
      "dram_w += k * st.dram_bytes_per_micro_batch + st.dram_bytes_once",
      "dram_w += st.dram_bytes_per_micro_batch + st.dram_bytes_once"),
    m("ref-window-link-bytes-once", EV, "window link bytes: per-micro-batch bytes not x n_mb",
      "link_w[lk] += k * v", "link_w[lk] += v"),
    m("ref-busy-no-loads", EV, "chiplet busy time: loads left out",
      "busy[st.chiplet] += k * st.time_per_micro_batch_s + st.weight_load_once_s",
      "busy[st.chiplet] += k * st.time_per_micro_batch_s"),
    m("ref-e-dram-x2", EV, "DRAM energy doubled",
      "e_dram = dram_total * 8 * cp.dram_pj_per_bit * PJ",
      "e_dram = dram_total * 16 * cp.dram_pj_per_bit * PJ"),
    m("ref-e-nop-x2", EV, "NoP energy doubled",
      "e_nop = hop_total * 8 * cp.nop_pj_per_bit * PJ",
      "e_nop = hop_total * 16 * cp.nop_pj_per_bit * PJ"),
    m("ref-e-compute-once", EV, "compute energy not x n_mb",
      "e_comp = float((e_layer * nmb).sum())", "e_comp = float(e_layer.sum())"),
    m("ref-e-hops-once", EV, "NoP energy of per-micro-batch transfers not x n_mb",
      "hop_total += round(nmb[a]) * h_mb + h_once", "hop_total += h_mb + h_once"),
    m("ref-period-no-dram", EV, "throughput period: DRAM left out",
      "        dram_total / cp.dram_bw,\n        max(link_total.values()",
      "        max(link_total.values()"),
    m("ref-period-no-links", EV, "throughput period: links left out",
      "        max(link_total.values(), default=0.0) / cp.nop_bw,\n    )", "    )"),
    # ---- numpy batch evaluator (costmodel/batch.py) ---------------------------------------------
    m("np-io-dram-bytes-x2", BA, "model input/output: bytes / dram_bw doubled",
      "extra[:, sel] += nb / cp.dram_bw + dram_t[:, sel]",
      "extra[:, sel] += 2 * nb / cp.dram_bw + dram_t[:, sel]"),
    m("np-dram-fixed-no-hops", BA, "DRAM fixed cost: hops to the edge dropped",
      "dram_t = cp.dram_latency_s + dhop * hop_s", "dram_t = cp.dram_latency_s + 0.0 * dhop"),
    m("np-chain-nop-no-hop-latency", BA, "chain NoP transfer: hop latency dropped",
      "np.where(nop, nb / cp.nop_bw + hops * hop_s, 0.0)", "np.where(nop, nb / cp.nop_bw, 0.0)"),
    m("np-chain-nop-bytes-x2", BA, "chain NoP transfer: bytes / nop_bw doubled",
      "np.where(nop, nb / cp.nop_bw + hops * hop_s, 0.0)",
      "np.where(nop, 2 * nb / cp.nop_bw + hops * hop_s, 0.0)"),
    m("np-chain-nop-energy-no-hops", BA, "chain NoP energy: bits not x hops",
      "e_hop_bytes = (nop_bytes * hops).sum(axis=1)", "e_hop_bytes = nop_bytes.sum(axis=1)"),
    m("np-skip-nop-no-hop-latency", BA, "skip NoP transfer: hop latency dropped",
      "np.where(snop, nb_s / cp.nop_bw + h * hop_s, 0.0)",
      "np.where(snop, nb_s / cp.nop_bw, 0.0)"),
    m("np-skip-nop-energy-no-hops", BA, "skip NoP energy: bits not x hops",
      "e_hop_bytes += (sb * h).sum(axis=1)", "e_hop_bytes += sb.sum(axis=1)"),
    m("np-xwin-write-at-consumer-mb", BA,
      "cross-window chain edge: the producer writes at the consumer's micro-batch",
      "wr = out_prev * bp[:, :-1]", "wr = out_prev * bp[:, 1:]"),
    m("np-spill-time-x2", BA, "spill time: 2 x spill doubled",
      "extra += 2 * spill / cp.dram_bw", "extra += 4 * spill / cp.dram_bw"),
    m("np-spill-bytes-half", BA, "spill DRAM bytes: out only, not back",
      "dram_l += 2 * spill * nmb", "dram_l += spill * nmb"),
    m("np-fit-per-layer", BA, "residency decided per layer",
      "fits = resident <= l2", "fits = wb <= l2"),
    m("np-spill-room-all-l2", BA, "spill room ignores the resident weights",
      "room = np.maximum(l2 - np.where(fits, resident, 0.0), 0.0)", "room = l2"),
    m("np-wload-no-fixed", BA, "weight load: DRAM fixed cost dropped",
      "s_wt = np.where(s_wb > 0, s_wb / cp.dram_bw + dram_t[fp, fl], 0.0)",
      "s_wt = np.where(s_wb > 0, s_wb / cp.dram_bw, 0.0)"),
    m("np-reload-bytes-once", BA, "reloaded weights: DRAM bytes once per window",
      "np.where(s_fit, s_wb, s_wb * s_nmb)", "np.where(s_fit, s_wb, s_wb)"),
    m("np-dram-hop-energy", BA, "DRAM traffic: NoP energy of the hops to the edge dropped",
      "e_hop_bytes += (dram_l * dhop).sum(axis=1)", "e_hop_bytes += 0.0"),
    m("np-flow-max-to-sum", BA, "flow shop: max(ready, free) turned into a sum",
      "f = np.maximum(np.where(FIRST[:, k], 0.0, fin), old) + T[:, k]",
      "f = np.where(FIRST[:, k], 0.0, fin) + old + T[:, k]"),
    m("np-flow-no-precedence", BA, "flow shop: no wait for the stage before",
      "f = np.maximum(np.where(FIRST[:, k], 0.0, fin), old) + T[:, k]",
      "f = np.maximum(0.0, old) + T[:, k]"),
    m("np-flow-no-loads", BA, "flow shop: loads take no time",
      "free[: P * slots] = np.bincount(s_wc, s_once, minlength=P * slots)",
      "free[: P * slots] = 0.0"),
    m("np-window-no-dram-bound", BA, "window latency: DRAM bound dropped",
      "[makespan, dram / cp.dram_bw, link_max.reshape(P, W) / cp.nop_bw]",
      "[makespan, link_max.reshape(P, W) / cp.nop_bw]"),
    m("np-window-no-link-bound", BA, "window latency: link bound dropped",
      "[makespan, dram / cp.dram_bw, link_max.reshape(P, W) / cp.nop_bw]",
      "[makespan, dram / cp.dram_bw]"),
    m("np-e-dram-x2", BA, "DRAM energy doubled",
      "e_dram = total_dram * 8 * cp.dram_pj_per_bit * PJ",
      "e_dram = total_dram * 16 * cp.dram_pj_per_bit * PJ"),
    m("np-e-compute-once", BA, "compute energy not x n_mb",
      "e_comp = (cp.e.ravel()[lidx] * nmb).sum(axis=1)",
      "e_comp = cp.e.ravel()[lidx].sum(axis=1)"),
    m("np-dram-route-west", BA, "DRAM route links: west-bound traffic dropped",
      "h[:, 1] += np.cumsum(west[..., ::-1], axis=2)[..., ::-1][..., 1:]", "h[:, 1] += 0.0"),
    m("np-dram-route-east", BA, "DRAM route links: east-bound traffic dropped",
      "h[:, 0] += np.cumsum(east, axis=2)[..., : Cn - 1]", "h[:, 0] += 0.0"),
    m("np-busy-no-loads", BA, "chiplet busy time: loads left out",
      "(nmb * t_full + once).ravel()", "(nmb * t_full).ravel()"),
    m("np-period-no-dram", BA, "throughput period: DRAM left out",
      "            total_dram / cp.dram_bw,\n", ""),
    # ---- numba batch evaluator (costmodel/numba_batch.py) --------------------------------------
    m("nb-input-no-fixed", NB, "model input: DRAM fixed cost dropped",
      "ex += lo[U(li), LO_IN_T] + ch_dram_t[U(c)]", "ex += lo[U(li), LO_IN_T]"),
    m("nb-chain-nop-no-hop-latency", NB, "chain NoP transfer: hop latency dropped",
      "ex += lo[U(li), LO_CH_NOP_T] + h * hop_s if nop else 0.0",
      "ex += lo[U(li), LO_CH_NOP_T] if nop else 0.0"),
    m("nb-skip-nop-no-hop-latency", NB, "skip NoP transfer: hop latency dropped",
      "Ex[U(b)] += sk[ei, SK_NOP_T] + h * hop_s if snop else 0.0",
      "Ex[U(b)] += sk[ei, SK_NOP_T] if snop else 0.0"),
    m("nb-chain-nop-energy-no-hops", NB, "chain NoP energy: bits not x hops",
      "t_nop = tot if nop else 0.0\n                hop_nop += t_nop * h",
      "t_nop = tot if nop else 0.0\n                hop_nop += t_nop"),
    m("nb-skip-nop-energy-no-hops", NB, "skip NoP energy: bits not x hops",
      "t_nop = tot if snop else 0.0\n            hop_nop += t_nop * h",
      "t_nop = tot if snop else 0.0\n            hop_nop += t_nop"),
    m("nb-xwin-read-no-fixed", NB, "cross-window chain read: DRAM fixed cost dropped",
      "ex += lo[U(li), LO_CH_RD_T] + ch_dram_t[U(c)]", "ex += lo[U(li), LO_CH_RD_T]"),
    m("nb-xwin-no-write", NB, "cross-window chain edge: the producer's write time dropped",
      "Ex[U(l - 1)] += lo[pli, LO_OUT_T] + ch_dram_t[U(pc)]", "Ex[U(l - 1)] += 0.0"),
    m("nb-spill-time-x2", NB, "spill time: 2 x spill doubled",
      "tf = Ts[l] + (Ex[l] + 2 * sp / dram_bw)", "tf = Ts[l] + (Ex[l] + 4 * sp / dram_bw)"),
    m("nb-spill-bytes-half", NB, "spill DRAM bytes: out only, not back",
      "dl = (Dl[l] + 2 * sp * nmb)", "dl = (Dl[l] + sp * nmb)"),
    m("nb-fit-per-layer", NB, "residency decided per layer",
      "fits = res <= l2", "fits = w_bytes[l] <= l2"),
    m("nb-wload-no-fixed", NB, "weight load: DRAM fixed cost dropped",
      "swt = swb / dram_bw + ch_dram_t[U(c)] if swb > 0 else 0.0",
      "swt = swb / dram_bw if swb > 0 else 0.0"),
    m("nb-reload-bytes-once", NB, "reloaded weights: DRAM bytes once per window",
      "(swb if fits else swb * nmb)", "(swb if fits else swb)"),
    m("nb-flow-max-to-sum", NB, "flow shop: max(ready, free) turned into a sum",
      "prev = _fmax(prev, free[wc]) + st_t[k]", "prev = prev + free[wc] + st_t[k]"),
    m("nb-flow-no-precedence", NB, "flow shop: no wait for the stage before",
      "prev = _fmax(prev, free[wc]) + st_t[k]", "prev = _fmax(0.0, free[wc]) + st_t[k]"),
    m("nb-flow-loads-overlap", NB, "flow shop: a chiplet's loads overlap (max, not sum)",
      "free[U(st_wc[k])] += st_once[k]",
      "free[U(st_wc[k])] = _fmax(free[U(st_wc[k])], st_once[k])"),
    m("nb-window-no-dram-bound", NB, "window latency: DRAM bound dropped",
      "win = _fmax(span, _fmax(dram_win[w] / dram_bw, lmax / nop_bw))",
      "win = _fmax(span, lmax / nop_bw)"),
    m("nb-window-no-link-bound", NB, "window latency: link bound dropped",
      "win = _fmax(span, _fmax(dram_win[w] / dram_bw, lmax / nop_bw))",
      "win = _fmax(span, dram_win[w] / dram_bw)"),
    m("nb-dram-hop-energy", NB, "DRAM traffic: NoP energy of the hops to the edge dropped",
      "hop_dram += dl * ch_dhop[U(c)]", "hop_dram += 0.0 * dl"),
    m("nb-e-dram-x2", NB, "DRAM energy doubled",
      "e_dram = total_dram * 8 * dram_pj * PJ", "e_dram = total_dram * 16 * dram_pj * PJ"),
    m("nb-dram-route-east", NB, "DRAM route links: east-bound traffic dropped",
      "accd += dramc[row + j] if j > Cn - 1 - j else 0.0", "accd += 0.0"),
    m("nb-dram-route-west", NB, "DRAM route links: west-bound traffic dropped",
      "accd += dramc[row + j + 1] if j + 1 <= Cn - 2 - j else 0.0", "accd += 0.0"),
    m("nb-busy-no-loads", NB, "chiplet busy time: loads left out",
      "busy[wc] += nmb * tf + once", "busy[wc] += nmb * tf"),
    m("nb-period-no-dram", NB, "throughput period: DRAM left out",
      "period = _fmax(_fmax(bt, total_dram / dram_bw), lt / nop_bw)",
      "period = _fmax(bt, lt / nop_bw)"),
    # ---- the discrete-event simulator (costmodel/simulate.py) ------------------------------------
    m("sim-dispatch-stage-major", SI, "dispatch order by (stage, micro-batch), not (micro-batch, stage)",
      "sorted(runs, key=lambda x: (x[0], x[1]))", "sorted(runs, key=lambda x: (x[1], x[0]))"),
    m("sim-no-precedence", SI, "a run does not wait for the same micro-batch on the stage before",
      "if task.pred is not None and task.pred not in done:", "if False:"),
    m("sim-no-dram-bound", SI, "window end: DRAM bound dropped",
      "end_w = max(span_end, t0 + dram_w / mcm.dram_bw, t0 + lmax / mcm.nop_bw)",
      "end_w = max(span_end, t0 + lmax / mcm.nop_bw)"),
    m("sim-no-link-bound", SI, "window end: link bound dropped",
      "end_w = max(span_end, t0 + dram_w / mcm.dram_bw, t0 + lmax / mcm.nop_bw)",
      "end_w = max(span_end, t0 + dram_w / mcm.dram_bw)"),
    m("sim-no-load-energy", SI, "energy of the one-time loads dropped",
      "energy += st.energy_once_j", "energy += 0.0"),
    m("sim-no-occupancy", SI, "throughput period: chiplet occupancy left out",
      "occupancy[ev.chiplet] += ev.end - ev.start", "occupancy[ev.chiplet] += 0.0"),
    # ---- the numba kernel's tables (costmodel/compiled.py) -------------------------------------
    m("tab-chain-nop-bytes-x2", CO, "kernel table: chain NoP seconds doubled",
      "lo[..., LO_CH_NOP_T] = nb_ch / cp.nop_bw", "lo[..., LO_CH_NOP_T] = 2 * nb_ch / cp.nop_bw"),
    m("tab-dram-fixed-no-hops", CO, "kernel table: DRAM fixed cost without the hops",
      "f64(cp.dram_latency_s + dhop * cp.nop_hop_s)", "f64(cp.dram_latency_s + 0.0 * dhop)"),
    m("tab-skip-bytes-once", CO, "kernel table: skip-edge bytes not x n_mb",
      "sk[..., SK_TOT] = nb_s * nmb[b]", "sk[..., SK_TOT] = nb_s"),
    m("tab-e-compute-once", CO, "kernel table: compute energy not x n_mb",
      "lko[..., 1] = (cp.e * nmb[:, None, :]).transpose(2, 0, 1)",
      "lko[..., 1] = cp.e.transpose(2, 0, 1)"),
    # ---- per-model latency (docs/evaluation.md; tests/test_targets.py) ---------------------------
    *[
        Mutant(id_, file, what, old, new, tests=list(TARGET_TESTS))
        for id_, file, what, old, new in (
            ("ref-model-no-stretch", EV, "per-model latency: window not stretched to its bounds",
             "model_latency[name] = start + end * scale", "model_latency[name] = start + end"),
            ("ref-model-no-start", EV, "per-model latency: window start left out",
             "model_latency[name] = start + end * scale", "model_latency[name] = end * scale"),
            ("np-model-no-stretch", BA, "per-model latency: window not stretched to its bounds",
             "at = start.ravel()[s_pw] + s_fin * scale.ravel()[s_pw]",
             "at = start.ravel()[s_pw] + s_fin"),
            ("np-model-no-start", BA, "per-model latency: window start left out",
             "at = start.ravel()[s_pw] + s_fin * scale.ravel()[s_pw]",
             "at = s_fin * scale.ravel()[s_pw]"),
            ("nb-model-no-stretch", NB, "per-model latency: window not stretched to its bounds",
             "at = dram_win[w] + g_fin[q] * sc", "at = dram_win[w] + g_fin[q]"),
            ("nb-model-first-micro-batch", NB, "per-model latency: micro-batch 0's finish only",
             "g_fin[q] = prev", "g_fin[q] = prev if j == 0 else g_fin[q]"),
            ("sim-model-no-stretch", SI, "per-model latency: window not stretched to its bounds",
             "at = t0 + (ev.end - t0) * scale", "at = ev.end"),
        )
    ],
]
# fmt: on

#: sanity mutants: each MUST be caught, or the check cannot be trusted (exit 2)
CANARIES = [
    Mutant(
        "canary-import",
        EV,
        "costmodel.evaluate raises on import: the copy is what is imported",
        append='\nraise RuntimeError("mutation-check canary: this copy is imported")\n',
        expect="mutation-check canary: this copy is imported",
    ),
    m(
        "canary-numba-recompiled",
        NB,
        "numba kernel latency x3, after the unmutated kernel was cached: mutants are recompiled",
        "out_s[p, 0] = latency",
        "out_s[p, 0] = 3.0 * latency",
    ),
]


def constant_mutants(source: Path) -> list[Mutant]:
    """One mutant per module-level constant of costmodel/constants.py: its value scaled by 2."""
    text = (source / "costmodel/constants.py").read_text()
    lines = text.splitlines()
    out = []
    for node in ast.parse(text).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Name) and target.id.isupper()):
            continue
        if node.lineno != node.end_lineno:
            raise LookupError(f"constant {target.id} spans several lines; mutate it by hand")
        name, line = target.id, lines[node.lineno - 1]
        value = ast.get_source_segment(text, node.value)
        col, end = node.value.col_offset, node.value.end_col_offset
        out.append(
            Mutant(
                f"const-{name}",
                "costmodel/constants.py",
                f"{name} = {value} doubled",
                line,
                f"{line[:col]}({value}) * 2{line[end:]}",
                tests=CONSTANT_TESTS,
                excluded=EXCLUDED_CONSTANTS.get(name, ""),
            )
        )
    return out


# ------------------------------------------------------------------------------------------------


def copy_source(repo: Path, source: str, dest: Path, overlay: list[str]) -> None:
    """The repository's files (tracked and untracked-not-ignored of the working tree, or a
    commit's tree, with ``overlay`` files from the working tree) into ``dest``; never ``.git``,
    virtual environments or caches."""
    dest.mkdir(parents=True)
    if source == "worktree":
        names = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z", "-co", "--exclude-standard"],
            check=True,
            capture_output=True,
        ).stdout.split(b"\0")
        for raw in names:
            if not raw:
                continue
            rel = raw.decode()
            src = repo / rel
            if not src.is_file():  # deleted in the working tree
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    else:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", source], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for rel in overlay:  # files of the working tree over the revision's
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, dest / rel)


def apply(mut: Mutant, tree: Path) -> None:
    path = tree / mut.file
    text = path.read_text()
    if mut.append:
        text = text + mut.append
    else:
        count = text.count(mut.old)
        if count != 1:
            raise LookupError(
                f"mutant {mut.id}: the text to mutate occurs {count} times in {mut.file} "
                f"(expected once): {mut.old!r}"
            )
        text = text.replace(mut.old, mut.new)
    path.write_text(text)


@dataclass
class Outcome:
    mutant: Mutant
    caught: bool
    seconds: float
    detail: str
    output: str = ""


def run_mutant(
    mut: Mutant | None, base: Path, work: Path, cache: Path, timeout: float, extra: list[str]
) -> Outcome:
    """Copy ``base`` to ``work`` (a stable path per worker), apply ``mut``, run its tests."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work, copy_function=shutil.copy2)
    fresh_cache = None
    if mut is not None:
        apply(mut, work)
        if mut.file in NUMBA_FILES:
            fresh_cache = Path(tempfile.mkdtemp(prefix="numba-", dir=work.parent))
    everything = EVALUATOR_TESTS[:1] + PER_LAYER_TESTS + EVALUATOR_TESTS[1:]
    tests = mut.tests if mut is not None else everything
    tests = [t for t in tests if (work / t).is_file()]
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(work),
        PYTHONDONTWRITEBYTECODE="1",
        NUMBA_CACHE_DIR=str(fresh_cache or cache),
        NUMBA_NUM_THREADS="1",
        NUMBA_OPT="0",  # compiles faster; no fast-math, so the figures are the same
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", "-rfE"]
    cmd += extra + tests
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = -1, f"timed out after {timeout:.0f} s"
    dt = time.perf_counter() - t0
    if fresh_cache is not None:
        shutil.rmtree(fresh_cache, ignore_errors=True)
    failed = re.findall(r"^FAILED (\S+)", out, flags=re.M)
    errors = re.findall(r"^ERROR (\S+)", out, flags=re.M)
    if rc == 0:
        detail = "all passed"
    elif rc == -1:
        detail = out
    elif failed:
        detail = f"by {failed[0]}"
    elif errors:
        detail = f"error in {errors[0]}"
    else:
        detail = f"pytest exit {rc}: " + " ".join(out.strip().splitlines()[-1:])
    return Outcome(mut, rc != 0, dt, detail, out)


def check_imports(base: Path, work: Path) -> None:
    """The copy's packages are the ones imported (not the editable install's checkout)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work, copy_function=shutil.copy2)
    env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1")
    code = (
        "import costmodel, costmodel.constants, costmodel.evaluate, costmodel.batch, "
        "costmodel.compiled; print(costmodel.__file__); print(costmodel.constants.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True
    )
    paths = out.stdout.split()
    if out.returncode != 0 or not paths or not all(p.startswith(str(work)) for p in paths):
        sys.exit(f"mutation check: cannot import from the copy {work}: {out.stdout}{out.stderr}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="worktree", help="worktree (default) or a git revision")
    ap.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="PATH",
        help="with --source REV: take this file from the working tree (repeatable)",
    )
    ap.add_argument(
        "--pytest-args",
        default="",
        help="extra pytest arguments for every run (e.g. -k or --deselect), one string",
    )
    ap.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    ap.add_argument("--only", default="", help="run only mutants whose id contains this")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mutant")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mutation-check-"))
    try:
        base = tmp / "base"
        copy_source(ROOT, args.source, base, args.overlay)
        for d in base.rglob("__pycache__"):
            shutil.rmtree(d, ignore_errors=True)
        mutants = constant_mutants(base) + MUTANTS
        if args.only:
            mutants = [x for x in mutants if args.only in x.id]
        # every mutant must still apply to the source (fails loudly when the code moved on)
        for mut in mutants + CANARIES:
            probe = tmp / "probe"
            if probe.exists():
                shutil.rmtree(probe)
            (probe / mut.file).parent.mkdir(parents=True)
            shutil.copy2(base / mut.file, probe / mut.file)
            try:
                apply(mut, probe)
            except LookupError as exc:
                print(f"mutation check: {exc}", file=sys.stderr)
                return 2
        if args.list:
            for mut in mutants:
                tag = f"  [excluded: {mut.excluded}]" if mut.excluded else ""
                print(f"{mut.id:38s} {mut.file:26s} {mut.what}{tag}")
            print(f"{len(mutants)} mutants")
            return 0

        extra = shlex.split(args.pytest_args)
        workers = [tmp / f"w{i}" for i in range(max(1, args.jobs))]
        caches = [tmp / f"numba-cache-{i}" for i in range(len(workers))]
        for c in caches:
            c.mkdir()
        # ---- sanity: imports from the copy; the unmutated copy passes (and fills worker 0's
        # numba cache); both canaries are caught
        check_imports(base, workers[0])
        base_run = run_mutant(None, base, workers[0], caches[0], args.timeout, extra)
        print(
            f"sanity  unmutated copy: {'FAILS' if base_run.caught else 'passes'} "
            f"({base_run.seconds:.1f} s) {base_run.detail if base_run.caught else ''}"
        )
        if base_run.caught:
            return 2
        for can in CANARIES:
            o = run_mutant(can, base, workers[0], caches[0], args.timeout, extra)
            print(
                f"sanity  {can.id}: {'caught' if o.caught else 'SURVIVED'} "
                f"({o.seconds:.1f} s) {o.detail}"
            )
            if not o.caught or (can.expect and can.expect not in o.output):
                print(f"mutation check: canary {can.id} not caught as expected", file=sys.stderr)
                return 2

        # ---- the mutants, ``jobs`` at a time, each worker in its own directory and cache
        results: list[Outcome | None] = [None] * len(mutants)

        def worker(i: int) -> None:
            for k in range(i, len(mutants), len(workers)):
                results[k] = run_mutant(
                    mutants[k], base, workers[i], caches[i], args.timeout, extra
                )
                o = results[k]
                state = "caught" if o.caught else "SURVIVED"
                if o.mutant.excluded:
                    state = "caught (stale exclusion!)" if o.caught else "survived (excluded)"
                print(
                    f"{state:9s} {o.mutant.id:38s} {o.seconds:5.1f} s  {o.mutant.what}; {o.detail}",
                    flush=True,
                )

        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(worker, range(len(workers))))

        real = [o for o in results if not o.mutant.excluded]
        excl = [o for o in results if o.mutant.excluded]
        caught = sum(o.caught for o in real)
        survived = [o for o in real if not o.caught]
        stale = [o for o in excl if o.caught]
        for o in excl:
            print(f"excluded  {o.mutant.id}: {o.mutant.excluded}")
        for o in survived:
            print(f"survivor  {o.mutant.id} ({o.mutant.file}): {o.mutant.what}")
        for o in stale:
            print(f"stale     {o.mutant.id}: caught although excluded ({o.detail})")
        minutes = (time.perf_counter() - t_start) / 60
        print(
            f"mutation check: {len(real)} mutants, {caught} caught, {len(survived)} survived"
            f" ({len(excl)} excluded constants, {len(stale)} stale exclusions; {minutes:.1f} min,"
            f" {len(workers)} jobs)"
        )
        return 1 if survived or stale else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
