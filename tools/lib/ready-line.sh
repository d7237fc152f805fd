# Sourced by tools/demo and tools/bench.
#
# ready_line FILE PREFIX: waits up to 30 s for a line starting with PREFIX in FILE (a started
# process's standard output) and prints it; otherwise prints the tail of FILE's .err twin and fails.
ready_line() {
    local file="$1" prefix="$2"
    for _ in $(seq 1 300); do
        if grep -q "^$prefix" "$file" 2>/dev/null; then grep -m1 "^$prefix" "$file"; return 0; fi
        sleep 0.1
    done
    echo "$(basename "$0"): no '$prefix' in $file; its errors:" >&2
    tail -20 "${file%.out}.err" >&2 || true
    return 1
}
