//! IP addresses classified against the IANA special-purpose address registries (RFC 6890 and
//! the RFCs that updated them: RFC 8190, RFC 9637 for `3fff::/20`, RFC 9602 for `5f00::/16`,
//! …), by each block's "Globally Reachable" column. The longest matching block decides; a
//! block marked globally reachable inside one that is not (the PCP and TURN anycast addresses
//! in `192.0.0.0/24`, AMT and AS112 in `2001::/23`) is public.
//!
//! Addresses that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`,
//! the well-known NAT64 prefix `64:ff9b::/96`, 6to4 `2002::/16`) take the class of the IPv4
//! address they carry:
//! `64:ff9b::a00:1` is 10.0.0.1 on a NAT64 network, and a boot list must not steer a client
//! there as if it were public. Outside the registries, IPv4 is public unless multicast (RFC
//! 5771); IPv6 is public only inside global unicast, `2000::/3` (RFC 4291 §2.4).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::AddrClass;
use AddrClass::{Benchmarking, Cgnat, Documentation, LinkLocal, Loopback, Private, Public};
use AddrClass::{Reserved, Unspecified};

/// IPv4 blocks: base address, prefix length, class.
const V4: &[(u32, u8, AddrClass)] = &[
    (0x0000_0000, 8, Reserved),       // 0.0.0.0/8 "this network"
    (0x0000_0000, 32, Unspecified),   // 0.0.0.0/32 "this host on this network"
    (0x0a00_0000, 8, Private),        // 10.0.0.0/8 private-use (RFC 1918)
    (0x6440_0000, 10, Cgnat),         // 100.64.0.0/10 shared address space (RFC 6598)
    (0x7f00_0000, 8, Loopback),       // 127.0.0.0/8
    (0xa9fe_0000, 16, LinkLocal),     // 169.254.0.0/16 (RFC 3927)
    (0xac10_0000, 12, Private),       // 172.16.0.0/12 private-use
    (0xc000_0000, 24, Reserved),      // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0000, 29, Reserved),      // 192.0.0.0/29 IPv4 service continuity (DS-Lite)
    (0xc000_0008, 32, Reserved),      // 192.0.0.8/32 IPv4 dummy address (RFC 7600)
    (0xc000_0009, 32, Public),        // 192.0.0.9/32 PCP anycast (RFC 7723): global
    (0xc000_000a, 32, Public),        // 192.0.0.10/32 TURN anycast (RFC 8155): global
    (0xc000_00aa, 32, Reserved),      // 192.0.0.170/32 NAT64/DNS64 discovery (RFC 7050)
    (0xc000_00ab, 32, Reserved),      // 192.0.0.171/32 NAT64/DNS64 discovery
    (0xc000_0200, 24, Documentation), // 192.0.2.0/24 TEST-NET-1 (RFC 5737)
    (0xc01f_c400, 24, Public),        // 192.31.196.0/24 AS112-v4 (RFC 7535): global
    (0xc034_c100, 24, Public),        // 192.52.193.0/24 AMT (RFC 7450): global
    (0xc058_6300, 24, Reserved),      // 192.88.99.0/24 deprecated 6to4 relay anycast (RFC 7526)
    (0xc058_6302, 32, Reserved),      // 192.88.99.2/32 6a44 relay anycast (RFC 6751)
    (0xc0a8_0000, 16, Private),       // 192.168.0.0/16 private-use
    (0xc0af_3000, 24, Public),        // 192.175.48.0/24 AS112 direct delegation (RFC 7534)
    (0xc612_0000, 15, Benchmarking),  // 198.18.0.0/15 benchmarking (RFC 2544)
    (0xc633_6400, 24, Documentation), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24, Documentation), // 203.0.113.0/24 TEST-NET-3
    (0xe000_0000, 4, Reserved),       // 224.0.0.0/4 multicast (RFC 5771, not a unicast peer)
    (0xf000_0000, 4, Reserved),       // 240.0.0.0/4 reserved (RFC 1112)
    (0xffff_ffff, 32, Reserved),      // 255.255.255.255/32 limited broadcast (RFC 919)
];

/// How an IPv6 block is judged.
#[derive(Debug, Clone, Copy)]
enum V6Rule {
    Is(AddrClass),
    /// The IPv4 address in the low 32 bits decides.
    LowIpv4,
    /// 6to4: the IPv4 address in bits 16..48 decides.
    SixToFour,
}

const fn v6(segments: [u16; 8]) -> u128 {
    let mut out = 0u128;
    let mut i = 0;
    while i < 8 {
        out = (out << 16) | segments[i] as u128;
        i += 1;
    }
    out
}

/// IPv6 blocks: base address, prefix length, rule.
const V6: &[(u128, u8, V6Rule)] = &[
    (0, 128, V6Rule::Is(Unspecified)),                        // ::/128
    (1, 128, V6Rule::Is(Loopback)),                           // ::1/128
    (0, 96, V6Rule::LowIpv4),                                 // ::/96 IPv4-compatible (deprecated)
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96, V6Rule::LowIpv4), // ::ffff:0:0/96 IPv4-mapped
    (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96, V6Rule::LowIpv4), // 64:ff9b::/96 NAT64 (RFC 6052)
    // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): an operator's own translator, not globally
    // reachable. Where the IPv4 bits sit depends on the prefix length the operator chose
    // inside it (RFC 6052 §2.2), so the block is judged as a whole.
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]),
        48,
        V6Rule::Is(Private),
    ),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, V6Rule::Is(Reserved)), // 100::/64 discard-only
    (v6([0x100, 0, 0, 1, 0, 0, 0, 0]), 64, V6Rule::Is(Reserved)), // 100:0:0:1::/64 dummy (RFC 9780)
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, V6Rule::Is(Reserved)), // 2001::/23 IETF protocol assignments
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, V6Rule::Is(Reserved)), // 2001::/32 Teredo (RFC 4380)
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 1]), 128, V6Rule::Is(Public)),  // 2001:1::1 PCP anycast: global
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 2]), 128, V6Rule::Is(Public)),  // 2001:1::2 TURN anycast: global
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 3]), 128, V6Rule::Is(Public)), // 2001:1::3 DNS-SD SRP anycast: global
    (
        v6([0x2001, 2, 0, 0, 0, 0, 0, 0]),
        48,
        V6Rule::Is(Benchmarking),
    ), // 2001:2::/48 (RFC 5180)
    (v6([0x2001, 3, 0, 0, 0, 0, 0, 0]), 32, V6Rule::Is(Public)),  // 2001:3::/32 AMT: global
    (
        v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0]),
        48,
        V6Rule::Is(Public),
    ), // 2001:4:112::/48 AS112-v6
    (
        v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0]),
        28,
        V6Rule::Is(Reserved),
    ), // 2001:10::/28 ORCHIDv1, deprecated
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28, V6Rule::Is(Public)), // 2001:20::/28 ORCHIDv2: global
    (v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0]), 28, V6Rule::Is(Public)), // 2001:30::/28 DETs: global
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]),
        32,
        V6Rule::Is(Documentation),
    ), // 2001:db8::/32
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, V6Rule::SixToFour),   // 2002::/16 6to4 (RFC 3056)
    (
        v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0]),
        48,
        V6Rule::Is(Public),
    ), // AS112 direct delegation
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]),
        20,
        V6Rule::Is(Documentation),
    ), // 3fff::/20 (RFC 9637)
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), 16, V6Rule::Is(Reserved)), // 5f00::/16 SRv6 SIDs (RFC 9602)
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, V6Rule::Is(Private)), // fc00::/7 unique-local (RFC 4193)
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, V6Rule::Is(LinkLocal)), // fe80::/10
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10, V6Rule::Is(Reserved)), // fec0::/10 site-local (RFC 3879)
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, V6Rule::Is(Reserved)),  // ff00::/8 multicast
    (v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3, V6Rule::Is(Public)),    // 2000::/3 global unicast
];

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// Classifies an IPv4 address by the longest matching special-purpose block; public outside
/// them.
pub fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let ip = u32::from(ip);
    V4.iter()
        .filter(|(base, len, _)| (ip ^ base) & mask32(*len) == 0)
        .max_by_key(|(_, len, _)| *len)
        .map_or(Public, |(_, _, class)| *class)
}

/// Classifies an IPv6 address by the longest matching special-purpose block (an address that
/// carries an IPv4 address by that address); outside `2000::/3` nothing is public.
pub fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let bits = u128::from(ip);
    let rule = V6
        .iter()
        .filter(|(base, len, _)| (bits ^ base) & mask128(*len) == 0)
        .max_by_key(|(_, len, _)| *len)
        .map_or(V6Rule::Is(Reserved), |(_, _, rule)| *rule);
    let low = || classify_v4(Ipv4Addr::from(bits as u32));
    match rule {
        V6Rule::Is(class) => class,
        V6Rule::LowIpv4 => low(),
        V6Rule::SixToFour => classify_v4(Ipv4Addr::from((bits >> 80) as u32)),
    }
}
