# A real network for tools/chaos --network, on this machine: settled and each bank in a network
# namespace of its own, joined by veth pairs to a bridge in the root namespace, each namespace
# with an empty nftables table for the storm's faults (drop rules give partitions and loss).
# Only these namespaces' own addresses (10.77.0.0/24) are ever used or targeted.
# Sourced by tools/chaos; needs root.

chaos_bridge=settlechaos0
chaos_subnet_prefix=10.77.0
chaos_root_address="$chaos_subnet_prefix.1"
chaos_namespaces=(settle-chaos-coord settle-chaos-bank-a settle-chaos-bank-b settle-chaos-bank-c)
chaos_addresses=("$chaos_subnet_prefix.10" "$chaos_subnet_prefix.11" "$chaos_subnet_prefix.12" "$chaos_subnet_prefix.13")

chaos_lock=/run/settle-chaos-network.lock
chaos_bridge_filter_saved=/run/settle-chaos-bridge-nf-call-iptables

# Processes left in a namespace keep it alive after `ip netns del`: kill them first; then the
# namespaces, the host ends of the veth pairs, the bridge, and the host setting changed below.
chaos_network_down() {
    local index namespace
    for index in "${!chaos_namespaces[@]}"; do
        namespace="${chaos_namespaces[$index]}"
        ip netns pids "$namespace" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$namespace" 2>/dev/null || true
        ip link del "sc${index}h" 2>/dev/null || true
    done
    ip link del "$chaos_bridge" 2>/dev/null || true
    if [[ -f "$chaos_bridge_filter_saved" ]]; then
        cat "$chaos_bridge_filter_saved" >/proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true
        rm -f "$chaos_bridge_filter_saved"
    fi
}

chaos_network_up() {
    [[ $(id -u) -eq 0 ]] || { echo "tools/chaos --network: needs root (it creates network namespaces)" >&2; return 1; }
    # One network storm at a time on a machine: the names and the subnet are fixed.
    exec {chaos_lock_descriptor}>"$chaos_lock"
    flock -n "$chaos_lock_descriptor" || { echo "tools/chaos --network: another network storm is running" >&2; return 1; }
    chaos_network_down
    ip link add "$chaos_bridge" type bridge
    ip addr add "$chaos_root_address/24" dev "$chaos_bridge"
    ip link set "$chaos_bridge" up
    local index namespace host_end
    for index in "${!chaos_namespaces[@]}"; do
        namespace="${chaos_namespaces[$index]}"
        host_end="sc${index}h"
        ip netns add "$namespace"
        ip link add "$host_end" type veth peer name eth0 netns "$namespace"
        ip link set "$host_end" master "$chaos_bridge" up
        ip -n "$namespace" addr add "${chaos_addresses[$index]}/24" dev eth0
        ip -n "$namespace" link set eth0 up
        ip -n "$namespace" link set lo up
        ip netns exec "$namespace" nft -f - <<'NFT'
table inet chaos {
    chain input { type filter hook input priority 0; policy accept; }
    chain output { type filter hook output priority 0; policy accept; }
}
NFT
    done
    # The bridge forwards between namespaces without consulting the host's firewall.
    # (Restored by chaos_network_down.)
    if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
        cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$chaos_bridge_filter_saved"
        echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables
    fi
}
