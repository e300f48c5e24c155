//! Unit tests of the boot node's AutoNAT server policy (`autonat.rs`).

use super::*;

#[test]
fn targets_keep_the_ports_at_the_observed_ip_and_nothing_else() {
    let observed: IpAddr = "203.0.113.1".parse().expect("valid");
    let addrs: Vec<Multiaddr> = [
        "/ip4/192.168.77.2/tcp/4001",
        "/ip4/192.168.77.2/tcp/4001",
        "/ip4/10.0.0.1/tcp/4002/p2p-circuit",
        "/ip6/2001:db8::1/tcp/4003",
        "/ip4/192.168.77.2/udp/4004/quic-v1",
        "/dns4/example.test/tcp/4005",
        "/ip4/198.51.100.9/tcp/4006",
    ]
    .iter()
    .map(|a| a.parse().expect("valid"))
    .collect();
    let t = dial_back_targets(observed, &addrs, &|_| true);
    let want: Vec<Multiaddr> = ["/ip4/203.0.113.1/tcp/4001", "/ip4/203.0.113.1/tcp/4006"]
        .iter()
        .map(|a| a.parse().expect("valid"))
        .collect();
    assert_eq!(t, want);
    assert!(dial_back_targets(observed, &addrs, &|_| false).is_empty());
}

/// A request over the asker's IPv4 connection that names only IPv6 addresses is dialed
/// back at the IPv6 address the same peer connected from, never elsewhere.
#[test]
fn a_request_for_the_other_family_goes_to_the_askers_connection_of_that_family() {
    use crate::{BootNodeAction, BootNodeConfig, BootNodeInput};
    let key = |b: u8| {
        libp2p_identity::Keypair::ed25519_from_bytes([b; 32])
            .expect("32 bytes")
            .public()
            .to_peer_id()
    };
    let (me, asker) = (key(1), key(2));
    let mut config = BootNodeConfig::new(me);
    config.dial_back.policy = crate::AddressPolicy::allow_private();
    config.dial_back.alternate = true;
    config.dial_back.alternate_family = Some(crate::Family::Ipv4);
    // The test's starting instant, handed to the machine like any other.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut m = BootNodeMachine::new(config, now);
    let open = |m: &mut BootNodeMachine, conn: u64, remote: &str| {
        let remote = remote.parse().expect("valid");
        m.handle(
            now,
            BootNodeInput::ConnectionOpened {
                conn: Token(conn),
                peer: asker,
                inbound: true,
                remote,
            },
        );
        m.handle(
            now,
            BootNodeInput::RoundTrip {
                conn: Token(conn),
                rtt: Duration::from_millis(5),
            },
        );
    };
    open(&mut m, 10, "/ip4/203.0.113.50/tcp/40000");
    open(&mut m, 11, "/ip6/2001:db8:2::10/tcp/40001");
    while m.poll_action().is_some() {}
    let asked = |m: &mut BootNodeMachine, reply: u64, addr: &str| {
        let addrs = vec![addr.parse().expect("valid")];
        m.handle(
            now,
            BootNodeInput::DialBackAsked {
                reply: Token(reply),
                conn: Token(10),
                peer: asker,
                claimed: asker,
                addrs,
            },
        );
        let legs: Vec<(DialBackFrom, Vec<Multiaddr>)> = std::iter::from_fn(|| m.poll_action())
            .filter_map(|a| match a {
                BootNodeAction::DialBack { from, addrs, .. } => Some((from, addrs)),
                _ => None,
            })
            .collect();
        legs
    };
    let v6 = asked(&mut m, 20, "/ip6/fd00::10/tcp/4001");
    let want: Vec<Multiaddr> = vec!["/ip6/2001:db8:2::10/tcp/4001".parse().expect("valid")];
    // The IPv4 alternate address cannot dial an IPv6 one: only the own leg goes.
    assert_eq!(v6, [(DialBackFrom::Own, want)]);
    let v4 = asked(&mut m, 21, "/ip4/192.168.1.2/tcp/4001");
    let want: Vec<Multiaddr> = vec!["/ip4/203.0.113.50/tcp/4001".parse().expect("valid")];
    let both = [DialBackFrom::Alternate, DialBackFrom::Own].map(|f| (f, want.clone()));
    assert_eq!(v4, both);
}
