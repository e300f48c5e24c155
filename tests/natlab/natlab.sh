#!/usr/bin/env bash
# A NAT lab in four network namespaces, for pyrsia-boot's real-network tests.
#
#   PREFIXpub2                 PREFIXpub                        PREFIXrtr                PREFIXpriv
#   eth0 203.0.113.11 ---- [p2] br0 203.0.113.10 [rt] ---- wan0 203.0.113.1
#   (public client, or the      203.0.113.12 (alternate)         lan0 192.168.77.1 ---- eth0 192.168.77.2
#    stranger: a host the      203.0.113.13 (second boot node)  NAT of the chosen kind, (client behind NAT,
#    NATed client never                                          stateful firewall,       default via .1)
#    contacts)                 ("internet" segment, the boot     port forwards, loss
#                               cluster lives here)
#
# Documentation (203.0.113.0/24, 2001:db8::/32) and RFC 1918 (192.168.77.0/24) addresses only.
# No namespace has a route to the host and the router has no default route: nothing leaves the
# lab. IPv6 is off inside the lab unless NATLAB_V6 is set. Every namespace is created and removed by this script; the host's own
# interfaces, routes and rules are never touched.
#
# Usage: natlab.sh up | down | status
#        natlab.sh forward add|del tcp PORT   # DNAT 203.0.113.1:PORT -> 192.168.77.2:PORT
#        natlab.sh block NODE tcp PORT        # NODE silently drops inbound tcp PORT
#        natlab.sh exec NODE CMD...           # NODE is pub, pub2, rtr or priv
# Environment: NATLAB_PREFIX (default "pbnat-"; keep it short), NATLAB_WAN_POLICY drop|reject
# (default drop: unsolicited inbound packets vanish, as behind most home routers),
# NATLAB_NAT, the router's NAT kind in RFC 4787 terms:
#   port-restricted     (default) endpoint-independent mapping, address-and-port-dependent filtering
#   address-restricted  endpoint-independent mapping, address-dependent filtering: inbound to a
#                       mapped port from any IP the client has sent to
#   full-cone           endpoint-independent mapping and filtering: inbound from anyone
#   symmetric           a new public port per destination (address-and-port-dependent mapping),
#                       address-and-port-dependent filtering
# NATLAB_LOSS, percent of packets the router drops at random in each direction (default 0).
# NATLAB_V6 off (default) | open | closed: a dual-stack lab. The public segment is
# 2001:db8:1::/64 (boot node ::10, alternate ::12, second boot node ::13, pub2 ::11, router ::1),
# the client's LAN 2001:db8:2::/64 (client ::2, router ::1), routed without NAT through a
# stateful IPv6 firewall that admits unsolicited inbound connections (open) or not (closed).
set -euo pipefail

PREFIX=${NATLAB_PREFIX:-pbnat-}
WAN_POLICY=${NATLAB_WAN_POLICY:-drop}
NAT_KIND=${NATLAB_NAT:-port-restricted}
LOSS=${NATLAB_LOSS:-0}
V6=${NATLAB_V6:-off}
NODES=(pub pub2 rtr priv)

ns() { printf '%s%s' "$PREFIX" "$1"; }
in_ns() { local node=$1; shift; ip netns exec "$(ns "$node")" "$@"; }
die() { echo "natlab: $*" >&2; exit 1; }

need_tools() {
    [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces and nftables)"
    command -v ip >/dev/null || die "ip (iproute2) is not installed"
    command -v nft >/dev/null || die "nft is not installed (apt-get install nftables)"
}

# Stops every process inside the lab's namespaces, then deletes them (which removes their
# veths, bridge, rules and conntrack state with them).
down() {
    local node name pids
    for node in "${NODES[@]}"; do
        name=$(ns "$node")
        ip netns list 2>/dev/null | grep -qw -- "$name" || continue
        pids=$(ip netns pids "$name" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            for _ in $(seq 20); do
                pids=$(ip netns pids "$name" 2>/dev/null || true)
                [[ -z $pids ]] && break
                sleep 0.1
            done
            # shellcheck disable=SC2086
            [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$name" 2>/dev/null || true
    done
}

# Per-namespace defaults, explicitly: a new namespace may inherit the host's settings.
init_ns() {
    local node=$1
    ip netns add "$(ns "$node")"
    ip -n "$(ns "$node")" link set lo up
    in_ns "$node" sh -c '
        echo 0 > /proc/sys/net/ipv4/ip_forward
        for c in all default; do
            echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter
            echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6
        done'
    if [[ $V6 != off ]]; then
        in_ns "$node" sh -c '
            for c in all default lo; do
                echo 0 > /proc/sys/net/ipv6/conf/$c/disable_ipv6
                echo 0 > /proc/sys/net/ipv6/conf/$c/accept_ra
                # No duplicate address detection: a tentative link-local address delays
                # neighbour discovery, and the first SYNs of a fresh lab are lost.
                echo 0 > /proc/sys/net/ipv6/conf/$c/accept_dad
            done'
    fi
}

# The dual-stack segment's addresses, routes and the router's IPv6 firewall (NATLAB_V6).
ipv6_up() {
    local refuse="drop" loss="" admit=""
    [[ $V6 == open || $V6 == closed ]] || die "NATLAB_V6 must be off, open or closed"
    [[ $WAN_POLICY == reject ]] && refuse="reject"
    [[ $LOSS -gt 0 ]] && loss="numgen random mod 100 < $LOSS drop"
    [[ $V6 == open ]] && admit='iifname "wan0" oifname "lan0" meta l4proto tcp accept'
    local a
    # nodad: an address is usable at once, not "tentative" for a second (a bind would fail).
    # The last one added is the preferred source: the boot node's own (::10), as on IPv4.
    for a in 13 12 10; do ip -n "$(ns pub)" addr add "2001:db8:1::$a/64" dev br0 nodad; done
    ip -n "$(ns pub2)" addr add 2001:db8:1::11/64 dev eth0 nodad
    ip -n "$(ns rtr)" addr add 2001:db8:1::1/64 dev wan0 nodad
    ip -n "$(ns rtr)" addr add 2001:db8:2::1/64 dev lan0 nodad
    ip -n "$(ns priv)" addr add 2001:db8:2::2/64 dev eth0 nodad
    ip -n "$(ns priv)" -6 route add default via 2001:db8:2::1
    ip -n "$(ns pub)" -6 route add 2001:db8:2::/64 via 2001:db8:1::1
    ip -n "$(ns pub2)" -6 route add 2001:db8:2::/64 via 2001:db8:1::1
    in_ns rtr sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'
    in_ns rtr nft -f - <<EOF
table ip6 natlab6 {
    chain forward {
        type filter hook forward priority filter; policy drop;
        $loss
        iifname "lan0" oifname "wan0" accept
        iifname "wan0" oifname "lan0" ct state established,related accept
        iifname "wan0" oifname "lan0" icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
        $admit
        iifname "wan0" $refuse
    }
}
EOF
}

router_rules() {
    local refuse="drop" masq="masquerade" cone="" loss=""
    [[ $WAN_POLICY == reject ]] && refuse="reject"
    [[ $LOSS =~ ^[0-9]+$ && $LOSS -le 100 ]] || die "NATLAB_LOSS must be 0..100"
    case $NAT_KIND in
    port-restricted) ;;
    symmetric) masq="masquerade random,fully-random" ;;
    # Masquerade keeps the client's source port when it is free (one client here), so the
    # mapped port is the client's own and a dnat to the same port reaches it.
    full-cone)
        cone='iifname "lan0" oifname "wan0" meta l4proto tcp update @mapped { tcp sport }'
        ;;
    address-restricted)
        cone='iifname "lan0" oifname "wan0" meta l4proto tcp update @contacted { ip daddr . tcp sport }'
        ;;
    *) die "NATLAB_NAT must be port-restricted, address-restricted, full-cone or symmetric" ;;
    esac
    [[ $LOSS -gt 0 ]] && loss="numgen random mod 100 < $LOSS drop"
    # A NAT router: masquerade out of the LAN, a stateful filter in, port forwards from a map,
    # the cone kinds' inbound admission from dynamic sets, random loss on every forwarded packet.
    in_ns rtr nft -f - <<EOF
table ip natlab {
    map forwards { type inet_service : ipv4_addr . inet_service; }
    set mapped { type inet_service; flags dynamic, timeout; timeout 5m; }
    set contacted { type ipv4_addr . inet_service; flags dynamic, timeout; timeout 5m; }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "wan0" meta l4proto tcp dnat ip to tcp dport map @forwards
        iifname "wan0" tcp dport @mapped dnat ip to 192.168.77.2
        iifname "wan0" ip saddr . tcp dport @contacted dnat ip to 192.168.77.2
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" ip saddr 192.168.77.0/24 $masq
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan0" ct state established,related accept
        iifname "wan0" $refuse
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        $loss
        $cone
        iifname "lan0" oifname "wan0" accept
        iifname "wan0" oifname "lan0" ct state established,related accept
        iifname "wan0" oifname "lan0" ct status dnat accept
        iifname "wan0" $refuse
    }
}
EOF
}

up() {
    need_tools
    down
    trap 'echo "natlab: setup failed; removing the partial lab" >&2; down' ERR
    local node
    for node in "${NODES[@]}"; do init_ns "$node"; done

    # The public segment: a bridge in pub, the router's WAN and pub2 plugged into it.
    ip -n "$(ns pub)" link add br0 type bridge stp_state 0 forward_delay 0
    ip -n "$(ns rtr)" link add wan0 type veth peer name rt netns "$(ns pub)"
    ip -n "$(ns pub2)" link add eth0 type veth peer name p2 netns "$(ns pub)"
    ip -n "$(ns priv)" link add eth0 type veth peer name lan0 netns "$(ns rtr)"
    ip -n "$(ns pub)" link set rt master br0
    ip -n "$(ns pub)" link set p2 master br0

    ip -n "$(ns pub)" addr add 203.0.113.10/24 dev br0
    # The boot node's alternate dial-back address and a second boot node's address.
    ip -n "$(ns pub)" addr add 203.0.113.12/24 dev br0
    ip -n "$(ns pub)" addr add 203.0.113.13/24 dev br0
    ip -n "$(ns pub2)" addr add 203.0.113.11/24 dev eth0
    ip -n "$(ns rtr)" addr add 203.0.113.1/24 dev wan0
    ip -n "$(ns rtr)" addr add 192.168.77.1/24 dev lan0
    ip -n "$(ns priv)" addr add 192.168.77.2/24 dev eth0
    for link in br0 rt p2; do ip -n "$(ns pub)" link set "$link" up; done
    ip -n "$(ns pub2)" link set eth0 up
    ip -n "$(ns rtr)" link set wan0 up
    ip -n "$(ns rtr)" link set lan0 up
    ip -n "$(ns priv)" link set eth0 up
    ip -n "$(ns priv)" route add default via 192.168.77.1

    in_ns rtr sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    router_rules
    [[ $V6 != off ]] && ipv6_up
    trap - ERR
    echo "natlab: up (prefix $PREFIX, WAN policy $WAN_POLICY, NAT $NAT_KIND, loss $LOSS %, IPv6 $V6)"
}

forward() {
    local op=${1:-} proto=${2:-} port=${3:-}
    [[ $proto == tcp && $port =~ ^[0-9]+$ ]] || die "usage: forward add|del tcp PORT"
    case $op in
    add) in_ns rtr nft add element ip natlab forwards "{ $port : 192.168.77.2 . $port }" ;;
    del)
        in_ns rtr nft delete element ip natlab forwards "{ $port }" 2>/dev/null || true
        # Established flows through the old mapping would otherwise keep working.
        if command -v conntrack >/dev/null; then
            in_ns rtr conntrack -D -p tcp --orig-port-dst "$port" >/dev/null 2>&1 || true
        fi
        ;;
    *) die "usage: forward add|del tcp PORT" ;;
    esac
}

block() {
    local node=${1:-} proto=${2:-} port=${3:-}
    [[ $proto == tcp && $port =~ ^[0-9]+$ ]] || die "usage: block NODE tcp PORT"
    in_ns "$node" nft -f - <<EOF
table ip natlab_block {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport $port drop
    }
}
EOF
}

status() {
    local node
    for node in "${NODES[@]}"; do
        if ip netns list 2>/dev/null | grep -qw -- "$(ns "$node")"; then
            echo "$(ns "$node"): $(ip -n "$(ns "$node")" -o addr show scope global | awk '$2 != "lo" {printf "%s ", $4}')"
        else
            echo "$(ns "$node"): absent"
        fi
    done
}

cmd=${1:-}
shift || true
case $cmd in
up) up ;;
down) down ;;
status) status ;;
forward) forward "$@" ;;
block) block "$@" ;;
exec)
    node=${1:-}
    shift || true
    [[ " ${NODES[*]} " == *" $node "* ]] || die "unknown node '$node' (pub, pub2, rtr, priv)"
    in_ns "$node" "$@"
    ;;
*) die "usage: natlab.sh up | down | status | forward add|del tcp PORT | block NODE tcp PORT | exec NODE CMD..." ;;
esac
