//! The client machine's NAT behaviour: which dial-backs it believes, what their origin proves
//! about filtering, and what boot peers' observations prove about mapping.

use std::time::{Duration, Instant};

use pyrsia_boot_core::{
    Action, AddressPolicy, BootstrapMachine, Config, DialId, Event, Family, Filtering, Input,
    KnownPeer, Mapping, Multiaddr, NatVerdict, PeerId, ProbeError, ProbeId, SourceKind,
};

const MS: Duration = Duration::from_millis(1);

fn id(b: u8) -> PeerId {
    libp2p_identity::Keypair::ed25519_from_bytes([b; 32])
        .expect("32 bytes")
        .public()
        .to_peer_id()
}

fn addr(s: &str) -> Multiaddr {
    s.parse().expect("valid multiaddr")
}

/// A machine connected to boot peers 1..=n at 198.51.100.<i>:4001 (seeds), every dial
/// answered before the first AutoNAT request; with the dial-back request it sent first.
struct Client {
    m: BootstrapMachine,
    now: Instant,
}

impl Client {
    /// A machine on `config`, started now.
    fn start(config: Config) -> Client {
        // The test's starting instant, handed to the machine like any other (it reads none).
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        Client {
            m: BootstrapMachine::new(config, now),
            now,
        }
    }

    /// The first action `pick` accepts among those queued (the rest are dropped).
    fn first<T>(&mut self, pick: impl FnMut(Action) -> Option<T>) -> Option<T> {
        self.drain().into_iter().find_map(pick)
    }

    /// The first dial among the queued actions (the rest are dropped).
    fn first_dial(&mut self) -> Option<(DialId, PeerId)> {
        self.first(|a| match a {
            Action::Dial { dial, peer, .. } => Some((dial, peer)),
            _ => None,
        })
    }

    fn connected_to(n: u8) -> (Client, ProbeId) {
        let config = seeds_config(n);
        let mut c = Client::start(config);
        let dials: Vec<_> = c
            .drain()
            .into_iter()
            .filter_map(|a| match a {
                Action::Dial { dial, peer, addrs } => Some((dial, peer, addrs)),
                _ => None,
            })
            .collect();
        assert_eq!(dials.len(), usize::from(n));
        let mut probe = None;
        let mut peers = Vec::new();
        for (dial, peer, addrs) in dials {
            let addr = addrs.first().cloned();
            c.feed(Input::DialSucceeded { dial, peer, addr });
            for a in c.drain() {
                if let Action::ProbeVia { probe: p, .. } = a {
                    probe.get_or_insert(p);
                }
            }
            peers.push(peer);
        }
        for peer in peers {
            c.feed(Input::InboundProbeRequest { peer });
        }
        (c, probe.expect("a dial-back request"))
    }

    fn feed(&mut self, input: Input) {
        self.m.handle(self.now, input);
    }

    fn after(&mut self, d: Duration) {
        self.now += d;
        self.m.handle(self.now, Input::Tick);
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.m.poll_action()).collect()
    }

    fn dial_back_from(&mut self, peer: u8, from: &str) {
        let remote = Some(addr(from));
        self.feed(Input::InboundConnection {
            peer: id(peer),
            remote,
        });
    }

    fn answer(&mut self, probe: ProbeId, result: Result<Multiaddr, ProbeError>) {
        self.feed(Input::OwnProbeAnswered { probe, result });
    }
}

/// Seeds 1..=n at 198.51.100.<i>:4001, all dialed at once.
fn seeds_config(n: u8) -> Config {
    let seeds = (1..=n)
        .map(|i| KnownPeer {
            id: id(i),
            addrs: vec![addr(&format!("/ip4/198.51.100.{i}/tcp/4001"))],
        })
        .collect();
    Config {
        seeds,
        source_order: vec![SourceKind::Seeds],
        max_concurrent_dials: n.into(),
        // Documentation addresses, as everywhere in tests.
        policy: AddressPolicy::allow_private(),
        ..Config::default()
    }
}

const MAPPED: &str = "/ip4/203.0.113.1/tcp/4001";

#[test]
fn a_dial_back_from_an_ip_never_contacted_proves_endpoint_independent_filtering() {
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(1, "/ip4/198.51.100.201/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Public(addr(MAPPED)));
    assert!(s.behaviour.verified && s.behaviour.stranger_reached);
    assert_eq!(s.behaviour.filtering, Filtering::EndpointIndependent);
}

#[test]
fn a_dial_back_from_the_contacted_host_proves_no_more_than_that() {
    // A stock server: it dials back from its own IP, from a new port. Public, as AutoNAT has
    // always said, but no stranger got in and the filtering stays unknown.
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    // A stranger's dial-back may still be on its way: the verdict settles a moment later.
    assert_eq!(c.m.status().nat, NatVerdict::Unknown);
    c.after(150 * MS);
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Public(addr(MAPPED)));
    assert!(s.behaviour.verified && !s.behaviour.stranger_reached);
    assert_eq!(s.behaviour.filtering, Filtering::Unknown);
}

#[test]
fn a_strangers_dial_back_that_lands_after_the_ok_still_counts() {
    // A boot node with an alternate address answers OK when that dial-back connects; its own
    // one came first, and the stranger's is reported a moment after the answer.
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(50 * MS);
    c.dial_back_from(1, "/ip4/198.51.100.201/tcp/50001");
    let s = c.m.status();
    assert_eq!(
        s.nat,
        NatVerdict::Public(addr(MAPPED)),
        "at once, no more waiting"
    );
    assert_eq!(s.behaviour.filtering, Filtering::EndpointIndependent);
    assert!(s.behaviour.stranger_reached);
}

#[test]
fn only_the_contacted_host_getting_in_is_address_dependent_filtering() {
    // A boot node with a dial-back address: its stranger dial failed, its own succeeded, and
    // it answered "failed" (strangers cannot reach us): an address-restricted cone.
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/50000");
    c.answer(probe, Err(ProbeError::DialBackFailed));
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Private);
    assert_eq!(s.behaviour.filtering, Filtering::AddressDependent);
    assert!(s.behaviour.verified);
}

#[test]
fn nothing_getting_in_is_address_and_port_dependent_filtering() {
    let (mut c, probe) = Client::connected_to(1);
    c.answer(probe, Err(ProbeError::DialBackFailed));
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Private);
    assert_eq!(s.behaviour.filtering, Filtering::AddressAndPortDependent);
}

#[test]
fn a_connection_from_the_contacted_endpoint_itself_proves_nothing() {
    // From the boot peer's listening port: a NAT may take it for the reply direction of our
    // own flow, so it says nothing about filtering.
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/4001");
    c.answer(probe, Err(ProbeError::DialBackFailed));
    assert_eq!(c.m.status().behaviour.filtering, Filtering::Unknown);
}

#[test]
fn an_ok_waits_briefly_for_its_dial_back_and_is_believed_when_it_shows_up() {
    let (mut c, probe) = Client::connected_to(1);
    c.answer(probe, Ok(addr(MAPPED)));
    assert_eq!(
        c.m.status().nat,
        NatVerdict::Unknown,
        "not before the connection"
    );
    c.after(100 * MS);
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/50000");
    c.after(150 * MS);
    assert_eq!(c.m.status().nat, NatVerdict::Public(addr(MAPPED)));
}

#[test]
fn an_ok_whose_dial_back_never_shows_up_is_not_believed() {
    let (mut c, probe) = Client::connected_to(1);
    c.drain();
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(Duration::from_secs(1));
    // A connection from the peer after the grace is not a dial-back for that answer.
    c.dial_back_from(1, "/ip4/198.51.100.1/tcp/50000");
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Unknown);
    assert_eq!(s.counters.unverified_answers, 1);
    let actions = c.drain();
    assert!(actions.iter().any(
        |a| matches!(a, Action::Report(Event::DialBackUnverified { peer }) if *peer == id(1))
    ));
    assert!(
        actions.iter().any(|a| matches!(a, Action::ProbeVia { .. })),
        "asks again: {actions:?}"
    );
}

#[test]
fn a_connection_from_another_peer_is_not_the_dial_back() {
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(9, "/ip4/198.51.100.201/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(Duration::from_secs(1));
    assert_eq!(c.m.status().nat, NatVerdict::Unknown);
}

#[test]
fn a_dial_back_from_the_servers_ip_under_another_identity_is_believed() {
    // go-libp2p's AutoNAT service dials back from a second host with a random peer id, on the
    // server's IP and a new port: that connection proves what the server's own would.
    let (mut c, probe) = Client::connected_to(1);
    c.dial_back_from(9, "/ip4/198.51.100.1/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(150 * MS);
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Public(addr(MAPPED)));
    assert!(s.behaviour.verified && !s.behaviour.stranger_reached);
    assert_eq!(s.counters.unverified_answers, 0);
}

#[test]
fn an_ok_with_no_connection_at_all_is_still_not_believed() {
    // The other identity's rule credits connections, never an answer alone; one from another
    // peer's IP is no dial-back for this probe.
    let (mut c, probe) = Client::connected_to(2);
    // The request went to peer 1 (198.51.100.1); this comes from peer 2's host.
    c.dial_back_from(9, "/ip4/198.51.100.2/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(Duration::from_secs(1));
    assert_eq!(c.m.status().nat, NatVerdict::Unknown);
    assert_eq!(c.m.status().counters.unverified_answers, 1);
}

#[test]
fn two_boot_peers_seeing_one_address_is_endpoint_independent_mapping() {
    let (mut c, _) = Client::connected_to(2);
    assert_eq!(c.m.status().behaviour.mapping, Mapping::Unknown);
    for p in [1, 2] {
        c.feed(Input::ObservedAddr {
            peer: id(p),
            observed: addr(MAPPED),
        });
    }
    assert_eq!(c.m.status().behaviour.mapping, Mapping::EndpointIndependent);
    use pyrsia_boot_core::HolePunching;
    let s = c.m.status();
    assert_eq!(s.behaviour.hole_punching(&s.nat), HolePunching::Likely);
}

#[test]
fn two_boot_peers_seeing_different_ports_is_a_destination_dependent_mapping() {
    let (mut c, _) = Client::connected_to(2);
    c.feed(Input::ObservedAddr {
        peer: id(1),
        observed: addr("/ip4/203.0.113.1/tcp/61001"),
    });
    // One observer is not enough.
    assert_eq!(c.m.status().behaviour.mapping, Mapping::Unknown);
    c.feed(Input::ObservedAddr {
        peer: id(2),
        observed: addr("/ip4/203.0.113.1/tcp/61002"),
    });
    let s = c.m.status();
    assert_eq!(s.behaviour.mapping, Mapping::AddressDependent);
    use pyrsia_boot_core::HolePunching;
    assert_eq!(s.behaviour.hole_punching(&s.nat), HolePunching::Unlikely);
}

#[test]
fn observations_from_peers_that_are_not_boot_connections_are_ignored() {
    let (mut c, _) = Client::connected_to(1);
    for p in [7, 8] {
        c.feed(Input::ObservedAddr {
            peer: id(p),
            observed: addr(&format!("/ip4/203.0.113.1/tcp/6100{p}")),
        });
    }
    assert_eq!(c.m.status().behaviour.mapping, Mapping::Unknown);
}

#[test]
fn after_contacting_a_host_by_dns_name_no_dial_back_counts_as_a_strangers() {
    // The boot URL names its host; the driver resolved it, so the machine cannot tell that
    // host's IP from a stranger's and claims no stranger got in.
    let config = Config {
        boot_urls: vec!["http://boot.test/status".into()],
        seeds: vec![KnownPeer {
            id: id(1),
            addrs: vec![addr("/ip4/198.51.100.1/tcp/4001")],
        }],
        source_order: vec![SourceKind::Urls, SourceKind::Seeds],
        policy: AddressPolicy::allow_private(),
        ..Config::default()
    };
    let mut c = Client::start(config);
    let request = c
        .first(|a| match a {
            Action::FetchStatus { request, .. } => Some(request),
            _ => None,
        })
        .expect("fetches the URL first");
    let error = pyrsia_boot_core::HttpError::Connect("refused".into());
    c.feed(Input::HttpFailed { request, error });
    let (dial, peer) = c.first_dial().expect("then dials the seed");
    let addr1 = Some(addr("/ip4/198.51.100.1/tcp/4001"));
    c.feed(Input::DialSucceeded {
        dial,
        peer,
        addr: addr1,
    });
    let probe = c
        .first(|a| match a {
            Action::ProbeVia { probe, .. } => Some(probe),
            _ => None,
        })
        .expect("asks for a dial-back");
    c.dial_back_from(1, "/ip4/198.51.100.201/tcp/50000");
    c.answer(probe, Ok(addr(MAPPED)));
    c.after(200 * MS);
    let s = c.m.status();
    assert_eq!(s.nat, NatVerdict::Public(addr(MAPPED)));
    assert!(!s.behaviour.stranger_reached);
    assert_eq!(s.behaviour.filtering, Filtering::Unknown);
}

#[test]
fn a_dial_to_a_second_ip_survives_connected_so_that_the_mapping_shows() {
    let mut c = Client::start(seeds_config(2));
    let dials: Vec<_> = c
        .drain()
        .into_iter()
        .filter_map(|a| match a {
            Action::Dial { dial, peer, addrs } => Some((dial, peer, addrs)),
            _ => None,
        })
        .collect();
    let [(d1, p1, a1), (d2, p2, a2)] = <[_; 2]>::try_from(dials).expect("two dials");
    c.feed(Input::DialSucceeded {
        dial: d1,
        peer: p1,
        addr: a1.first().cloned(),
    });
    c.feed(Input::InboundProbeRequest { peer: p1 });
    let after_connected = c.drain();
    assert!(
        after_connected
            .iter()
            .any(|a| matches!(a, Action::Report(Event::Connected { .. }))),
        "{after_connected:?}"
    );
    assert!(
        !after_connected
            .iter()
            .any(|a| matches!(a, Action::CancelDial { dial } if *dial == d2)),
        "the dial to the other IP is kept: {after_connected:?}"
    );
    c.feed(Input::DialSucceeded {
        dial: d2,
        peer: p2,
        addr: a2.first().cloned(),
    });
    for p in [p1, p2] {
        c.feed(Input::ObservedAddr {
            peer: p,
            observed: addr(MAPPED),
        });
    }
    assert_eq!(c.m.status().behaviour.mapping, Mapping::EndpointIndependent);
}

// ---- per address family ------------------------------------------------------------------

const V6_MAPPED: &str = "/ip6/2001:db8:2::10/tcp/4001";

/// A dual-stack boot peer 1 (198.51.100.1 and 2001:db8:1::1), on a machine told it listens
/// on `listening`; the IPv4 dial connects. Returns the machine, the probe it sent, and the dial
/// of the IPv6 address if the machine made one.
fn dual_stack(listening: &[&str]) -> (Client, Probed, Option<(DialId, Vec<Multiaddr>)>) {
    let mut config = seeds_config(1);
    config.seeds[0]
        .addrs
        .push(addr("/ip6/2001:db8:1::1/tcp/4001"));
    let mut c = Client::start(config);
    let addrs = listening.iter().map(|a| addr(a)).collect();
    c.feed(Input::Listening { addrs });
    let mut dials = dials(&c.drain());
    let v4 = addr("/ip4/198.51.100.1/tcp/4001");
    let main = dials
        .iter()
        .position(|(_, a)| a.contains(&v4))
        .expect("an IPv4 dial");
    let (dial, _) = dials.remove(main);
    c.feed(Input::DialSucceeded {
        dial,
        peer: id(1),
        addr: Some(v4),
    });
    let after = c.drain();
    let probe = after.iter().find_map(|a| match a {
        Action::ProbeVia { probe, family, .. } => Some((*probe, *family)),
        _ => None,
    });
    dials.extend(self::dials(&after));
    (c, probe, dials.pop())
}

type Probed = Option<(ProbeId, Option<Family>)>;

/// The dials among `actions`, with their addresses.
fn dials(actions: &[Action]) -> Vec<(DialId, Vec<Multiaddr>)> {
    (actions.iter())
        .filter_map(|a| match a {
            Action::Dial { dial, addrs, .. } => Some((*dial, addrs.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_probe_offers_the_addresses_of_its_family_sorted_and_once() {
    // The driver lists its addresses unsorted, with a duplicate; the machine decides what the
    // dial-back request offers.
    let mut config = seeds_config(1);
    config.seeds[0]
        .addrs
        .push(addr("/ip6/2001:db8:1::1/tcp/4001"));
    let mut c = Client::start(config);
    let listed = [
        "/ip4/203.0.113.9/tcp/4001",
        "/ip6/2001:db8:2::5/tcp/4001",
        "/ip4/192.0.2.4/tcp/4001",
        "/ip4/203.0.113.9/tcp/4001",
    ];
    c.feed(Input::Listening {
        addrs: listed.iter().map(|a| addr(a)).collect(),
    });
    let (dial, _) = c.first_dial().expect("a dial");
    let v4 = Some(addr("/ip4/198.51.100.1/tcp/4001"));
    c.feed(Input::DialSucceeded {
        dial,
        peer: id(1),
        addr: v4,
    });
    let offered = c
        .first(|a| match a {
            Action::ProbeVia { family, addrs, .. } => Some((family, addrs)),
            _ => None,
        })
        .expect("a dial-back request");
    assert_eq!(offered.0, Some(Family::Ipv4));
    let want: Vec<Multiaddr> = ["/ip4/192.0.2.4/tcp/4001", "/ip4/203.0.113.9/tcp/4001"]
        .iter()
        .map(|a| addr(a))
        .collect();
    assert_eq!(offered.1, want);
}

#[test]
fn each_family_is_probed_over_a_connection_of_its_own() {
    // NATed on IPv4, open on IPv6: the common dual-stack home.
    let (mut c, probe, v6_dial) = dual_stack(&[MAPPED, V6_MAPPED]);
    let (v4_probe, family) = probe.expect("the IPv4 probe goes at once");
    assert_eq!(family, Some(Family::Ipv4));
    let (dial, addrs) = v6_dial.expect("a second connection over IPv6");
    assert_eq!(addrs, [addr("/ip6/2001:db8:1::1/tcp/4001")]);
    let via = Some(addr("/ip6/2001:db8:1::1/tcp/4001"));
    c.feed(Input::DialSucceeded {
        dial,
        peer: id(1),
        addr: via,
    });
    // Both families at once, each over its own connection to the same boot peer.
    let v6_probe = c
        .first(|a| match a {
            Action::ProbeVia { probe, family, .. } => Some((probe, family)),
            _ => None,
        })
        .expect("the IPv6 probe, while the IPv4 one is under way");
    assert_eq!(v6_probe.1, Some(Family::Ipv6));
    assert!(c.m.status().verdict_pending);
    c.answer(v4_probe, Err(ProbeError::DialBackFailed));
    assert!(
        c.m.status().verdict_pending,
        "the IPv6 answer is still to come"
    );
    // A dial-back over IPv6 belongs to the IPv6 probe, not the IPv4 one.
    c.dial_back_from(1, "/ip6/2001:db8:1::77/tcp/50000");
    c.answer(v6_probe.0, Ok(addr(V6_MAPPED)));
    let actions = c.drain();
    let s = c.m.status();
    assert_eq!(s.ipv4.verdict, NatVerdict::Private);
    assert_eq!(
        s.ipv4.behaviour.filtering,
        Filtering::AddressAndPortDependent
    );
    assert_eq!(s.ipv6.verdict, NatVerdict::Public(addr(V6_MAPPED)));
    assert_eq!(s.ipv6.behaviour.filtering, Filtering::EndpointIndependent);
    assert_eq!(
        s.nat,
        NatVerdict::Public(addr(V6_MAPPED)),
        "reachable somewhere"
    );
    assert!(actions.contains(&Action::AddExternalAddress(addr(V6_MAPPED))));
    let last = actions.iter().rev().find_map(|a| match a {
        Action::Report(Event::NatChanged(r)) => Some(r.clone()),
        _ => None,
    });
    let last = last.expect("a NatChanged report");
    assert_eq!(
        (last.ipv4.verdict, last.ipv6.verdict),
        (s.ipv4.verdict, s.ipv6.verdict)
    );
}

#[test]
fn a_family_this_node_has_no_address_of_is_not_probed() {
    // IPv6 only, though the boot connection went over IPv4: no IPv4 probe (its verdict
    // would be about an address we do not have), the IPv6 one waits for its connection.
    let (mut c, probe, v6_dial) = dual_stack(&[V6_MAPPED]);
    assert_eq!(probe, None);
    let (dial, _) = v6_dial.expect("a connection over IPv6");
    let via = Some(addr("/ip6/2001:db8:1::1/tcp/4001"));
    c.feed(Input::DialSucceeded {
        dial,
        peer: id(1),
        addr: via,
    });
    let family = c.first(|a| match a {
        Action::ProbeVia { family, .. } => Some(family),
        _ => None,
    });
    assert_eq!(family, Some(Some(Family::Ipv6)));
}

#[test]
fn a_failed_second_family_dial_leaves_the_other_familys_verdict_alone() {
    let (mut c, probe, v6_dial) = dual_stack(&[MAPPED, V6_MAPPED]);
    let (dial, _) = v6_dial.expect("a second connection over IPv6");
    c.feed(Input::DialFailed {
        dial,
        error: pyrsia_boot_core::DialError::Other("unreachable".into()),
    });
    let (v4_probe, _) = probe.expect("the IPv4 probe");
    c.dial_back_from(1, "/ip4/198.51.100.201/tcp/50000");
    c.answer(v4_probe, Ok(addr(MAPPED)));
    let s = c.m.status();
    assert_eq!(s.ipv4.verdict, NatVerdict::Public(addr(MAPPED)));
    assert_eq!(s.ipv6.verdict, NatVerdict::Unknown);
    c.feed(Input::InboundProbeRequest { peer: id(1) });
    let phase = c.m.status().phase;
    assert_eq!(
        phase,
        pyrsia_boot_core::PhaseName::Connected,
        "the dial failure counted against nothing"
    );
}

#[test]
fn before_the_driver_names_its_addresses_one_probe_offers_them_all() {
    let config = seeds_config(1);
    let mut c = Client::start(config);
    let (dial, peer) = c.first_dial().expect("a dial");
    let via = Some(addr("/ip4/198.51.100.1/tcp/4001"));
    c.feed(Input::DialSucceeded {
        dial,
        peer,
        addr: via,
    });
    let family = c.first(|a| match a {
        Action::ProbeVia { family, .. } => Some(family),
        _ => None,
    });
    assert_eq!(family, Some(None));
}

#[test]
fn a_caller_waiting_for_both_families_hears_when_one_cannot_be_probed() {
    // The CLI waits until no probe is pending; it must hear when the IPv6 connection fails
    // after the IPv4 verdict, or it would wait forever.
    let (mut c, probe, v6_dial) = dual_stack(&[MAPPED, V6_MAPPED]);
    let (v4_probe, _) = probe.expect("the IPv4 probe");
    c.answer(v4_probe, Err(ProbeError::DialBackFailed));
    assert!(
        c.m.status().verdict_pending,
        "the IPv6 dial is still under way"
    );
    let unavailable = |actions: &[Action]| {
        (actions.iter()).any(|a| matches!(a, Action::Report(Event::VerdictUnavailable { .. })))
    };
    assert!(!unavailable(&c.drain()));
    let (dial, _) = v6_dial.expect("the IPv6 dial");
    c.feed(Input::DialFailed {
        dial,
        error: pyrsia_boot_core::DialError::Other("unreachable".into()),
    });
    assert!(!c.m.status().verdict_pending);
    assert!(unavailable(&c.drain()), "said once nothing more is coming");
}
