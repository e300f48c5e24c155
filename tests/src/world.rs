//! A simulated world: boot servers scripted per URL and attempt, boot peers with scripted dial
//! outcomes and AutoNAT behaviour, and the local node's true reachability.
//!
//! [`World::generate`] builds one from bytes (via `arbitrary`), so proptest, the fuzzer and
//! the benchmarks all draw worlds from the same generator.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use pyrsia_boot_core::multiaddr::Protocol;
use pyrsia_boot_core::{
    AddrClass, AddressPolicy, Backoff, CachedPeer, CandidateOrder, Config, ConnectedRule,
    KnownPeer, Multiaddr, PeerId, SourceKind, StatusDocument, Timeouts,
};

/// A deterministic peer id: the ed25519 key made of 32 copies of `i`.
pub fn peer(i: u8) -> PeerId {
    // Deriving a key costs a scalar multiplication; the simulator asks for the same few ids
    // thousands of times a second, so they are derived once.
    static IDS: OnceLock<Vec<PeerId>> = OnceLock::new();
    let ids = IDS.get_or_init(|| (0..=u8::MAX).map(derive_peer).collect());
    ids[usize::from(i)]
}

fn derive_peer(i: u8) -> PeerId {
    libp2p_identity::Keypair::ed25519_from_bytes([i; 32])
        .expect("32 bytes make an ed25519 key")
        .public()
        .to_peer_id()
}

/// The local node's id in every world.
pub fn local_peer() -> PeerId {
    peer(0)
}

/// What one HTTP attempt does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer after `latency` with this status and body.
    Answer {
        /// Delay before the answer.
        latency: Duration,
        /// HTTP status.
        status: u16,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// Fail (connection refused) after `latency`.
    Fail {
        /// Delay before the failure.
        latency: Duration,
    },
    /// Never answer.
    Hang,
    /// The driver could not use the URL (a stricter parser than the machine's refused it),
    /// after `latency`.
    Unusable {
        /// Delay before the failure.
        latency: Duration,
    },
}

/// A boot URL and its replies: attempt `n` gets `replies[min(n, len - 1)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The URL.
    pub url: String,
    /// Replies by attempt; never empty.
    pub replies: Vec<Reply>,
}

/// How a dial to one address goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialScript {
    /// Connects after the latency.
    Connect(Duration),
    /// Refused after the latency.
    Refuse(Duration),
    /// Never completes.
    Hang,
}

/// A boot peer in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPeer {
    /// Its id.
    pub id: PeerId,
    /// Its addresses and what dialing each does.
    pub addrs: Vec<(Multiaddr, DialScript)>,
    /// Delay from connection to its AutoNAT dial request; `None`: it never sends one.
    pub probe_delay: Option<Duration>,
    /// Delay before it answers our dial-back request; `None`: it never answers.
    pub answer_delay: Option<Duration>,
    /// It closes the first connection this long after it opened; later ones stay up.
    pub drop_after: Option<Duration>,
    /// It refuses this many of our dial-back requests first (a throttled AutoNAT server),
    /// answering each after `answer_delay`.
    pub refusals: u32,
    /// It answers dial-back requests with OK without dialing (py-libp2p 0.8's server when a
    /// connection to the asker already exists): no dial-back connection ever arrives.
    pub answers_without_dialing: bool,
}

/// Whether the simulated node can be dialed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    /// Dial-backs succeed at this address.
    Public(Multiaddr),
    /// Dial-backs fail.
    Private,
}

/// A misbehaving driver: duplicates, stale replays, time going backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hostility {
    /// Seed of the driver's own choices.
    pub seed: u64,
    /// Percent of inputs delivered twice.
    pub duplicate_pct: u8,
    /// Percent of inputs replayed once more, much later.
    pub replay_pct: u8,
    /// Percent of ticks fed with a time in the past.
    pub backwards_pct: u8,
}

impl Hostility {
    /// A misbehaving driver for a third of the worlds drawn (both generators use it).
    pub fn generate(u: &mut Unstructured<'_>) -> Result<Option<Hostility>> {
        if !u.ratio(1, 3)? {
            return Ok(None);
        }
        Ok(Some(Hostility {
            seed: u.arbitrary()?,
            duplicate_pct: u.int_in_range(0..=30)?,
            replay_pct: u.int_in_range(0..=30)?,
            backwards_pct: u.int_in_range(0..=30)?,
        }))
    }

    /// A driver misbehaving this often (the properties' hostile worlds).
    pub fn with(seed: u64, duplicate_pct: u8, replay_pct: u8, backwards_pct: u8) -> Hostility {
        Hostility {
            seed,
            duplicate_pct,
            replay_pct,
            backwards_pct,
        }
    }
}

/// Everything the simulator needs: the machine's configuration and the world's script.
#[derive(Debug, Clone)]
pub struct World {
    /// The machine's configuration.
    pub config: Config,
    /// Boot servers, one per `config.boot_urls` entry, same order.
    pub servers: Vec<Server>,
    /// Boot peers that exist.
    pub peers: Vec<SimPeer>,
    /// The truth about the local node.
    pub reachability: Reachability,
    /// AutoNAT dial requests from peers the machine never dialed, at these times.
    pub stray_probes: Vec<(Duration, PeerId)>,
    /// A misbehaving driver, if any.
    pub hostile: Option<Hostility>,
    /// DNS: host name → addresses; a name not here does not resolve.
    pub dns: BTreeMap<String, Vec<IpAddr>>,
    /// `/dnsaddr` names → their TXT records' multiaddrs (with `/p2p/` suffixes, other peers'
    /// and further names among them); a name not here does not resolve.
    pub dnsaddr: BTreeMap<String, Vec<Multiaddr>>,
}

impl World {
    /// What the world's DNS makes of a `/dns*` address: the same address with the name
    /// replaced by each IP of the right family, or `None` when the name does not resolve.
    pub fn resolve(&self, addr: &Multiaddr) -> Option<Vec<Multiaddr>> {
        let mut parts = addr.iter();
        let (host, v4, v6) = match parts.next()? {
            Protocol::Dnsaddr(h) => return self.dnsaddr.get(h.as_ref()).cloned(),
            Protocol::Dns(h) => (h, true, true),
            Protocol::Dns4(h) => (h, true, false),
            Protocol::Dns6(h) => (h, false, true),
            _ => return None,
        };
        let rest: Vec<Protocol<'_>> = parts.collect();
        let ips = self.dns.get(host.as_ref())?;
        Some(
            ips.iter()
                .filter(|ip| if ip.is_ipv4() { v4 } else { v6 })
                .map(|ip| {
                    let first = match ip {
                        IpAddr::V4(a) => Protocol::Ip4(*a),
                        IpAddr::V6(a) => Protocol::Ip6(*a),
                    };
                    std::iter::once(first).chain(rest.iter().cloned()).collect()
                })
                .collect(),
        )
    }
}

impl World {
    /// Whether resolving `name` (recursively, at most `depth` levels) yields `addr`.
    pub fn reaches(&self, name: &Multiaddr, addr: &Multiaddr, depth: u8) -> bool {
        depth > 0
            && self.resolve(name).is_some_and(|found| {
                found.iter().any(|f| {
                    let f = pyrsia_boot_core::without_p2p(f);
                    f == *addr || self.reaches(&f, addr, depth - 1)
                })
            })
    }
}

fn millis(u: &mut Unstructured<'_>, lo: u64, hi: u64) -> Result<Duration> {
    Ok(Duration::from_millis(u.int_in_range(lo..=hi)?))
}

fn gen_addr(u: &mut Unstructured<'_>, peer: u8) -> Result<Multiaddr> {
    // Documentation ranges stand in for public addresses; the simulated policy allows them.
    if u.ratio(1, 12)? {
        // A `/dnsaddr` name stands for whole addresses: no port of its own.
        return Ok(format!("/dnsaddr/p{peer}.addr.test")
            .parse()
            .expect("generated addresses are valid"));
    }
    let ip = match u.int_in_range(0..=10u8)? {
        0..=5 => format!("/ip4/203.0.113.{peer}"),
        6 => format!("/ip4/198.51.100.{peer}"),
        7 => format!("/ip4/10.0.0.{peer}"),
        8 => "/ip4/127.0.0.1".to_string(),
        9 => format!("/ip6/2001:db8::{peer}"),
        _ => format!("/dns4/p{peer}.test"),
    };
    let port = u.int_in_range(4000..=4003u16)?;
    Ok(format!("{ip}/tcp/{port}")
        .parse()
        .expect("generated addresses are valid"))
}

fn gen_dial(u: &mut Unstructured<'_>) -> Result<DialScript> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=5 => DialScript::Connect(millis(u, 1, 800)?),
        6..=8 => DialScript::Refuse(millis(u, 1, 300)?),
        _ => DialScript::Hang,
    })
}

fn gen_peer(u: &mut Unstructured<'_>, i: u8) -> Result<SimPeer> {
    let n = u.int_in_range(1..=3usize)?;
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        addrs.push((gen_addr(u, i)?, gen_dial(u)?));
    }
    let probe_delay = if u.ratio(4, 5)? {
        Some(millis(u, 1, 3_000)?)
    } else {
        None
    };
    let answer_delay = if u.ratio(3, 4)? {
        Some(millis(u, 1, 3_000)?)
    } else {
        None
    };
    let drop_after = if u.ratio(1, 5)? {
        Some(millis(u, 10, 20_000)?)
    } else {
        None
    };
    let refusals = if u.ratio(1, 4)? {
        u.int_in_range(1..=3)?
    } else {
        0
    };
    let answers_without_dialing = u.ratio(1, 8)?;
    Ok(SimPeer {
        id: peer(i),
        addrs,
        probe_delay,
        answer_delay,
        drop_after,
        refusals,
        answers_without_dialing,
    })
}

fn full_addr(addr: &Multiaddr, id: &PeerId) -> String {
    format!("{addr}/p2p/{id}")
}

fn gen_body(u: &mut Unstructured<'_>, peers: &[SimPeer]) -> Result<Vec<u8>> {
    match u.int_in_range(0..=9u8)? {
        0 => {
            // Garbage.
            let n = u.int_in_range(0..=64usize)?.min(u.len());
            Ok(u.bytes(n)?.to_vec())
        }
        1 => Ok(b"{\"peer_addrs\": 7}".to_vec()),
        _ => {
            let mut addrs = Vec::new();
            for p in peers {
                if u.ratio(2, 3)? {
                    addrs.extend(p.addrs.iter().map(|(a, _)| full_addr(a, &p.id)));
                }
            }
            if u.ratio(1, 4)? {
                addrs.push(full_addr(
                    &"/ip4/203.0.113.99/tcp/1".parse().expect("valid"),
                    &local_peer(),
                ));
            }
            if u.ratio(1, 4)? {
                addrs.push("/ip4/203.0.113.1/tcp/1".into()); // no /p2p
            }
            if u.ratio(1, 5)? && !addrs.is_empty() {
                let dup = addrs[0].clone();
                addrs.push(dup);
            }
            let doc = StatusDocument {
                peers_count: u.int_in_range(0..=50)?,
                peer_id: peers.first().map(|p| p.id.to_string()).unwrap_or_default(),
                peer_addrs: addrs,
                peer_loads: Vec::new(),
                signature: None,
            };
            Ok(doc.to_json())
        }
    }
}

fn gen_reply(u: &mut Unstructured<'_>, peers: &[SimPeer]) -> Result<Reply> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=5 => Reply::Answer {
            latency: millis(u, 1, 1_500)?,
            status: 200,
            body: gen_body(u, peers)?,
        },
        6 => Reply::Answer {
            latency: millis(u, 1, 500)?,
            status: *u.choose(&[404u16, 500, 503])?,
            body: b"oops".to_vec(),
        },
        7 | 8 => Reply::Fail {
            latency: millis(u, 1, 500)?,
        },
        _ => Reply::Hang,
    })
}

fn known(u: &mut Unstructured<'_>, peers: &[SimPeer]) -> Result<Vec<KnownPeer>> {
    let mut out = Vec::new();
    for p in peers {
        if u.ratio(1, 3)? {
            out.push(KnownPeer {
                id: p.id,
                addrs: p.addrs.iter().map(|(a, _)| a.clone()).collect(),
            });
        }
    }
    Ok(out)
}

impl World {
    /// Draws a world from bytes. Any byte string gives a valid world.
    pub fn generate(u: &mut Unstructured<'_>) -> Result<World> {
        let n_peers = u.int_in_range(1..=5u8)?;
        let mut peers = Vec::new();
        for i in 1..=n_peers {
            peers.push(gen_peer(u, i)?);
        }
        let n_urls = u.int_in_range(0..=3usize)?;
        let mut servers = Vec::new();
        for i in 0..n_urls {
            let n = u.int_in_range(1..=3usize)?;
            let mut replies = Vec::new();
            for _ in 0..n {
                replies.push(gen_reply(u, &peers)?);
            }
            servers.push(Server {
                url: format!("http://boot-{i}.test/status"),
                replies,
            });
        }
        let source_order = match u.int_in_range(0..=2u8)? {
            0 => vec![SourceKind::Cache, SourceKind::Urls, SourceKind::Seeds],
            1 => vec![SourceKind::Urls, SourceKind::Seeds, SourceKind::Cache],
            _ => vec![SourceKind::Seeds, SourceKind::Urls],
        };
        let policy = if u.arbitrary()? {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::public_only().with(AddrClass::Documentation)
        };
        let mut config = Config {
            local_peer: Some(local_peer()),
            boot_urls: servers.iter().map(|s| s.url.clone()).collect(),
            seeds: known(u, &peers)?,
            cache: known(u, &peers)?
                .into_iter()
                .map(|peer| CachedPeer {
                    peer,
                    last_seen: None,
                })
                .collect(),
            source_order,
            policy,
            candidate_order: if u.arbitrary()? {
                CandidateOrder::LeastLoaded
            } else {
                CandidateOrder::AsListed
            },
            max_concurrent_dials: u.int_in_range(1..=3usize)?,
            connected_rule: if u.ratio(1, 4)? {
                ConnectedRule::InboundOrOwnProbe
            } else {
                ConnectedRule::InboundProbeRequest
            },
            timeouts: Timeouts {
                http: millis(u, 100, 3_000)?,
                dial: millis(u, 100, 3_000)?,
                inbound_probe: millis(u, 100, 4_000)?,
                own_probe: millis(u, 100, 4_000)?,
                own_probe_retry: millis(u, 1, 3_000)?,
            },
            backoff: Backoff {
                initial: millis(u, 1, 1_000)?,
                cap: millis(u, 100, 8_000)?,
                max_rounds: u.int_in_range(1..=7)?,
            },
            budget: millis(u, 500, 60_000)?,
            own_probe_attempts: u.int_in_range(0..=3)?,
            rng_seed: u.arbitrary()?,
            ..Config::default()
        };
        let reachability = if u.arbitrary()? {
            Reachability::Public("/ip4/203.0.113.200/tcp/4001".parse().expect("valid"))
        } else {
            Reachability::Private
        };
        let mut stray_probes = Vec::new();
        if u.ratio(1, 4)? {
            stray_probes.push((millis(u, 0, 5_000)?, peer(u.int_in_range(6..=9)?)));
        }
        let mut dns = BTreeMap::new();
        for i in 1..=n_peers {
            let v4 = |last: u8| IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, last));
            let ips = match u.int_in_range(0..=3u8)? {
                0 => continue, // NXDOMAIN
                1 => vec![v4(i)],
                2 => vec![IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i))],
                _ => vec![IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), v4(i)],
            };
            dns.insert(format!("p{i}.test"), ips);
        }
        // `/dnsaddr` records: the peer's own beside another peer's, a second level down to a
        // `/dns4` name, a loop, or nothing.
        let mut dnsaddr = BTreeMap::new();
        for i in 1..=n_peers {
            let ma = |s: String| -> Multiaddr { s.parse().expect("generated records are valid") };
            let (me, other) = (peer(i), peer(i % 9 + 1));
            let records = match u.int_in_range(0..=4u8)? {
                0 => continue,
                1 => vec![
                    ma(format!("/ip4/198.51.100.{i}/tcp/4001/p2p/{other}")),
                    ma(format!("/ip4/203.0.113.{i}/tcp/4001/p2p/{me}")),
                ],
                2 => {
                    dnsaddr.insert(
                        format!("p{i}.second.test"),
                        vec![ma(format!("/dns4/p{i}.test/tcp/4002/p2p/{me}"))],
                    );
                    vec![ma(format!("/dnsaddr/p{i}.second.test/p2p/{me}"))]
                }
                3 => vec![ma(format!("/dnsaddr/p{i}.addr.test/p2p/{me}"))],
                _ => vec![ma(format!("/ip4/10.0.0.{i}/tcp/4001/p2p/{me}"))],
            };
            dnsaddr.insert(format!("p{i}.addr.test"), records);
        }
        // A wall clock, and cache entries seen up to 60 days before it (some past the
        // 30-day horizon, some from its future).
        if u.ratio(1, 2)? {
            let now = 1_790_000_000u64;
            config.unix_time = Some(now);
            for c in &mut config.cache {
                if u.ratio(3, 4)? {
                    let age = u.int_in_range(0..=60 * 24 * 3600u64)?;
                    c.last_seen = Some(now - age + u.int_in_range(0..=3600u64)?);
                }
            }
        }
        // Sometimes pin a subset of the peers (possibly none of the good ones).
        if u.ratio(1, 4)? {
            for p in &peers {
                if u.arbitrary()? {
                    config.pinned.push(p.id);
                }
            }
        }
        let hostile = Hostility::generate(u)?;
        Ok(World {
            config,
            servers,
            peers,
            reachability,
            stray_probes,
            hostile,
            dns,
            dnsaddr,
        })
    }

    /// Draws a world from raw bytes (the fuzzer's and proptest's entry point).
    pub fn from_bytes(data: &[u8]) -> World {
        let mut u = Unstructured::new(data);
        // `generate` only fails when told to by `Unstructured`, which never does for these
        // calls (they fall back to defaults when the bytes run out).
        World::generate(&mut u).expect("generation from exhausted bytes uses defaults")
    }
}

impl SimPeer {
    /// A well-behaved boot peer: one address at `203.0.113.<i>:4001` that connects after
    /// `latency`; it sends its AutoNAT request and answers ours after `latency` as well.
    pub fn good(i: u8, latency: Duration) -> SimPeer {
        SimPeer {
            id: peer(i),
            addrs: vec![(
                format!("/ip4/203.0.113.{i}/tcp/4001")
                    .parse()
                    .expect("valid address"),
                DialScript::Connect(latency),
            )],
            probe_delay: Some(latency),
            answer_delay: Some(latency),
            drop_after: None,
            refusals: 0,
            answers_without_dialing: false,
        }
    }

    /// The same peer with every address refusing dials.
    pub fn dead(mut self) -> SimPeer {
        for (_, s) in &mut self.addrs {
            *s = DialScript::Refuse(Duration::from_millis(1));
        }
        self
    }

    /// The peer as a seed or cache entry.
    pub fn known(&self) -> KnownPeer {
        KnownPeer {
            id: self.id,
            addrs: self.addrs.iter().map(|(a, _)| a.clone()).collect(),
        }
    }
}

/// The /status body a boot node serving `peers` would send (the first one serving).
pub fn document(peers: &[&SimPeer]) -> Vec<u8> {
    status_document(peers).to_json()
}

/// The /status document a boot node serving `peers` would send, before serializing (to sign).
pub fn status_document(peers: &[&SimPeer]) -> StatusDocument {
    StatusDocument {
        peers_count: 0,
        peer_id: peers.first().map(|p| p.id.to_string()).unwrap_or_default(),
        peer_addrs: peers
            .iter()
            .flat_map(|p| p.addrs.iter().map(|(a, _)| full_addr(a, &p.id)))
            .collect(),
        peer_loads: Vec::new(),
        signature: None,
    }
}

/// A `200 OK` reply with `body` after `latency`.
pub fn ok(latency: Duration, body: Vec<u8>) -> Reply {
    Reply::Answer {
        latency,
        status: 200,
        body,
    }
}

/// One boot URL serving three good peers, a public local node, default timeouts; the policy
/// treats documentation ranges as public.
pub fn simple_world(seed: u64, latency: Duration) -> World {
    let peers: Vec<SimPeer> = (1..=3).map(|i| SimPeer::good(i, latency)).collect();
    let body = document(&peers.iter().collect::<Vec<_>>());
    let url = "http://boot.test/status".to_string();
    World {
        config: Config {
            local_peer: Some(local_peer()),
            boot_urls: vec![url.clone()],
            policy: AddressPolicy::public_only().with(AddrClass::Documentation),
            rng_seed: seed,
            ..Config::default()
        },
        servers: vec![Server {
            url,
            replies: vec![ok(latency, body)],
        }],
        peers,
        reachability: Reachability::Public("/ip4/203.0.113.200/tcp/4001".parse().expect("valid")),
        stray_probes: Vec::new(),
        hostile: None,
        dns: BTreeMap::new(),
        dnsaddr: BTreeMap::new(),
    }
}

impl World {
    /// Appends a boot URL with its scripted replies.
    pub fn add_url(&mut self, url: &str, replies: Vec<Reply>) {
        self.config.boot_urls.push(url.into());
        self.servers.push(Server {
            url: url.into(),
            replies,
        });
    }

    /// The /status body listing every peer of this world.
    pub fn full_document(&self) -> Vec<u8> {
        document(&self.peers.iter().collect::<Vec<_>>())
    }

    /// This world with its first URL answering `replies`, then a second URL that works.
    pub fn first_url_then_good(mut self, replies: Vec<Reply>) -> World {
        self.servers[0].replies = replies;
        let body = self.full_document();
        self.add_url(
            "http://boot-b.test/status",
            vec![ok(Duration::from_millis(20), body)],
        );
        self
    }
}
