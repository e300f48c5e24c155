//! Name lookups a dial needs: `/dnsaddr` TXT records and `/dns*` addresses, on the runtime.

use super::*;

/// The multiaddrs of `/dnsaddr/<name>`: the `dnsaddr=` TXT records of `_dnsaddr.<name>`, as
/// `nameserver` gives them. Which of them count is the core's decision.
fn lookup_dnsaddr<R: Runtime>(
    runtime: &R,
    nameserver: Option<std::net::SocketAddr>,
    name: String,
) -> BoxFuture<'static, Result<Vec<Multiaddr>, ResolveError>> {
    let failed = move |host: &str, reason: String| ResolveError::Lookup {
        host: format!("_dnsaddr.{host}"),
        reason,
    };
    let Some(server) = nameserver else {
        let error = failed(&name, "no nameserver in /etc/resolv.conf".into());
        return futures::future::ready(Err(error)).boxed();
    };
    let id = crate::dnsaddr::transaction_id();
    let query = match crate::dnsaddr::query(id, &name) {
        Ok(query) => query,
        Err(reason) => return futures::future::ready(Err(failed(&name, reason))).boxed(),
    };
    let exchange = runtime.udp_exchange(server, query, crate::dnsaddr::MAX_REPLY_BYTES);
    async move {
        let reply = exchange
            .await
            .map_err(|e| failed(&name, format!("{server}: {e}")))?;
        let addrs = crate::dnsaddr::multiaddrs(&reply, id, &name)
            .map_err(|reason| failed(&name, format!("{server}: {reason}")))?;
        if addrs.is_empty() {
            return Err(ResolveError::NoAddress {
                host: format!("_dnsaddr.{name}"),
            });
        }
        Ok(addrs)
    }
    .boxed()
}

/// Resolves the DNS name that starts `addr` and returns `addr` once per IP of the right
/// family, the name replaced; a `/dnsaddr` name gives its records' multiaddrs instead. Whether
/// those may be dialed is the core's decision.
pub(super) fn resolve_addr<R: Runtime>(
    runtime: &R,
    nameserver: Option<std::net::SocketAddr>,
    addr: Multiaddr,
) -> BoxFuture<'static, Result<Vec<Multiaddr>, ResolveError>> {
    let mut parts = addr.iter();
    let (host, v4, v6) = match parts.next() {
        Some(Protocol::Dnsaddr(name)) => {
            return lookup_dnsaddr(runtime, nameserver, name.to_string())
        }
        Some(Protocol::Dns(h)) => (h.to_string(), true, true),
        Some(Protocol::Dns4(h)) => (h.to_string(), true, false),
        Some(Protocol::Dns6(h)) => (h.to_string(), false, true),
        _ => return futures::future::ready(Err(ResolveError::NotAName(addr.to_string()))).boxed(),
    };
    let rest: Vec<Protocol<'static>> = parts.map(|p| p.acquire()).collect();
    let lookup = runtime.resolve(host.clone());
    async move {
        let ips = lookup.await.map_err(|e| ResolveError::Lookup {
            host: host.clone(),
            reason: e.to_string(),
        })?;
        let addrs: Vec<Multiaddr> = ips
            .into_iter()
            .filter(|ip| if ip.is_ipv4() { v4 } else { v6 })
            .map(|ip| {
                let first = match ip {
                    IpAddr::V4(a) => Protocol::Ip4(a),
                    IpAddr::V6(a) => Protocol::Ip6(a),
                };
                std::iter::once(first).chain(rest.iter().cloned()).collect()
            })
            .collect();
        if addrs.is_empty() {
            return Err(ResolveError::NoAddress { host });
        }
        Ok(addrs)
    }
    .boxed()
}
