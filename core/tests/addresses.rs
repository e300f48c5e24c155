//! Address classes against the IANA special-purpose address registries, row by row, and a
//! property: no address the default policy dials lies in a block the registries call not
//! globally reachable.
//!
//! The rows below are transcribed from the registries as published (iana-ipv4-special-registry,
//! iana-ipv6-special-registry; blocks, names and the "Globally Reachable" column), plus the
//! deprecated blocks RFC 4291 and RFC 3879 removed from use and the multicast ranges. They are
//! read here from text, independently of the tables in `core/src/addr/special.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use pyrsia_boot_core::{classify, AddrClass, AddressPolicy, Multiaddr};
use pyrsia_boot_core::{classify_v4, classify_v6};

/// Globally reachable, per the registry: `Some(true)`, `Some(false)`, or `None` for N/A.
type Global = Option<bool>;

/// How the registry row is to be classified here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Class(AddrClass),
    /// The row's addresses carry an IPv4 address, which decides.
    Carries,
}

use AddrClass::*;
use Expect::{Carries, Class};

/// (block, name, globally reachable, expected class).
const V4_ROWS: &[(&str, &str, Global, Expect)] = &[
    ("0.0.0.0/8", "This network", Some(false), Class(Reserved)),
    (
        "0.0.0.0/32",
        "This host on this network",
        Some(false),
        Class(Unspecified),
    ),
    ("10.0.0.0/8", "Private-Use", Some(false), Class(Private)),
    (
        "100.64.0.0/10",
        "Shared Address Space",
        Some(false),
        Class(Cgnat),
    ),
    ("127.0.0.0/8", "Loopback", Some(false), Class(Loopback)),
    (
        "169.254.0.0/16",
        "Link Local",
        Some(false),
        Class(LinkLocal),
    ),
    ("172.16.0.0/12", "Private-Use", Some(false), Class(Private)),
    (
        "192.0.0.0/24",
        "IETF Protocol Assignments",
        Some(false),
        Class(Reserved),
    ),
    (
        "192.0.0.0/29",
        "IPv4 Service Continuity Prefix",
        Some(false),
        Class(Reserved),
    ),
    (
        "192.0.0.8/32",
        "IPv4 dummy address",
        Some(false),
        Class(Reserved),
    ),
    (
        "192.0.0.9/32",
        "Port Control Protocol Anycast",
        Some(true),
        Class(Public),
    ),
    (
        "192.0.0.10/32",
        "Traversal Using Relays around NAT Anycast",
        Some(true),
        Class(Public),
    ),
    (
        "192.0.0.170/32",
        "NAT64/DNS64 Discovery",
        Some(false),
        Class(Reserved),
    ),
    (
        "192.0.0.171/32",
        "NAT64/DNS64 Discovery",
        Some(false),
        Class(Reserved),
    ),
    (
        "192.0.2.0/24",
        "Documentation (TEST-NET-1)",
        Some(false),
        Class(Documentation),
    ),
    ("192.31.196.0/24", "AS112-v4", Some(true), Class(Public)),
    ("192.52.193.0/24", "AMT", Some(true), Class(Public)),
    (
        "192.88.99.0/24",
        "Deprecated (6to4 Relay Anycast)",
        None,
        Class(Reserved),
    ),
    (
        "192.88.99.2/32",
        "6a44-relay anycast address",
        Some(false),
        Class(Reserved),
    ),
    ("192.168.0.0/16", "Private-Use", Some(false), Class(Private)),
    (
        "192.175.48.0/24",
        "Direct Delegation AS112 Service",
        Some(true),
        Class(Public),
    ),
    (
        "198.18.0.0/15",
        "Benchmarking",
        Some(false),
        Class(Benchmarking),
    ),
    (
        "198.51.100.0/24",
        "Documentation (TEST-NET-2)",
        Some(false),
        Class(Documentation),
    ),
    (
        "203.0.113.0/24",
        "Documentation (TEST-NET-3)",
        Some(false),
        Class(Documentation),
    ),
    ("240.0.0.0/4", "Reserved", Some(false), Class(Reserved)),
    (
        "255.255.255.255/32",
        "Limited Broadcast",
        Some(false),
        Class(Reserved),
    ),
    // Not in the special-purpose registry: the multicast space (RFC 5771).
    ("224.0.0.0/4", "Multicast", Some(false), Class(Reserved)),
];

const V6_ROWS: &[(&str, &str, Global, Expect)] = &[
    ("::1/128", "Loopback Address", Some(false), Class(Loopback)),
    (
        "::/128",
        "Unspecified Address",
        Some(false),
        Class(Unspecified),
    ),
    ("::ffff:0:0/96", "IPv4-mapped Address", Some(false), Carries),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", Some(true), Carries),
    (
        "64:ff9b:1::/48",
        "IPv4-IPv6 Translat. (local use)",
        Some(false),
        Class(Private),
    ),
    (
        "100::/64",
        "Discard-Only Address Block",
        Some(false),
        Class(Reserved),
    ),
    (
        "100:0:0:1::/64",
        "Dummy IPv6 Prefix",
        Some(false),
        Class(Reserved),
    ),
    (
        "2001::/23",
        "IETF Protocol Assignments",
        Some(false),
        Class(Reserved),
    ),
    ("2001::/32", "TEREDO", None, Class(Reserved)),
    (
        "2001:1::1/128",
        "Port Control Protocol Anycast",
        Some(true),
        Class(Public),
    ),
    (
        "2001:1::2/128",
        "Traversal Using Relays around NAT Anycast",
        Some(true),
        Class(Public),
    ),
    (
        "2001:1::3/128",
        "DNS-SD Service Registration Protocol Anycast",
        Some(true),
        Class(Public),
    ),
    (
        "2001:2::/48",
        "Benchmarking",
        Some(false),
        Class(Benchmarking),
    ),
    ("2001:3::/32", "AMT", Some(true), Class(Public)),
    ("2001:4:112::/48", "AS112-v6", Some(true), Class(Public)),
    (
        "2001:10::/28",
        "Deprecated (previously ORCHID)",
        None,
        Class(Reserved),
    ),
    ("2001:20::/28", "ORCHIDv2", Some(true), Class(Public)),
    (
        "2001:30::/28",
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        Some(true),
        Class(Public),
    ),
    (
        "2001:db8::/32",
        "Documentation",
        Some(false),
        Class(Documentation),
    ),
    ("2002::/16", "6to4", None, Carries),
    (
        "2620:4f:8000::/48",
        "Direct Delegation AS112 Service",
        Some(true),
        Class(Public),
    ),
    (
        "3fff::/20",
        "Documentation",
        Some(false),
        Class(Documentation),
    ),
    (
        "5f00::/16",
        "Segment Routing (SRv6) SIDs",
        Some(false),
        Class(Reserved),
    ),
    ("fc00::/7", "Unique-Local", Some(false), Class(Private)),
    (
        "fe80::/10",
        "Link-Local Unicast",
        Some(false),
        Class(LinkLocal),
    ),
    // Not in the registry any more, or never: deprecated by RFC 4291 and RFC 3879, and the
    // multicast space.
    (
        "::/96",
        "IPv4-compatible (deprecated)",
        Some(false),
        Carries,
    ),
    (
        "fec0::/10",
        "Site-local (deprecated)",
        Some(false),
        Class(Reserved),
    ),
    ("ff00::/8", "Multicast", Some(false), Class(Reserved)),
];

fn v4_block(row: &str) -> (u32, u32) {
    let (base, len) = row.split_once('/').expect("a prefix");
    let base = u32::from(base.parse::<Ipv4Addr>().expect("an IPv4 block"));
    (base, len.parse().expect("a length"))
}

fn v6_block(row: &str) -> (u128, u32) {
    let (base, len) = row.split_once('/').expect("a prefix");
    let base = u128::from(base.parse::<Ipv6Addr>().expect("an IPv6 block"));
    (base, len.parse().expect("a length"))
}

fn in_v4(ip: u32, (base, len): (u32, u32)) -> bool {
    len == 0 || (ip ^ base) >> (32 - len) == 0
}

fn in_v6(ip: u128, (base, len): (u128, u32)) -> bool {
    len == 0 || (ip ^ base) >> (128 - len) == 0
}

/// The most specific row containing `ip`.
fn v4_row(ip: u32) -> Option<&'static (&'static str, &'static str, Global, Expect)> {
    V4_ROWS
        .iter()
        .filter(|r| in_v4(ip, v4_block(r.0)))
        .max_by_key(|r| v4_block(r.0).1)
}

fn v6_row(ip: u128) -> Option<&'static (&'static str, &'static str, Global, Expect)> {
    V6_ROWS
        .iter()
        .filter(|r| in_v6(ip, v6_block(r.0)))
        .max_by_key(|r| v6_block(r.0).1)
}

/// Addresses of a block to try: its first, one past it (for blocks longer than one address),
/// a middle one and its last.
fn samples_v4((base, len): (u32, u32)) -> Vec<u32> {
    let size = if len == 0 {
        u32::MAX
    } else {
        (1u64 << (32 - len)) as u32 - 1
    };
    let mut out = vec![base, base | size];
    if size > 1 {
        out.push(base + 1);
        out.push(base + size / 2);
    }
    out
}

fn samples_v6((base, len): (u128, u32)) -> Vec<u128> {
    let size = if len == 0 {
        u128::MAX
    } else {
        (1u128 << (128 - len)).wrapping_sub(1)
    };
    let mut out = vec![base, base | size];
    if size > 1 {
        // A carried IPv4 address that is public, and one that is private.
        out.push(base | 0x0808_0808);
        out.push(base | (size / 3));
    }
    out
}

fn class_of(ip: IpAddr) -> AddrClass {
    let addr: Multiaddr = match ip {
        IpAddr::V4(a) => format!("/ip4/{a}/tcp/4001"),
        IpAddr::V6(a) => format!("/ip6/{a}/tcp/4001"),
    }
    .parse()
    .expect("valid");
    classify(&addr)
}

/// The IPv4 address a carrying IPv6 address holds.
fn carried(ip: u128) -> Ipv4Addr {
    if in_v6(ip, v6_block("2002::/16")) {
        Ipv4Addr::from((ip >> 80) as u32)
    } else {
        Ipv4Addr::from(ip as u32)
    }
}

#[test]
fn every_ipv4_registry_block_has_its_class() {
    for (block, name, _, expect) in V4_ROWS {
        for ip in samples_v4(v4_block(block)) {
            // A sample inside a more specific row is that row's to judge.
            let row = v4_row(ip).expect("in its own row at least");
            let Class(want) = row.3 else {
                unreachable!("no IPv4 row carries an address")
            };
            let got = class_of(IpAddr::V4(Ipv4Addr::from(ip)));
            assert_eq!(
                got,
                want,
                "{} in {block} ({name}), judged by {}",
                Ipv4Addr::from(ip),
                row.0
            );
            let _ = expect;
        }
    }
}

#[test]
fn every_ipv6_registry_block_has_its_class() {
    for (block, name, _, _) in V6_ROWS {
        for ip in samples_v6(v6_block(block)) {
            let row = v6_row(ip).expect("in its own row at least");
            let want = match row.3 {
                Class(c) => c,
                Carries => classify_v4(carried(ip)),
            };
            let got = class_of(IpAddr::V6(Ipv6Addr::from(ip)));
            assert_eq!(
                got,
                want,
                "{} in {block} ({name}), judged by {}",
                Ipv6Addr::from(ip),
                row.0
            );
        }
    }
}

#[test]
fn the_addresses_the_issue_found_dialed_as_public_are_not() {
    for (addr, want) in [
        ("/ip6/3fff::1/tcp/1", Documentation),
        ("/ip6/64:ff9b::a00:1/tcp/1", Private), // 10.0.0.1 behind NAT64
        ("/ip6/64:ff9b::7f00:1/tcp/1", Loopback),
        ("/ip6/64:ff9b:1::808:808/tcp/1", Private),
        ("/ip6/2002:a00:1::1/tcp/1", Private), // 6to4 for 10.0.0.1
        ("/ip6/2002:c000:201::1/tcp/1", Documentation),
        ("/ip6/fec0::1/tcp/1", Reserved),
        ("/ip6/::7f00:1/tcp/1", Loopback), // IPv4-compatible 127.0.0.1
        ("/ip6/100::1/tcp/1", Reserved),
        ("/ip6/2001::1/tcp/1", Reserved), // Teredo
        ("/ip4/198.18.0.1/tcp/1", Benchmarking),
        ("/ip4/198.19.255.254/tcp/1", Benchmarking),
        ("/ip6/5f00::1/tcp/1", Reserved),
        ("/ip6/4000::1/tcp/1", Reserved), // outside global unicast
    ] {
        let addr: Multiaddr = addr.parse().expect("valid");
        assert_eq!(classify(&addr), want, "{addr}");
        assert!(
            !AddressPolicy::public_only().allows(classify(&addr)),
            "{addr}"
        );
    }
    // What stays public: addresses carrying a public IPv4 address, and ordinary unicast.
    for addr in [
        "/ip6/64:ff9b::808:808/tcp/1",
        "/ip6/2002:808:808::1/tcp/1",
        "/ip6/::ffff:8.8.8.8/tcp/1",
        "/ip6/2a00:1450::1/tcp/1",
        "/ip4/192.0.0.9/tcp/1",
        "/ip6/2001:4:112::1/tcp/1",
    ] {
        let addr: Multiaddr = addr.parse().expect("valid");
        assert_eq!(classify(&addr), Public, "{addr}");
    }
}

/// Addresses drawn mostly from inside the registry blocks (their edges included) and the rest
/// anywhere.
fn v4_addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0..V4_ROWS.len(), any::<u32>()).prop_map(|(i, r)| {
            let (base, len) = v4_block(V4_ROWS[i].0);
            let host = if len == 0 {
                r
            } else {
                r & ((1u64 << (32 - len)) as u32).wrapping_sub(1)
            };
            base | host
        }),
    ]
}

fn v6_addr() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u128>(),
        (0..V6_ROWS.len(), any::<u128>(), v4_addr()).prop_map(|(i, r, v4)| {
            let (base, len) = v6_block(V6_ROWS[i].0);
            let host = if len == 0 {
                r
            } else {
                r & (1u128 << (128 - len)).wrapping_sub(1)
            };
            // Half of them carry an address drawn like any IPv4 one.
            let host = if r & 1 == 0 {
                host
            } else {
                (host & !0xffff_ffff) | u128::from(v4)
            };
            base | host
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// An IPv4 address the default policy would dial lies in no block that the registry calls
    /// not globally reachable (N/A counts as not).
    #[test]
    fn no_public_ipv4_address_is_in_a_non_global_block(ip in v4_addr()) {
        let public = AddressPolicy::public_only().allows(class_of(IpAddr::V4(Ipv4Addr::from(ip))));
        if public {
            if let Some(row) = v4_row(ip) {
                prop_assert_eq!(row.2, Some(true), "{} is in {} ({})", Ipv4Addr::from(ip), row.0, row.1);
            }
        }
    }

    /// The same for IPv6, where an address that carries an IPv4 address is judged by that
    /// address, and nothing outside global unicast (`2000::/3`) is public.
    #[test]
    fn no_public_ipv6_address_is_in_a_non_global_block(ip in v6_addr()) {
        let public = AddressPolicy::public_only().allows(class_of(IpAddr::V6(Ipv6Addr::from(ip))));
        if public {
            let row = v6_row(ip);
            match row {
                Some((_, _, _, Carries)) => {
                    let v4 = u32::from(carried(ip));
                    if let Some(r) = v4_row(v4) {
                        prop_assert_eq!(r.2, Some(true), "{} carries {} in {}", Ipv6Addr::from(ip), Ipv4Addr::from(v4), r.0);
                    }
                }
                Some(r) => prop_assert_eq!(r.2, Some(true), "{} is in {} ({})", Ipv6Addr::from(ip), r.0, r.1),
                None => prop_assert!(
                    in_v6(ip, v6_block("2000::/3")),
                    "{} is public outside global unicast", Ipv6Addr::from(ip)
                ),
            }
        }
    }
}

#[test]
fn classify_v6_and_the_multiaddr_path_agree() {
    let ip: Ipv6Addr = "64:ff9b::a00:1".parse().expect("valid");
    assert_eq!(classify_v6(ip), class_of(IpAddr::V6(ip)));
}
