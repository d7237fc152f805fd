"""Turns tools/bench's JSON lines into the Markdown table (printed and written) and a PNG chart."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = [
    ("floor", "floor (libpq, no coordinator)"),
    ("settle", "Settle end to end"),
    ("settle-ordered", "Settle, ordered prepares"),
    ("settle-adaptive", "Settle, adaptive order"),
    ("sqlalchemy", "SQLAlchemy twophase"),
    ("floor-4", "floor, 4 banks"),
    ("settle-4", "Settle end to end, 4 banks"),
    ("settle-2-coordinators", "Settle, 2 coordinator ids (routed by transfer id)"),
]


def main():
    results_path, markdown_path, chart_path, heading = sys.argv[1:5]
    lines_read = [json.loads(line) for line in open(results_path) if line.strip()]
    results = [r for r in lines_read if not r.get("cpu") and not r.get("held")]
    cpu = {(r["system"], r["concurrency"]): r for r in lines_read if r.get("cpu")}
    held = {(r["system"], r["concurrency"]): r["held_milliseconds"] for r in lines_read if r.get("held")}
    held.update({(r["system"], r["concurrency"]): r["held_milliseconds"] for r in results if r.get("held_milliseconds")})
    per_signature = {(r["system"], r["concurrency"]): r["orders_per_signature"] for r in lines_read if r.get("orders_per_signature")}
    by = {(r["system"], r["concurrency"]): r for r in results}
    concurrencies = sorted({r["concurrency"] for r in results})

    lines = [heading, ""]
    lines.append("| concurrency | system | transfers/s | p50 ms | p99 ms | errors | Settle/floor tps | Settle/floor p99 | Settle/SQLAlchemy tps |")
    lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency in concurrencies:
        sqlalchemy = by.get(("sqlalchemy", concurrency))
        for name, label in SYSTEMS:
            r = by.get((name, concurrency))
            if r is None:
                continue
            ratios = ["", "", ""]
            if name.startswith("settle"):
                # Against the floor with as many banks.
                floor = by.get(("floor-4" if name.endswith("-4") else "floor", concurrency))
                settle = r
                ratios = [
                    ratio(settle["transfers_per_second"], floor and floor["transfers_per_second"]),
                    ratio(settle["p99_milliseconds"], floor and floor["p99_milliseconds"]),
                    ratio(settle["transfers_per_second"], sqlalchemy and sqlalchemy["transfers_per_second"]),
                ]
            lines.append(
                f"| {concurrency} | {label} | {r['transfers_per_second']:,.0f} | {r['p50_milliseconds']:.2f} | "
                f"{r['p99_milliseconds']:.2f} | {r['errors']} | " + " | ".join(ratios) + " |"
            )
    lines += ["", "Where the CPU goes: milliseconds of CPU (user + system) per transfer, by process, over the whole run of each cell", ""]
    lines.append("| concurrency | system | client | settled | participants | PostgreSQL | total |")
    lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for concurrency in concurrencies:
        for name, label in SYSTEMS:
            r, c = by.get((name, concurrency)), cpu.get((name, concurrency))
            if r is None or c is None or not r.get("transfers_including_warm_up"):
                continue
            n = r["transfers_including_warm_up"]
            parts = [r["client_cpu_milliseconds_per_transfer"], c["coordinator_ms"] / n, c["participants_ms"] / n, c["postgresql_ms"] / n]
            lines.append(f"| {concurrency} | {label} | " + " | ".join(f"{p:.2f}" for p in parts) + f" | {sum(parts):.2f} |")
    if held:
        lines += ["", "How long the credited bank's branch (the merchant's) stayed prepared, mean ms: the floor's from its PREPARE TRANSACTION to its COMMIT PREPARED, Settle's from its PREPARED answer to its Commit's (settle_branch_prepared_duration)", ""]
        lines.append("(and, for Settle, how many signed orders each of settled's signatures covered: settle_orders_signed_total / settle_order_signatures_total)")
        lines.append("")
        lines.append("| concurrency | system | held ms | orders per signature |")
        lines.append("| ---: | --- | ---: | ---: |")
        for concurrency in concurrencies:
            for name, label in SYSTEMS:
                if (name, concurrency) in held:
                    signed = per_signature.get((name, concurrency))
                    lines.append(f"| {concurrency} | {label} | {held[(name, concurrency)]:.2f} | {f'{signed:.2f}' if signed else ''} |")
    table = "\n".join(lines) + "\n"
    open(markdown_path, "w").write(table)
    print(table)

    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    shown = [(name, label) for name, label in SYSTEMS if any((name, c) in by for c in concurrencies)]
    width = 0.8 / len(shown)
    for offset, (name, label) in enumerate(shown):
        xs = [index + (offset - (len(shown) - 1) / 2) * width for index in range(len(concurrencies))]
        throughput.bar(xs, [by.get((name, c), {}).get("transfers_per_second", 0) for c in concurrencies], width, label=label)
        latency.bar(xs, [by.get((name, c), {}).get("p99_milliseconds", 0) for c in concurrencies], width, label=label)
    for axis, title in ((throughput, "transfers per second (higher is better)"), (latency, "p99 latency, ms (lower is better)")):
        axis.set_xticks(range(len(concurrencies)), [f"concurrency {c}" for c in concurrencies])
        axis.set_title(title)
        axis.grid(axis="y", alpha=0.3)
    throughput.legend(fontsize="small")
    figure.suptitle("Transfers across databases: PREPARE TRANSACTION / COMMIT PREPARED on PostgreSQL clusters")
    figure.tight_layout()
    figure.savefig(chart_path, dpi=110)


def ratio(numerator, denominator):
    return f"{numerator / denominator:.2f}×" if denominator else "n/a"


if __name__ == "__main__":
    main()
