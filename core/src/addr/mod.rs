//! Address classification and the address policy.
//!
//! A boot list comes from a remote, unauthenticated source. Dialing the loopback, LAN or
//! documentation addresses it names is at best useless and at worst an attack on the local
//! network (go-libp2p#436; geth's `CheckRelayIP` applies the same rule). The classes below are
//! what the policy decides on; [`AddressPolicy::public_only`] is the default and
//! [`AddressPolicy::allow_private`] opens everything a LAN, lab or loopback demo needs.

use std::fmt;

use multiaddr::{Multiaddr, Protocol};

mod endpoint;
mod special;
mod url;

pub use endpoint::{ip_and_tcp_port, url_host_ip};

pub use special::{classify_v4, classify_v6};
pub use url::check_boot_url;

/// What kind of network an address points into, judged from its first component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AddrClass {
    /// A globally routable IP address.
    Public,
    /// RFC 1918 IPv4 or RFC 4193 unique-local IPv6 (`fc00::/7`).
    Private,
    /// `127.0.0.0/8`, `::1`, or the DNS name `localhost`.
    Loopback,
    /// `169.254.0.0/16` or `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT space, `100.64.0.0/10` (RFC 6598).
    Cgnat,
    /// Documentation ranges: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`.
    Documentation,
    /// `0.0.0.0` or `::`: a listener's wildcard, never a destination.
    Unspecified,
    /// Benchmarking ranges, `198.18.0.0/15` and `2001:2::/48` (RFC 2544, RFC 5180): for
    /// network test labs.
    Benchmarking,
    /// Not a meaningful destination for a boot peer: multicast, broadcast, `0.0.0.0/8`,
    /// `240.0.0.0/4`, the IETF protocol assignments the registries mark as not globally
    /// reachable (DS-Lite, NAT64 discovery, Teredo, discard-only, SRv6 SIDs, …), deprecated
    /// blocks (6to4 relay anycast, ORCHIDv1, site-local) and IPv6 outside `2000::/3`.
    Reserved,
    /// `/dns`, `/dns4`, `/dns6` or `/dnsaddr`: the adapter resolves it before dialing.
    Dns,
    /// Anything else (`/unix`, a bare `/p2p-circuit`, …).
    Other,
}

impl AddrClass {
    /// Every class, in declaration order.
    pub const ALL: [AddrClass; 11] = [
        AddrClass::Public,
        AddrClass::Private,
        AddrClass::Loopback,
        AddrClass::LinkLocal,
        AddrClass::Cgnat,
        AddrClass::Documentation,
        AddrClass::Unspecified,
        AddrClass::Benchmarking,
        AddrClass::Reserved,
        AddrClass::Dns,
        AddrClass::Other,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// A short lowercase name, used in reports.
    pub fn name(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Private => "private",
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Cgnat => "cgnat",
            AddrClass::Documentation => "documentation",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Benchmarking => "benchmarking",
            AddrClass::Reserved => "reserved",
            AddrClass::Dns => "dns",
            AddrClass::Other => "other",
        }
    }
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Classifies an address by its first component.
pub fn classify(addr: &Multiaddr) -> AddrClass {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => classify_v4(ip),
        Some(Protocol::Ip6(ip)) => classify_v6(ip),
        Some(Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name)) => {
            classify_name(&name)
        }
        Some(Protocol::Dnsaddr(name)) => classify_name(&name),
        _ => AddrClass::Other,
    }
}

/// Whether `addr` starts with a name the driver resolves (`/dns`, `/dns4`, `/dns6`, or
/// `/dnsaddr`, whose TXT records are whole multiaddrs) rather than an IP. `localhost` counts:
/// it is a name, even though its class is loopback.
pub fn is_dns_name(addr: &Multiaddr) -> bool {
    matches!(
        addr.iter().next(),
        Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_))
    )
}

fn classify_name(name: &str) -> AddrClass {
    // Bytes, not `str` slices: a boot list may name hosts in any UTF-8, and a slice boundary
    // inside a multi-byte character would panic.
    let name = name.trim_end_matches('.').as_bytes();
    if name.eq_ignore_ascii_case(b"localhost")
        || name.len() > 10 && name[name.len() - 10..].eq_ignore_ascii_case(b".localhost")
    {
        AddrClass::Loopback
    } else {
        AddrClass::Dns
    }
}

/// Which address classes may be dialed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: u16,
}

impl AddressPolicy {
    /// Public IPs and DNS names only: the default for boot lists from the internet.
    pub fn public_only() -> Self {
        AddressPolicy { allowed: 0 }
            .with(AddrClass::Public)
            .with(AddrClass::Dns)
    }

    /// Also private, loopback, link-local, CGNAT, documentation and benchmarking addresses:
    /// for LANs, labs and loopback demos. Unspecified, reserved and other addresses stay
    /// refused; they are never a meaningful destination.
    pub fn allow_private() -> Self {
        Self::public_only()
            .with(AddrClass::Private)
            .with(AddrClass::Loopback)
            .with(AddrClass::LinkLocal)
            .with(AddrClass::Cgnat)
            .with(AddrClass::Documentation)
            .with(AddrClass::Benchmarking)
    }

    /// This policy with `class` allowed as well.
    #[must_use]
    pub fn with(mut self, class: AddrClass) -> Self {
        self.allowed |= class.bit();
        self
    }

    /// This policy with `class` refused.
    #[must_use]
    pub fn without(mut self, class: AddrClass) -> Self {
        self.allowed &= !class.bit();
        self
    }

    /// Whether addresses of `class` may be dialed.
    pub fn allows(&self, class: AddrClass) -> bool {
        self.allowed & class.bit() != 0
    }
}

impl Default for AddressPolicy {
    fn default() -> Self {
        Self::public_only()
    }
}

impl fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(AddrClass::ALL.iter().filter(|c| self.allows(**c)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(&s.parse().expect("test address parses"))
    }

    #[test]
    fn classifies_each_ipv4_range() {
        assert_eq!(class("/ip4/8.8.4.4/tcp/1"), AddrClass::Public);
        assert_eq!(class("/ip4/10.1.2.3/tcp/1"), AddrClass::Private);
        assert_eq!(class("/ip4/172.16.0.1/tcp/1"), AddrClass::Private);
        assert_eq!(class("/ip4/172.32.0.1/tcp/1"), AddrClass::Public);
        assert_eq!(class("/ip4/192.168.1.1/tcp/1"), AddrClass::Private);
        assert_eq!(class("/ip4/127.0.0.1/tcp/1"), AddrClass::Loopback);
        assert_eq!(class("/ip4/169.254.3.4/tcp/1"), AddrClass::LinkLocal);
        assert_eq!(class("/ip4/100.64.0.1/tcp/1"), AddrClass::Cgnat);
        assert_eq!(class("/ip4/100.127.255.255/tcp/1"), AddrClass::Cgnat);
        assert_eq!(class("/ip4/100.128.0.1/tcp/1"), AddrClass::Public);
        assert_eq!(class("/ip4/192.0.2.7/tcp/1"), AddrClass::Documentation);
        assert_eq!(class("/ip4/198.51.100.7/tcp/1"), AddrClass::Documentation);
        assert_eq!(class("/ip4/203.0.113.7/tcp/1"), AddrClass::Documentation);
        assert_eq!(class("/ip4/0.0.0.0/tcp/1"), AddrClass::Unspecified);
        assert_eq!(class("/ip4/224.0.0.1/tcp/1"), AddrClass::Reserved);
        assert_eq!(class("/ip4/255.255.255.255/tcp/1"), AddrClass::Reserved);
    }

    #[test]
    fn classifies_each_ipv6_range() {
        assert_eq!(class("/ip6/2a00:1450::1/tcp/1"), AddrClass::Public);
        assert_eq!(class("/ip6/::1/tcp/1"), AddrClass::Loopback);
        assert_eq!(class("/ip6/::/tcp/1"), AddrClass::Unspecified);
        assert_eq!(class("/ip6/fd12::1/tcp/1"), AddrClass::Private);
        assert_eq!(class("/ip6/fe80::1/tcp/1"), AddrClass::LinkLocal);
        assert_eq!(class("/ip6/2001:db8::1/tcp/1"), AddrClass::Documentation);
        assert_eq!(class("/ip6/ff02::1/tcp/1"), AddrClass::Reserved);
        assert_eq!(class("/ip6/::ffff:10.0.0.1/tcp/1"), AddrClass::Private);
    }

    #[test]
    fn classifies_dns_names_and_localhost() {
        assert_eq!(class("/dns4/boot.example.org/tcp/1"), AddrClass::Dns);
        assert_eq!(class("/dns/localhost/tcp/1"), AddrClass::Loopback);
        assert_eq!(class("/dns6/a.localhost/tcp/1"), AddrClass::Loopback);
        assert_eq!(class("/dnsaddr/bootstrap.example.org"), AddrClass::Dns);
        // Non-ASCII names, the tenth byte from the end inside a character: no panic.
        assert_eq!(class("/dns/\u{e9}123456789/tcp/1"), AddrClass::Dns);
        assert_eq!(class("/dns4/\u{1F600}localhost/tcp/1"), AddrClass::Dns);
        assert_eq!(class("/dns4/x.LOCALHOST./tcp/1"), AddrClass::Loopback);
        assert_eq!(class("/unix/tmp%2Fsock"), AddrClass::Other);
    }

    #[test]
    fn drops_non_routable_classes_unless_allowed() {
        let strict = AddressPolicy::default();
        let lab = AddressPolicy::allow_private();
        for c in AddrClass::ALL {
            let routable = matches!(c, AddrClass::Public | AddrClass::Dns);
            assert_eq!(strict.allows(c), routable, "{c}");
        }
        assert!(lab.allows(AddrClass::Loopback) && lab.allows(AddrClass::Private));
        assert!(!lab.allows(AddrClass::Unspecified) && !lab.allows(AddrClass::Reserved));
        assert!(!lab.without(AddrClass::Loopback).allows(AddrClass::Loopback));
    }
}
