"""Default hardware constants and where each comes from.

SCAR = Odema, Kwon, Al Faruque, "Scheduling Multi-Model AI Workloads on Heterogeneous Multi-Chiplet
Module Accelerators", MICRO 2024 (arXiv 2405.00790), Table II, scaled to 28 nm.
MAESTRO = Kwon et al., MAESTRO cost model (github maestro-project/maestro), DSE energy constants.
Constants SCAR does not state (L2->PE bandwidth, L1 size, MAC energy) are our choices, marked "ours".
"""

from __future__ import annotations

CLOCK_HZ = 500e6  # SCAR Table II: 500 MHz
PES_DATACENTER = 4096  # SCAR Table II: 4096 PEs per chiplet (datacenter)
PES_ARVR = 256  # SCAR Table II: 256 PEs per chiplet (AR/VR)
L2_BYTES = 10 * 2**20  # SCAR Table II: 10 MB shared L2 per chiplet
L1_BYTES = 512  # ours: per-PE L1 (register file / scratchpad); only bounds nothing yet, documented

NOC_BW = 64  # ours: L2->PE network, elements per cycle (MAESTRO-style NoC bandwidth)
NOC_LATENCY = 1  # ours: cycles per L2->PE transfer (MAESTRO's NoC_NumHops)

NOP_BW_BYTES_S = 100e9  # SCAR Table II: 100 GB/s per chiplet NoP link
NOP_HOP_S = 35e-9  # SCAR Table II: 35 ns per hop
NOP_PJ_PER_BIT = 2.04  # SCAR Table II: 2.04 pJ/bit

DRAM_BW_BYTES_S = 64e9  # SCAR Table II: 64 GB/s (module total; interfaces on the left/right edges)
DRAM_LATENCY_S = 200e-9  # SCAR Table II: 200 ns
DRAM_PJ_PER_BIT = 14.8  # SCAR Table II: 14.8 pJ/bit

MAC_PJ = 0.23  # MAESTRO DSE constant for an 8-bit MAC (SCAR does not state it)
L1_REL = 1.68  # MAESTRO: one L1 access costs 1.68 MACs of energy
L2_REL = 18.61  # MAESTRO: one L2 access costs 18.61 MACs of energy

DATA_BYTES = 1  # 8-bit data (configurable per chiplet class)
