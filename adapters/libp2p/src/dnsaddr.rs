//! `/dnsaddr` lookups, as the driver carries them out for the core: one TXT query for
//! `_dnsaddr.<name>` in a UDP datagram to a nameserver (the first `nameserver` of
//! `/etc/resolv.conf` unless the driver is told another), and the `dnsaddr=<multiaddr>` values
//! of the answer, as written. Which of them count (the peer's own, further names, how deep) is
//! the core's decision; this module only speaks DNS, with hickory-proto's message codec, and
//! bounds what it reads.
//!
//! One datagram each way, no retransmission: a lost answer fails the lookup when the core's
//! dial deadline passes, and the core's next round tries again. A truncated answer (TC set) is
//! used as far as it goes.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use libp2p::Multiaddr;

/// The largest answer read: a classic 512-byte answer, or one with EDNS up to this size.
pub const MAX_REPLY_BYTES: usize = 4096;

/// Values longer than this are not multiaddrs anyone lists (the core's own cap on a listed
/// address is far lower) and are dropped unparsed.
const MAX_VALUE_BYTES: usize = 1024;

/// The TXT query for `_dnsaddr.<name>`, with transaction id `id`.
pub fn query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let qname = Name::from_ascii(format!("_dnsaddr.{}", name.trim_end_matches('.')))
        .map_err(|e| format!("{name}: not a DNS name: {e}"))?;
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(qname, RecordType::TXT));
    message.to_vec().map_err(|e| format!("{name}: {e}"))
}

/// The `dnsaddr=` values of the TXT answer `reply` to the query with id `id` for `name`, parsed
/// as multiaddrs (values that are not are dropped). An error names what was wrong: another
/// transaction's answer, no such name, a server failure, an answer that is not DNS.
pub fn multiaddrs(reply: &[u8], id: u16, name: &str) -> Result<Vec<Multiaddr>, String> {
    let message = Message::from_vec(reply).map_err(|e| format!("not a DNS answer: {e}"))?;
    let meta = &message.metadata;
    if meta.id != id || meta.message_type != MessageType::Response {
        return Err("an answer to another query".into());
    }
    let expected = format!("_dnsaddr.{}.", name.trim_end_matches('.')).to_ascii_lowercase();
    let asked = message
        .queries
        .first()
        .is_some_and(|q| q.name().to_ascii().to_ascii_lowercase() == expected);
    if !asked {
        return Err("an answer to another question".into());
    }
    match meta.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err("no such name".into()),
        code => return Err(format!("the nameserver answered {code}")),
    }
    let mut found = Vec::new();
    for record in &message.answers {
        let RData::TXT(txt) = &record.data else {
            continue; // a CNAME on the way, or something else the question did not ask for
        };
        // One value may be split over several character-strings (RFC 7208 §3.3 style).
        let value: Vec<u8> = txt
            .txt_data
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect();
        if value.len() > MAX_VALUE_BYTES {
            continue;
        }
        let Some(text) = std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.strip_prefix("dnsaddr="))
        else {
            continue;
        };
        if let Ok(addr) = text.parse::<Multiaddr>() {
            found.push(addr);
        }
    }
    Ok(found)
}

/// The address a runtime's UDP socket binds to for a query to `server`: any port on the
/// unspecified address of its family.
pub fn bind_addr_for(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    }
}

/// The first `nameserver` line of a `resolv.conf`, on port 53.
pub fn nameserver_from_resolv_conf(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        // A scoped IPv6 address (`fe80::1%eth0`) keeps only its address.
        let ip: IpAddr = words.next()?.split('%').next()?.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

/// The system's nameserver, from `/etc/resolv.conf`.
pub fn system_nameserver() -> Option<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .as_deref()
        .and_then(nameserver_from_resolv_conf)
}

/// A transaction id no off-path sender can guess: from the OS-seeded keys of the standard
/// library's hasher.
pub fn transaction_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish() as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::Record;

    fn answer(id: u16, qname: &str, code: ResponseCode, values: &[&str]) -> Vec<u8> {
        let name = Name::from_ascii(qname).expect("name");
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.add_query(Query::query(name.clone(), RecordType::TXT));
        for v in values {
            m.add_answer(Record::from_rdata(
                name.clone(),
                60,
                RData::TXT(TXT::new(vec![(*v).to_string()])),
            ));
        }
        m.to_vec().expect("encodes")
    }

    #[test]
    fn the_dnsaddr_values_of_a_matching_answer_are_read_and_the_rest_dropped() {
        let reply = answer(
            7,
            "_dnsaddr.boot.test.",
            ResponseCode::NoError,
            &[
                "dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
                "v=spf1 -all",
                "dnsaddr=not a multiaddr",
                "dnsaddr=/dnsaddr/ams.boot.test",
            ],
        );
        let found = multiaddrs(&reply, 7, "boot.test").expect("an answer");
        let found: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
                "/dnsaddr/ams.boot.test"
            ]
        );
    }

    #[test]
    fn another_transaction_another_question_no_such_name_and_garbage_are_errors() {
        let name = "_dnsaddr.boot.test.";
        let ok = |id| answer(id, name, ResponseCode::NoError, &[]);
        assert!(multiaddrs(&ok(8), 7, "boot.test").is_err());
        let other = answer(7, "_dnsaddr.evil.test.", ResponseCode::NoError, &[]);
        assert!(multiaddrs(&other, 7, "boot.test").is_err());
        let nx = answer(7, name, ResponseCode::NXDomain, &[]);
        assert_eq!(multiaddrs(&nx, 7, "boot.test"), Err("no such name".into()));
        assert!(multiaddrs(b"\x00\x07garbage", 7, "boot.test").is_err());
        assert_eq!(multiaddrs(&ok(7), 7, "boot.test"), Ok(Vec::new()));
    }

    #[test]
    fn a_query_names_the_dnsaddr_subdomain_and_asks_for_txt() {
        let bytes = query(9, "boot.test").expect("encodes");
        let m = Message::from_vec(&bytes).expect("decodes");
        assert_eq!(m.metadata.id, 9);
        assert_eq!(m.queries[0].name().to_ascii(), "_dnsaddr.boot.test.");
        assert_eq!(m.queries[0].query_type(), RecordType::TXT);
        assert!(query(9, "not a name..").is_err());
    }

    #[test]
    fn the_first_nameserver_line_of_resolv_conf_is_used() {
        let text = "# generated\nsearch example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n";
        assert_eq!(
            nameserver_from_resolv_conf(text),
            Some("192.0.2.53:53".parse().expect("addr"))
        );
        assert_eq!(
            nameserver_from_resolv_conf("nameserver fe80::1%eth0"),
            Some("[fe80::1]:53".parse().expect("addr"))
        );
        assert_eq!(nameserver_from_resolv_conf("options ndots:5"), None);
    }
}
