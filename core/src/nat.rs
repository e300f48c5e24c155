//! The NAT verdict: what this node has learned about its own reachability.

use std::fmt;

use multiaddr::Multiaddr;

/// Whether other peers can dial this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatVerdict {
    /// No evidence yet.
    #[default]
    Unknown,
    /// A server dialed us back at this address.
    Public(Multiaddr),
    /// A server tried to dial us back and could not: we are behind NAT or a firewall.
    Private,
}

impl NatVerdict {
    /// A short name: "unknown", "public", "private".
    pub fn name(&self) -> &'static str {
        match self {
            NatVerdict::Unknown => "unknown",
            NatVerdict::Public(_) => "public",
            NatVerdict::Private => "private",
        }
    }
}

impl fmt::Display for NatVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatVerdict::Public(addr) => write!(f, "public at {addr}"),
            other => f.write_str(other.name()),
        }
    }
}

/// How the NAT in front of this node picks the public address of an outbound flow
/// (RFC 4787 §4.1), judged from the addresses boot peers at different IPs observe for us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Mapping {
    /// Not enough evidence: fewer than two boot peers at different IPs reported what they see.
    #[default]
    Unknown,
    /// Peers at different IPs see the same public address and port (or there is no NAT).
    EndpointIndependent,
    /// Peers at different IPs see different public ports: the mapping depends at least on
    /// the destination address (telling this from address-and-port-dependent would need two
    /// ports at one IP, which a dial to a boot peer never uses).
    AddressDependent,
}

/// Which inbound flows the NAT or firewall lets through to a mapped port (RFC 4787 §5),
/// judged from which dial-backs reached us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Filtering {
    /// No dial-back outcome yet, or one that proves nothing about filtering.
    #[default]
    Unknown,
    /// A dial-back from an IP this node never sent a packet to got in: anyone can reach the
    /// mapped port.
    EndpointIndependent,
    /// A dial-back from a contacted IP (from a port we never sent to) got in, one from a
    /// never-contacted IP did not: only hosts we have talked to get in.
    AddressDependent,
    /// Every dial-back failed, even the one from the contacted host on another port: only
    /// the exact endpoint we talked to gets in (or a firewall drops everything).
    AddressAndPortDependent,
}

/// Whether hole punching (DCUtR) is likely to connect this node to another NATed one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum HolePunching {
    /// Not known yet: the node is not known to be public and its mapping has not been
    /// observed (fewer than two boot peers at different IPs said where they see it).
    #[default]
    Unknown,
    /// The node is public: a verified dial-back reached it, so peers dial it directly and no
    /// punching is needed, whatever the mapping.
    NotNeeded,
    /// The mapping is endpoint-independent: the address a punching peer learns is the one the
    /// NAT uses towards it, so punching works.
    Likely,
    /// The mapping depends on the destination (a symmetric NAT): the address a punching peer
    /// learns is not the one the NAT uses towards it. Use a relay.
    Unlikely,
}

/// What this node has learned about the NAT in front of it, beside the [`NatVerdict`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NatBehaviour {
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// Whether the verdict rests on a dial-back this node saw arrive (a new inbound connection
    /// from the answering server while the request was open). An answer without one is never
    /// believed.
    pub verified: bool,
    /// Whether a host this node never sent a packet to reached it: the only evidence that
    /// strangers can.
    pub stranger_reached: bool,
}

impl NatBehaviour {
    /// The outlook for hole punching, given the verdict: only from evidence. A public node
    /// needs none; otherwise the mapping decides, and an unobserved mapping is unknown.
    pub fn hole_punching(&self, verdict: &NatVerdict) -> HolePunching {
        match (verdict, self.mapping) {
            (NatVerdict::Public(_), _) => HolePunching::NotNeeded,
            (_, Mapping::EndpointIndependent) => HolePunching::Likely,
            (_, Mapping::AddressDependent) => HolePunching::Unlikely,
            (_, Mapping::Unknown) => HolePunching::Unknown,
        }
    }
}

impl Mapping {
    /// The RFC 4787 name: "endpoint-independent", "address-dependent", "unknown".
    pub fn name(self) -> &'static str {
        match self {
            Mapping::Unknown => "unknown",
            Mapping::EndpointIndependent => "endpoint-independent",
            Mapping::AddressDependent => "address-dependent",
        }
    }
}

impl Filtering {
    /// The RFC 4787 name: "endpoint-independent", "address-dependent",
    /// "address-and-port-dependent", "unknown".
    pub fn name(self) -> &'static str {
        match self {
            Filtering::Unknown => "unknown",
            Filtering::EndpointIndependent => "endpoint-independent",
            Filtering::AddressDependent => "address-dependent",
            Filtering::AddressAndPortDependent => "address-and-port-dependent",
        }
    }
}

impl HolePunching {
    /// "not_needed", "likely", "unlikely", "unknown".
    pub fn name(self) -> &'static str {
        match self {
            HolePunching::Unknown => "unknown",
            HolePunching::NotNeeded => "not_needed",
            HolePunching::Likely => "likely",
            HolePunching::Unlikely => "unlikely",
        }
    }
}

/// An address family: verdicts are kept for each, since a node is often NATed on IPv4 and
/// open or firewalled on IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The family of an IP address.
    pub fn of_ip(ip: std::net::IpAddr) -> Family {
        match ip {
            std::net::IpAddr::V4(_) => Family::Ipv4,
            std::net::IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The family of an address that starts with an IP; `None` for a DNS name or anything else.
    pub fn of(addr: &Multiaddr) -> Option<Family> {
        match addr.iter().next()? {
            multiaddr::Protocol::Ip4(_) => Some(Family::Ipv4),
            multiaddr::Protocol::Ip6(_) => Some(Family::Ipv6),
            _ => None,
        }
    }

    /// 0 for IPv4, 1 for IPv6.
    pub(crate) fn index(self) -> usize {
        match self {
            Family::Ipv4 => 0,
            Family::Ipv6 => 1,
        }
    }

    /// "ipv4" or "ipv6".
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one address family's probes found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyNat {
    /// Whether strangers can dial this node over this family.
    pub verdict: NatVerdict,
    /// Mapping and filtering seen over this family.
    pub behaviour: NatBehaviour,
}

/// The verdict as a whole and per family, as [`crate::Event::NatChanged`] carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatReport {
    /// Public if either family is (at its IPv4 address when both are), else private if either
    /// is, else unknown; a verdict restored from the last run until a probe concludes.
    pub verdict: NatVerdict,
    /// IPv4 alone.
    pub ipv4: FamilyNat,
    /// IPv6 alone.
    pub ipv6: FamilyNat,
}

impl NatReport {
    /// One family's part.
    pub fn family(&self, family: Family) -> &FamilyNat {
        match family {
            Family::Ipv4 => &self.ipv4,
            Family::Ipv6 => &self.ipv6,
        }
    }

    pub(crate) fn family_mut(&mut self, family: Family) -> &mut FamilyNat {
        match family {
            Family::Ipv4 => &mut self.ipv4,
            Family::Ipv6 => &mut self.ipv6,
        }
    }

    /// The family whose findings the whole verdict and behaviour report: the first public one,
    /// else the first private one, else the first with any behaviour seen.
    pub fn primary(&self) -> Option<Family> {
        let pick =
            |f: &dyn Fn(&FamilyNat) -> bool| Family::ALL.into_iter().find(|&x| f(self.family(x)));
        pick(&|n| matches!(n.verdict, NatVerdict::Public(_)))
            .or_else(|| pick(&|n| n.verdict == NatVerdict::Private))
            .or_else(|| pick(&|n| n.behaviour != NatBehaviour::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> NatVerdict {
        NatVerdict::Public(
            "/ip4/198.51.100.7/tcp/4001"
                .parse()
                .expect("a valid multiaddr"),
        )
    }

    fn with(mapping: Mapping) -> NatBehaviour {
        NatBehaviour {
            mapping,
            ..NatBehaviour::default()
        }
    }

    #[test]
    fn a_public_node_needs_no_hole_punching_whatever_its_mapping() {
        for mapping in [
            Mapping::Unknown,
            Mapping::EndpointIndependent,
            Mapping::AddressDependent,
        ] {
            assert_eq!(
                with(mapping).hole_punching(&public()),
                HolePunching::NotNeeded,
                "{mapping:?}"
            );
        }
    }

    #[test]
    fn an_unobserved_mapping_gives_an_unknown_outlook_unless_public() {
        for verdict in [NatVerdict::Unknown, NatVerdict::Private] {
            let b = with(Mapping::Unknown);
            assert_eq!(b.hole_punching(&verdict), HolePunching::Unknown);
        }
    }

    #[test]
    fn the_mapping_decides_the_outlook_of_a_node_not_known_to_be_public() {
        for verdict in [NatVerdict::Unknown, NatVerdict::Private] {
            let ei = with(Mapping::EndpointIndependent).hole_punching(&verdict);
            let ad = with(Mapping::AddressDependent).hole_punching(&verdict);
            assert_eq!((ei, ad), (HolePunching::Likely, HolePunching::Unlikely));
        }
    }
}
