"""The per-layer cost report: every layer on every chiplet class of an MCM, with totals."""

from __future__ import annotations

from collections.abc import Sequence

from .cost import layer_costs
from .hardware import ChipletClass
from .workload import Workload


def cost_report(workload: Workload, classes: Sequence[ChipletClass]) -> dict:
    """Rows of per-layer cycles, energy and utilization on each class (each model at its batch),
    the faster class per layer, and totals per model and overall. Plain data, ready for JSON."""
    names = [c.name for c in classes]
    rows, totals = [], []
    for model in workload.models:
        costs = [layer_costs(model.layers, cc, model.batch) for cc in classes]
        for i, layer in enumerate(model.layers):
            cyc = [float(c.cycles[i]) for c in costs]
            best = min(range(len(classes)), key=lambda j: (cyc[j], j))
            rows.append(
                {
                    "model": model.name,
                    "layer": layer.name,
                    "shape": layer.describe(),
                    "macs": float(costs[0].macs[i]),
                    "cycles": dict(zip(names, cyc)),
                    "energy_uj": {n: float(c.energy_pj[i]) * 1e-6 for n, c in zip(names, costs)},
                    "utilization": {n: float(c.utilization[i]) for n, c in zip(names, costs)},
                    "faster": names[best],
                }
            )
        totals.append(
            {
                "model": model.name,
                "batch": model.batch,
                "layers": len(model),
                "macs": float(costs[0].macs.sum()),
                "cycles": {n: float(c.cycles.sum()) for n, c in zip(names, costs)},
                "latency_s": {n: float(c.latency_s.sum()) for n, c in zip(names, costs)},
                "energy_uj": {n: float(c.energy_pj.sum()) * 1e-6 for n, c in zip(names, costs)},
            }
        )
    return {"workload": workload.name, "classes": names, "layers": rows, "totals": totals}


def format_report(report: dict) -> str:
    """The report as a fixed-width text table."""
    names = report["classes"]
    head = f"{'model':<12} {'layer':<22} {'MMAC':>9}"
    for n in names:
        head += f" {'cyc ' + n:>16} {'uJ ' + n:>12}"
    head += "  faster"
    lines = [head, "-" * len(head)]
    for r in report["layers"]:
        line = f"{r['model'][:12]:<12} {r['layer'][:22]:<22} {r['macs'] / 1e6:>9.2f}"
        for n in names:
            line += f" {r['cycles'][n]:>16,.0f} {r['energy_uj'][n]:>12.2f}"
        lines.append(line + "  " + r["faster"])
    lines.append("-" * len(head))
    for t in report["totals"]:
        line = f"{t['model'][:12]:<12} {'TOTAL b=' + str(t['batch']):<22} {t['macs'] / 1e6:>9.0f}"
        for n in names:
            line += f" {t['cycles'][n]:>16,.0f} {t['energy_uj'][n]:>12.1f}"
        lines.append(line)
    faster = {n: sum(r["faster"] == n for r in report["layers"]) for n in names}
    lines.append(
        "layers where each class is faster: " + ", ".join(f"{n}: {c}" for n, c in faster.items())
    )
    return "\n".join(lines)
