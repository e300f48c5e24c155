//! The IP and port an address or URL points at, for telling contacted hosts from strangers.

use std::net::IpAddr;

use multiaddr::{Multiaddr, Protocol};

/// The IP of `addr` and, when it is TCP directly on that IP, its port. `None` for addresses
/// that do not start with an IP (DNS names, relays by name).
pub fn ip_and_tcp_port(addr: &Multiaddr) -> Option<(IpAddr, Option<u16>)> {
    let mut parts = addr.iter();
    let ip = match parts.next()? {
        Protocol::Ip4(ip) => IpAddr::V4(ip),
        Protocol::Ip6(ip) => IpAddr::V6(ip),
        _ => return None,
    };
    let port = match parts.next() {
        Some(Protocol::Tcp(port)) => Some(port),
        _ => None,
    };
    Some((ip, port))
}

/// The IP host and port of an `http://` or `https://` URL whose host is an IP literal
/// (`http://203.0.113.7:8080/status`, `http://[2001:db8::1]/status`); `None` for a DNS name or
/// anything unparsable.
pub fn url_host_ip(url: &str) -> Option<(IpAddr, u16)> {
    let (rest, default_port) = if let Some(r) = strip_prefix_ignore_case(url, "http://") {
        (r, 80)
    } else {
        (strip_prefix_ignore_case(url, "https://")?, 443)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    Some((ip, port))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_ip_hosts_give_their_endpoint() {
        let v4 = "203.0.113.7".parse().expect("valid");
        assert_eq!(
            url_host_ip("http://203.0.113.7:8080/status"),
            Some((v4, 8080))
        );
        assert_eq!(url_host_ip("HTTP://203.0.113.7/status"), Some((v4, 80)));
        assert_eq!(url_host_ip("https://203.0.113.7"), Some((v4, 443)));
        let v6 = "2001:db8::1".parse().expect("valid");
        assert_eq!(url_host_ip("http://[2001:db8::1]:81/x"), Some((v6, 81)));
        assert_eq!(url_host_ip("http://boot.example/status"), None);
        assert_eq!(url_host_ip("http://203.0.113.7:99999/"), None);
        assert_eq!(url_host_ip("ftp://203.0.113.7/"), None);
        assert_eq!(url_host_ip("http://é"), None);
    }

    #[test]
    fn addresses_give_ip_and_tcp_port() {
        let a: Multiaddr =
            "/ip4/198.51.100.2/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
                .parse()
                .expect("valid");
        assert_eq!(
            ip_and_tcp_port(&a),
            Some(("198.51.100.2".parse().expect("valid"), Some(4001)))
        );
        let udp: Multiaddr = "/ip6/2001:db8::2/udp/4001/quic-v1".parse().expect("valid");
        assert_eq!(
            ip_and_tcp_port(&udp),
            Some(("2001:db8::2".parse().expect("valid"), None))
        );
        let dns: Multiaddr = "/dns4/boot.example/tcp/4001".parse().expect("valid");
        assert_eq!(ip_and_tcp_port(&dns), None);
    }
}
