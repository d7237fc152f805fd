"""Who owns the CPU a Settle transfer costs: `perf script` samples of settled and the banks, each
charged to the first frame, from the sampled instruction up its call chain, that belongs to a named
part (the gRPC transport, Settle's own modules, libpq, OpenSSL, ...). Frames of the Swift runtime,
the standard library, Foundation, libc and the kernel are passed through: their cost belongs to
whoever called them (a lock's wait to its taker, a syscall to the code that made it). A sample with
no named frame at all keeps the name of its innermost library.

Usage: perf script -F pid,ip,sym,dso | cpu_owners.py --results R.jsonl --system settle
    --settled PID --banks PID[,PID...]
R.jsonl is the run's tools/bench results: the system's CPU milliseconds per transfer, per process
group, over the same run, so that each part's share of a group's samples prints as milliseconds
of CPU per transfer.
"""

import argparse
import collections
import json
import re
import sys

# Swift module-name prefixes, in order of precedence, and the part each belongs to.
MODULE_PARTS = [
    ("GRPC", "gRPC, HTTP/2, protobuf"),
    ("NIOHTTP2", "gRPC, HTTP/2, protobuf"),
    ("NIOHPACK", "gRPC, HTTP/2, protobuf"),
    ("SwiftProtobuf", "gRPC, HTTP/2, protobuf"),
    ("SettleProtocol", "gRPC, HTTP/2, protobuf"),
    ("NIO", "SwiftNIO under gRPC (event loops, channels, socket I/O)"),
    ("_NIO", "SwiftNIO under gRPC (event loops, channels, socket I/O)"),
    ("CNIO", "SwiftNIO under gRPC (event loops, channels, socket I/O)"),
    ("SignedLog", "SignedLog (records, seals, group commit)"),
    ("PostgresClient", "PostgresClient (Swift over libpq, connection threads)"),
    ("SettleAuth", "Settle: identities, signed orders"),
    ("Settle", "Settle: coordinator, participant library, core"),
    ("ExampleBank", "ExampleBank's actions"),
    ("Logging", "logs, metrics, tracing"),
    ("CoreMetrics", "logs, metrics, tracing"),
    ("Metrics", "logs, metrics, tracing"),
    ("Tracing", "logs, metrics, tracing"),
    ("Instrumentation", "logs, metrics, tracing"),
    ("ServiceContext", "logs, metrics, tracing"),
    ("settled", "Settle: coordinator, participant library, core"),
    ("example_bank", "ExampleBank's actions"),
]
LIBRARY_PARTS = [
    ("libpq", "libpq"),
    ("libcrypto", "OpenSSL (Ed25519, SHA-256)"),
    ("libssl", "OpenSSL (Ed25519, SHA-256)"),
]
MANGLED_MODULE = re.compile(r"^\$s(\d+)([A-Za-z_][A-Za-z0-9_]*)")
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def part_of(symbol, library):
    for fragment, part in LIBRARY_PARTS:
        if fragment in library:
            return part
    match = MANGLED_MODULE.match(symbol)
    if not match:
        return None
    module = match.group(2)[: int(match.group(1))]
    for prefix, part in MODULE_PARTS:
        if module.startswith(prefix):
            return part
    return None


def unnamed(frames):
    """A sample whose call chain shows no named part: libc and libpq are built without frame
    pointers, so the unwinding often stops at the system call; say what kind of work it was."""
    symbols = [symbol for symbol, _ in frames]
    if any(re.search(r"__send|__recv|__poll|epoll_wait|__libc_(send|recv)", symbol) for symbol in symbols):
        return "socket I/O, caller not unwound"
    if any(re.search(r"futex|pthread_cond|lll_lock|sched_yield", symbol) for symbol in symbols):
        return "thread waits and wake-ups, caller not unwound"
    library = frames[0][1].rsplit("/", 1)[-1]
    if "kernel" in library:
        return "kernel, caller not unwound (scheduling, interrupts)"
    if library.startswith(("libswift", "libdispatch", "libFoundation", "libBlocksRuntime")):
        return "Swift runtime and dispatch, no named caller"
    if library.startswith(("libc.", "ld-linux")):
        return "libc, no named caller"
    return f"other ({library})"


def owner(frames):
    for symbol, library in frames:
        part = part_of(symbol, library)
        if part:
            return part
    return unnamed(frames)


def samples(lines):
    pid, frames = None, []
    for line in lines:
        if not line.strip():
            if pid is not None and frames:
                yield pid, frames
            pid, frames = None, []
        elif line[0].isspace():
            match = FRAME.match(line)
            if match:
                frames.append((re.sub(r"\+0x[0-9a-f]+$", "", match.group(1)), match.group(2)))
        else:
            pid = line.split()[0]
    if pid is not None and frames:
        yield pid, frames


def cpu_per_transfer(results, system):
    """(settled, banks) CPU milliseconds per transfer of `system`, as tools/bench's CPU table says."""
    lines = [json.loads(line) for line in open(results) if line.strip()]
    run = next(r for r in lines if r.get("system") == system and "transfers_per_second" in r)
    cpu = next(r for r in lines if r.get("system") == system and r.get("cpu"))
    transfers = run["transfers_including_warm_up"]
    return cpu["coordinator_ms"] / transfers, cpu["participants_ms"] / transfers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--system", default="settle")
    parser.add_argument("--settled", required=True, help="settled's pid")
    parser.add_argument("--banks", required=True, help="the banks' pids, comma-separated")
    arguments = parser.parse_args()
    settled_ms, banks_ms = cpu_per_transfer(arguments.results, arguments.system)
    groups = ["settled", "banks"]
    milliseconds = {"settled": settled_ms, "banks": banks_ms}
    pids_of_group = {arguments.settled: "settled"} | {pid: "banks" for pid in arguments.banks.split(",")}
    counts = {name: collections.Counter() for name in groups}
    for pid, frames in samples(sys.stdin):
        if pid in pids_of_group:
            counts[pids_of_group[pid]][owner(frames)] += 1
    totals = {name: sum(counts[name].values()) for name in groups}
    parts = collections.Counter()
    for name in groups:
        for part, count in counts[name].items():
            parts[part] += count / max(totals[name], 1) * milliseconds[name]
    header = " | ".join(f"{name}, ms ({totals[name]:,} samples)" for name in groups)
    print(f"| part | {header} | together, ms |")
    print("| --- |" + " ---: |" * (len(groups) + 1))
    for part, together in parts.most_common():
        cells = " | ".join(f"{counts[name][part] / max(totals[name], 1) * milliseconds[name]:.3f}" for name in groups)
        print(f"| {part} | {cells} | {together:.3f} |")
    print("| all | " + " | ".join(f"{milliseconds[name]:.3f}" for name in groups) + f" | {sum(milliseconds.values()):.3f} |")


if __name__ == "__main__":
    main()
