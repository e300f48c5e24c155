//! Where this node has sent packets: a dial-back from anywhere else came from a stranger.

use std::collections::BTreeSet;
use std::net::IpAddr;

use multiaddr::Multiaddr;

/// Where this node has sent packets, as far as the machine knows: every address it asked the
/// driver to dial and every boot URL host given as an IP. Bounded; once full, no dial-back is
/// taken for a stranger's (the only safe reading of "not in the set").
#[derive(Debug, Clone, Default)]
pub(super) struct Contacted {
    endpoints: BTreeSet<(IpAddr, Option<u16>)>,
    /// An endpoint went unrecorded (the set was full, or a URL named its host by DNS).
    incomplete: bool,
}

/// Most contacted endpoints remembered.
const MAX_CONTACTED: usize = 256;

/// How a dial-back connection's source relates to what this node has contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// From an IP this node never sent to.
    Stranger,
    /// From a contacted IP, from a port this node never sent to.
    ContactedHost,
    /// From an endpoint this node sent to, or from somewhere the driver did not say.
    Unclear,
}

impl Contacted {
    pub(super) fn insert(&mut self, addr: &Multiaddr) {
        match crate::addr::ip_and_tcp_port(addr) {
            Some((ip, port)) => self.insert_endpoint(ip, port),
            // A DNS name: the driver resolves it, the machine never learns the IP.
            None => self.incomplete = true,
        }
    }

    pub(super) fn insert_url(&mut self, url: &str) {
        match crate::addr::url_host_ip(url) {
            Some((ip, port)) => self.insert_endpoint(ip, Some(port)),
            None => self.incomplete = true,
        }
    }

    fn insert_endpoint(&mut self, ip: IpAddr, port: Option<u16>) {
        if self.endpoints.len() < MAX_CONTACTED {
            self.endpoints.insert((ip, port));
        } else if !self.endpoints.contains(&(ip, port)) {
            self.incomplete = true;
        }
    }

    pub(super) fn origin(&self, remote: Option<&Multiaddr>) -> Origin {
        let Some((ip, port)) = remote.and_then(crate::addr::ip_and_tcp_port) else {
            return Origin::Unclear;
        };
        let mut hosts = self.endpoints.iter().filter(|(i, _)| *i == ip);
        if hosts.clone().next().is_none() {
            return if self.incomplete {
                Origin::Unclear
            } else {
                Origin::Stranger
            };
        }
        match port {
            Some(port) if !hosts.any(|(_, p)| *p == Some(port) || p.is_none()) => {
                Origin::ContactedHost
            }
            _ => Origin::Unclear,
        }
    }
}
