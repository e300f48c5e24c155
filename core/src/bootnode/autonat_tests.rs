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

use crate::{BootNodeAction, BootNodeConfig, BootNodeInput};

fn peer(b: u8) -> PeerId {
    libp2p_identity::Keypair::ed25519_from_bytes([b; 32])
        .expect("32 bytes")
        .public()
        .to_peer_id()
}

/// One boot node and the peer asking it, at the test's starting instant.
struct Bench {
    m: BootNodeMachine,
    now: Instant,
    asker: PeerId,
}

impl Bench {
    fn new(tune: impl FnOnce(&mut BootNodeConfig)) -> Self {
        let mut config = BootNodeConfig::new(peer(1));
        config.dial_back.policy = crate::AddressPolicy::allow_private();
        tune(&mut config);
        // The test's starting instant, handed to the machine like any other.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let m = BootNodeMachine::new(config, now);
        Bench {
            m,
            now,
            asker: peer(2),
        }
    }

    /// An inbound connection from `remote` with a 5 ms round trip measured.
    fn open(&mut self, conn: u64, remote: &str) {
        self.open_as(self.asker, conn, remote);
    }

    fn open_as(&mut self, peer: PeerId, conn: u64, remote: &str) {
        let remote = remote.parse().expect("valid");
        let now = self.now;
        let conn = Token(conn);
        let opened = BootNodeInput::ConnectionOpened {
            conn,
            peer,
            inbound: true,
            remote,
        };
        self.m.handle(now, opened);
        let rtt = Duration::from_millis(5);
        self.m.handle(now, BootNodeInput::RoundTrip { conn, rtt });
        while self.m.poll_action().is_some() {}
    }

    fn feed(&mut self, after: Duration, input: BootNodeInput) -> Vec<BootNodeAction> {
        self.m.handle(self.now + after, input);
        std::iter::from_fn(|| self.m.poll_action()).collect()
    }

    /// A dial request over connection 10 for `addr`.
    fn ask(&mut self, reply: u64, addr: &str) -> Vec<BootNodeAction> {
        self.ask_as(self.asker, Duration::ZERO, reply, 10, addr)
    }

    fn ask_as(
        &mut self,
        peer: PeerId,
        after: Duration,
        reply: u64,
        conn: u64,
        addr: &str,
    ) -> Vec<BootNodeAction> {
        let asked = BootNodeInput::DialBackAsked {
            reply: Token(reply),
            conn: Token(conn),
            peer,
            claimed: peer,
            addrs: vec![addr.parse().expect("valid")],
        };
        self.feed(after, asked)
    }
}

/// The dial-back legs among `actions`: from where, to where, how many attempts.
fn legs(actions: &[BootNodeAction]) -> Vec<(DialBackFrom, Vec<Multiaddr>, u32)> {
    (actions.iter())
        .filter_map(|a| match a {
            BootNodeAction::DialBack {
                from,
                addrs,
                attempts,
                ..
            } => Some((*from, addrs.clone(), *attempts)),
            _ => None,
        })
        .collect()
}

/// A request over the asker's IPv4 connection that names only IPv6 addresses is dialed
/// back at the IPv6 address the same peer connected from, never elsewhere.
#[test]
fn a_request_for_the_other_family_goes_to_the_askers_connection_of_that_family() {
    let mut b = Bench::new(|c| {
        c.dial_back.alternate = true;
        c.dial_back.alternate_family = Some(crate::Family::Ipv4);
    });
    b.open(10, "/ip4/203.0.113.50/tcp/40000");
    b.open(11, "/ip6/2001:db8:2::10/tcp/40001");
    let v6 = legs(&b.ask(20, "/ip6/fd00::10/tcp/4001"));
    let want: Vec<Multiaddr> = vec!["/ip6/2001:db8:2::10/tcp/4001".parse().expect("valid")];
    // The IPv4 alternate address cannot dial an IPv6 one: only the own leg goes.
    assert_eq!(v6, [(DialBackFrom::Own, want, 1)]);
    let v4 = legs(&b.ask(21, "/ip4/192.168.1.2/tcp/4001"));
    let want: Vec<Multiaddr> = vec!["/ip4/203.0.113.50/tcp/4001".parse().expect("valid")];
    let both = [DialBackFrom::Alternate, DialBackFrom::Own].map(|f| (f, want.clone(), 1));
    assert_eq!(v4, both);
}

fn answers(actions: &[BootNodeAction]) -> Vec<&DialBackAnswer> {
    (actions.iter())
        .filter_map(|a| match a {
            BootNodeAction::AnswerDialBack { answer, .. } => Some(answer),
            _ => None,
        })
        .collect()
}

fn job_of(actions: &[BootNodeAction]) -> DialBackId {
    (actions.iter())
        .find_map(|a| match a {
            BootNodeAction::DialBack { job, .. } => Some(*job),
            _ => None,
        })
        .expect("a dial-back started")
}

/// A reachable peer costs one handshake: the first attempt starts alone, and when it
/// connects the other attempts never start.
#[test]
fn a_dial_back_that_connects_at_once_never_starts_its_other_attempts() {
    let mut b = Bench::new(|_| {});
    b.open(10, "/ip4/198.51.100.7/tcp/40000");
    let started = b.ask(20, "/ip4/198.51.100.7/tcp/4001");
    let job = job_of(&started);
    assert_eq!(legs(&started).len(), 1);
    assert_eq!(legs(&started)[0].2, 1, "one attempt at first");
    let at = "/ip4/198.51.100.7/tcp/4001".parse().expect("valid");
    let from = DialBackFrom::Own;
    let done = b.feed(
        Duration::from_millis(3),
        BootNodeInput::DialedBack {
            job,
            from,
            result: Ok(at),
        },
    );
    assert!(matches!(answers(&done)[..], [DialBackAnswer::Reachable(_)]));
    // Past the stagger and the timeout nothing else is dialed.
    let later = b.feed(Duration::from_secs(5), BootNodeInput::Tick);
    assert!(legs(&later).is_empty(), "{later:?}");
}

/// Silence (a lost SYN): the other attempts start after the stagger, before the timeout,
/// and the total stays the policy's.
#[test]
fn a_silent_first_attempt_gets_company_after_the_stagger() {
    let mut b = Bench::new(|_| {});
    b.open(10, "/ip4/198.51.100.7/tcp/40000");
    let started = b.ask(20, "/ip4/198.51.100.7/tcp/4001");
    let policy = b.m.config().dial_back.clone();
    let rtt = Some(Duration::from_millis(5));
    let (stagger, timeout) = (policy.stagger(rtt), policy.timeout(rtt));
    assert!(stagger < timeout);
    assert_eq!(legs(&started)[0].2, 1);
    let before = b.feed(stagger - Duration::from_millis(1), BootNodeInput::Tick);
    assert!(legs(&before).is_empty(), "{before:?}");
    assert_eq!(b.m.poll_timeout(), Some(b.now + stagger));
    let rest = b.feed(stagger, BootNodeInput::Tick);
    assert_eq!(legs(&rest).len(), 1);
    assert_eq!(legs(&rest)[0].2, policy.attempts - 1);
    let end = b.feed(timeout, BootNodeInput::Tick);
    assert!(matches!(answers(&end)[..], [DialBackAnswer::DialError(_)]));
    assert!(legs(&end).is_empty());
}

/// A refusal is no reason to wait: the remaining attempts start at once, and the leg fails
/// only when they have failed too.
#[test]
fn a_refused_first_attempt_starts_the_rest_at_once() {
    let mut b = Bench::new(|_| {});
    b.open(10, "/ip4/198.51.100.7/tcp/40000");
    let job = job_of(&b.ask(20, "/ip4/198.51.100.7/tcp/4001"));
    let attempts = b.m.config().dial_back.attempts;
    let refused = || BootNodeInput::DialedBack {
        job,
        from: DialBackFrom::Own,
        result: Err("connection refused".into()),
    };
    let rest = b.feed(Duration::from_millis(1), refused());
    assert_eq!(legs(&rest)[..].len(), 1);
    assert_eq!(legs(&rest)[0].2, attempts - 1);
    assert!(answers(&rest).is_empty());
    let end = b.feed(Duration::from_millis(2), refused());
    assert!(matches!(answers(&end)[..], [DialBackAnswer::DialError(_)]));
    assert!(legs(&end).is_empty());
}

/// `stagger_min` zero restores issue 12's behaviour: every attempt at once.
#[test]
fn no_stagger_starts_every_attempt_together() {
    let mut b = Bench::new(|c| c.dial_back.stagger_min = Duration::ZERO);
    b.open(10, "/ip4/198.51.100.7/tcp/40000");
    let started = b.ask(20, "/ip4/198.51.100.7/tcp/4001");
    assert_eq!(legs(&started)[0].2, b.m.config().dial_back.attempts);
}

/// A crowd over the global throttle queues instead of being refused: each waiting request
/// starts when a place frees (a start leaves the period), oldest first, and one that finds
/// none within `queue_wait` is refused.
#[test]
fn a_crowd_over_the_global_throttle_waits_for_places_in_order() {
    let mut b = Bench::new(|c| {
        c.dial_back.global = 2;
        c.dial_back.max_queued = 2;
        c.dial_back.queue_wait = Duration::from_millis(800);
        // All attempts at once: no later launches to tell apart from starts.
        c.dial_back.stagger_min = Duration::ZERO;
    });
    for k in 0..5u8 {
        let conn = 10 + u64::from(k);
        b.open_as(
            peer(10 + k),
            conn,
            &format!("/ip4/198.51.100.{}/tcp/40000", 10 + k),
        );
    }
    let ms = Duration::from_millis;
    let ask = |b: &mut Bench, k: u8, after: Duration| {
        let addr = format!("/ip4/198.51.100.{}/tcp/4001", 10 + k);
        b.ask_as(
            peer(10 + k),
            after,
            20 + u64::from(k),
            10 + u64::from(k),
            &addr,
        )
    };
    let started = |actions: &[BootNodeAction]| legs(actions).len();
    assert_eq!(started(&ask(&mut b, 0, ms(0))), 1);
    assert_eq!(started(&ask(&mut b, 1, ms(0))), 1);
    // Places full: the next two wait, the one after them is refused at once.
    let third = ask(&mut b, 2, ms(300));
    assert_eq!((started(&third), answers(&third).len()), (0, 0));
    let fourth = ask(&mut b, 3, ms(300));
    assert_eq!((started(&fourth), answers(&fourth).len()), (0, 0));
    let fifth = ask(&mut b, 4, ms(300));
    assert!(matches!(answers(&fifth)[..], [DialBackAnswer::Refused(_)]));
    // The first two answered long ago are still in the period until it has passed.
    assert_eq!(
        b.m.poll_timeout().map(|t| t <= b.now + ms(1_000)),
        Some(true)
    );
    let freed = b.feed(ms(1_000), BootNodeInput::Tick);
    let to: Vec<Multiaddr> = legs(&freed)
        .into_iter()
        .map(|(_, a, _)| a[0].clone())
        .collect();
    let want: Vec<Multiaddr> = ["/ip4/198.51.100.12/tcp/4001", "/ip4/198.51.100.13/tcp/4001"]
        .iter()
        .map(|a| a.parse().expect("valid"))
        .collect();
    assert_eq!(to, want, "both waiting requests start, oldest first");
    // A newcomer now waits; the next place frees at 2 s, after its wait ends: refused.
    let addr = "/ip4/198.51.100.14/tcp/4001";
    let late = b.ask_as(peer(14), ms(1_100), 30, 14, addr);
    assert!(
        answers(&late).is_empty() && legs(&late).is_empty(),
        "{late:?}"
    );
    let end = b.feed(ms(1_100) + ms(800), BootNodeInput::Tick);
    let refused = (end.iter()).any(|a| {
        matches!(a, BootNodeAction::AnswerDialBack { reply: Token(30), answer: DialBackAnswer::Refused(why) } if why.contains("no dial-back place"))
    });
    assert!(refused, "{end:?}");
}
