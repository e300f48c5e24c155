//! A simulated world around a boot node: peers that join (inbound, sometimes with several
//! connections) and leave, answer its dial requests in every way a peer can (or never, or
//! after leaving), cluster members that answer load questions or do not, `/status` requests
//! in bursts, a signer that is fast, slow, failing or silent, listen addresses and
//! membership that change while it runs.
//!
//! [`BootWorld::generate`] draws one from bytes (proptest and the `bootnode` fuzz target share
//! it); [`churn_world`] and [`steady_world`] build the large worlds of the scale properties.

use std::time::Duration;

use arbitrary::{Result, Unstructured};
use libp2p_identity::Keypair;
use pyrsia_boot_core::{
    AddrClass, AddressPolicy, BootNodeConfig, Multiaddr, PeerId, RequestFailure, SigningPolicy,
};

use crate::world::Hostility;

/// The wall clock of every boot world at its start (Unix seconds).
pub const BOOT_UNIX_START: u64 = 1_795_000_000;

/// A cheap deterministic peer id (a sha256 multihash of a counter): the churn worlds need
/// hundreds of thousands, and deriving ed25519 keys would cost a scalar multiplication each.
pub fn sim_peer(i: u32) -> PeerId {
    let mut digest = [0u8; 32];
    let mut state = u64::from(i) ^ 0x5eed_0000_0000;
    for chunk in digest.chunks_mut(8) {
        let mut rng = pyrsia_boot_core::SeededRng::new(state);
        state = rng.next_u64();
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    let mut bytes = vec![0x12, 0x20];
    bytes.extend_from_slice(&digest);
    PeerId::from_bytes(&bytes).expect("a sha256 multihash is a peer id")
}

/// The boot node's own id in every boot world.
pub fn boot_peer() -> PeerId {
    sim_peer(0)
}

/// The operator key that signs in every boot world with signing (derived once: a key
/// derivation costs a scalar multiplication).
pub fn operator() -> Keypair {
    static KEY: std::sync::OnceLock<Keypair> = std::sync::OnceLock::new();
    KEY.get_or_init(|| Keypair::ed25519_from_bytes([0x0b; 32]).expect("32 bytes make a key"))
        .clone()
}

/// How a peer answers the boot node's dial request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It dialed the boot node back.
    Reachable,
    /// It tried and could not.
    DialError,
    /// It refused to try.
    Refused,
    /// The request failed on the way (a stream reset, the protocol not spoken).
    Fails,
    /// It never answers.
    Never,
}

/// One peer that joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joiner {
    /// Index of its id ([`sim_peer`]); the same index joining twice is a reconnect.
    pub peer: u32,
    /// Whether its first connection is one it opened (a joining node) or one the boot node
    /// opened (an AutoNAT dial-back to it).
    pub inbound: bool,
    /// More connections it opens after the first, each this long after the previous.
    pub extra: Vec<Duration>,
    /// How long it stays after its first connection (every connection closes then).
    pub stay: Duration,
    /// Its answer to a dial request, and how long it takes.
    pub answer: (Answer, Duration),
    /// Whether it asks our AutoNAT server for a dial-back (and when, after connecting).
    pub asks: Option<DialBackAsk>,
}

/// A joiner's own AutoNAT dial request, and what dialing it back does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialBackAsk {
    /// When it asks, after its first connection.
    pub after: Duration,
    /// The round trip ping measures on its connection (fed before the request).
    pub rtt: Duration,
    /// Whether a dial-back reaches it (the ground truth), and after how long.
    pub reachable: bool,
    /// How long a dial-back attempt takes to connect, or to be refused.
    pub latency: Duration,
    /// Unreachable by a reset (a router that rejects) rather than by silence (one that drops).
    pub rejects: bool,
    /// Behind an address-restricted NAT: only hosts it contacted get in, so a dial-back from
    /// the boot node's alternate address never connects.
    pub strangers_blocked: bool,
    /// How many times it asks, back to back (a flood past the per-peer throttle).
    pub times: u32,
}

/// What a cluster member does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMember {
    /// Its index (its id is [`sim_peer`]`(u32::MAX - index)`, apart from every joiner).
    pub index: u32,
    /// How long it takes to answer a load question; `None`: it never answers.
    pub latency: Option<Duration>,
    /// It answers with a failure instead of a count.
    pub fails: bool,
    /// The load it reports.
    pub load: u64,
}

impl SimMember {
    /// Its id.
    pub fn id(&self) -> PeerId {
        sim_peer(u32::MAX - self.index)
    }

    /// Its full multiaddr as text (made once per member index: base58 is costly).
    pub fn full_text(&self) -> String {
        static TEXT: std::sync::OnceLock<
            std::sync::Mutex<std::collections::BTreeMap<u32, String>>,
        > = std::sync::OnceLock::new();
        let map = TEXT.get_or_init(Default::default);
        let mut map = map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(self.index)
            .or_insert_with(|| self.full().to_string())
            .clone()
    }

    /// Its full multiaddr, as the cluster lists it.
    pub fn full(&self) -> Multiaddr {
        format!(
            "/ip4/198.51.100.{}/tcp/44000/p2p/{}",
            20 + self.index % 200,
            self.id()
        )
        .parse()
        .expect("valid member address")
    }
}

/// How the driver's signer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signer {
    /// Time to sign.
    pub latency: Duration,
    /// Every n-th job fails (0: none).
    pub fail_every: u32,
    /// Every n-th job is never answered (0: none).
    pub hang_every: u32,
    /// Every job after the n-th fails (a signer that goes away: an HSM offline).
    pub dies_after: Option<u32>,
}

impl Signer {
    /// Whether every job is answered, correctly, after `latency`.
    pub fn healthy(&self) -> bool {
        self.fail_every == 0 && self.hang_every == 0 && self.dies_after.is_none()
    }
}

/// Something that happens in the world at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A peer joins.
    Join(Joiner),
    /// `count` `/status` requests, `spacing` apart.
    StatusRequests {
        /// How many.
        count: u32,
        /// Time between two.
        spacing: Duration,
    },
    /// A member opens a connection (inbound) or is dialed (outbound), for `stay`.
    MemberConnects {
        /// Index into [`BootWorld::members`].
        member: usize,
        /// Who opened it.
        inbound: bool,
        /// How long it stays open.
        stay: Duration,
    },
    /// The cluster becomes these members (indices into [`BootWorld::members`]).
    ClusterChange(Vec<usize>),
    /// The swarm gains a listen address.
    ListenAdded(Multiaddr),
    /// The swarm loses its first listen address.
    ListenRemoved,
    /// A peer asks for the boot node's load.
    LoadAsked(u32),
    /// An answer for a dial request that was never sent (a confused driver).
    StrayAnswer(u64),
    /// The wall clock is stepped by this many seconds (NTP after a bad start, a VM resumed
    /// after a pause); the driver feeds the new reading.
    ClockStep(i32),
}

/// Everything the boot-node simulator needs.
#[derive(Debug, Clone)]
pub struct BootWorld {
    /// The machine's configuration (its `cluster` lists the members in [`Self::initial`]).
    pub config: BootNodeConfig,
    /// Listen addresses reported at the start.
    pub listen: Vec<Multiaddr>,
    /// Every member that may be part of the cluster.
    pub members: Vec<SimMember>,
    /// Indices of the members in the cluster at the start.
    pub initial: Vec<usize>,
    /// What happens, and when (times from the start, any order).
    pub happenings: Vec<(Duration, Happening)>,
    /// The signer (used when the configuration signs).
    pub signer: Signer,
    /// A misbehaving driver, if any.
    pub hostile: Option<Hostility>,
    /// How long the simulator runs on after the last thing happens (renewals and load polls
    /// go on; every request must be settled by then).
    pub settle: Duration,
}

/// The default [`BootWorld::settle`].
pub const SETTLE: Duration = Duration::from_secs(60);

fn millis(u: &mut Unstructured<'_>, lo: u64, hi: u64) -> Result<Duration> {
    Ok(Duration::from_millis(u.int_in_range(lo..=hi)?))
}

fn gen_answer(u: &mut Unstructured<'_>) -> Result<(Answer, Duration)> {
    let kind = match u.int_in_range(0..=9u8)? {
        0..=4 => Answer::Reachable,
        5 => Answer::DialError,
        6 => Answer::Refused,
        7 => Answer::Fails,
        _ => Answer::Never,
    };
    Ok((kind, millis(u, 1, 30_000)?))
}

fn gen_listen(u: &mut Unstructured<'_>, i: u8) -> Result<Multiaddr> {
    let s = match u.int_in_range(0..=4u8)? {
        0 => format!("/ip4/203.0.113.{i}/tcp/44000"),
        1 => format!("/ip4/10.0.0.{i}/tcp/44000"),
        2 => "/ip4/127.0.0.1/tcp/44000".to_string(),
        3 => format!("/ip6/2001:db8::{i}/tcp/44001"),
        _ => format!("/ip4/192.168.1.{i}/tcp/{}", 44000 + u16::from(i)),
    };
    Ok(s.parse().expect("generated addresses are valid"))
}

impl BootWorld {
    /// Draws a world from bytes. Any byte string gives a valid world.
    pub fn generate(u: &mut Unstructured<'_>) -> Result<BootWorld> {
        let n_members = u.int_in_range(0..=4usize)?;
        let mut members = Vec::new();
        for i in 0..n_members {
            members.push(SimMember {
                index: i as u32,
                latency: if u.ratio(4, 5)? {
                    Some(millis(u, 1, 3_000)?)
                } else {
                    None
                },
                fails: u.ratio(1, 6)?,
                load: u.int_in_range(0..=500)?,
            });
        }
        let initial: Vec<usize> = (0..n_members)
            .filter(|_| u.ratio(3, 4).unwrap_or(true))
            .collect();
        let policy = if u.arbitrary()? {
            AddressPolicy::allow_private()
        } else {
            AddressPolicy::public_only().with(AddrClass::Documentation)
        };
        let mut config = BootNodeConfig::new(boot_peer());
        config.policy = policy;
        config.dial_back.policy = policy;
        config.dial_back.attempts = u.int_in_range(1..=4)?;
        config.dial_back.stagger_min = millis(u, 0, 1_000)?;
        config.dial_back.stagger_rtt_multiple = u.int_in_range(0..=6)?;
        config.dial_back.per_peer = u.int_in_range(1..=5)?;
        config.dial_back.global = u.int_in_range(1..=8)?;
        config.dial_back.max_queued = u.int_in_range(0..=4)?;
        config.dial_back.queue_wait = millis(u, 1, 3_000)?;
        config.dial_back.min_timeout = millis(u, 1, 2_000)?;
        config.dial_back.rtt_multiple = u.int_in_range(0..=10)?;
        config.dial_back.alternate = u.ratio(1, 3)?;
        config.cluster = initial.iter().map(|i| members[*i].full()).collect();
        if u.ratio(1, 3)? {
            config.external_addrs =
                vec!["/dns4/boot.example.test/tcp/44000".parse().expect("valid")];
        }
        config.load_interval = millis(u, 100, 10_000)?;
        config.dial_request_timeout = millis(u, 100, 25_000)?;
        config.max_waiting_requests = u.int_in_range(1..=64)?;
        if u.ratio(1, 2)? {
            let mut signing = SigningPolicy::new(operator().public());
            signing.validity = millis(u, 4_000, 600_000)?;
            signing.sequence = u.int_in_range(1..=9)?;
            signing.timeout = millis(u, 10, 5_000)?;
            signing.retry_after = millis(u, 1, 3_000)?;
            config.signing = Some(signing);
        }
        config.unix_time = u.ratio(9, 10)?.then_some(BOOT_UNIX_START);
        let listen = (1..=u.int_in_range(0..=3u8)?)
            .map(|i| gen_listen(u, i))
            .collect::<Result<Vec<_>>>()?;
        let signer = Signer {
            latency: millis(u, 0, 3_000)?,
            fail_every: if u.ratio(1, 4)? {
                u.int_in_range(1..=4)?
            } else {
                0
            },
            hang_every: if u.ratio(1, 5)? {
                u.int_in_range(1..=4)?
            } else {
                0
            },
            dies_after: if u.ratio(1, 5)? {
                Some(u.int_in_range(1..=12)?)
            } else {
                None
            },
        };
        let mut happenings = Vec::new();
        for _ in 0..u.int_in_range(0..=40usize)? {
            let at = millis(u, 0, 120_000)?;
            let h = match u.int_in_range(0..=19u8)? {
                0..=9 => Happening::Join(Joiner {
                    peer: u.int_in_range(1..=40)?,
                    inbound: u.ratio(5, 6)?,
                    extra: (0..u.int_in_range(0..=2usize)?)
                        .map(|_| millis(u, 0, 2_000))
                        .collect::<Result<Vec<_>>>()?,
                    stay: millis(u, 1, 60_000)?,
                    answer: gen_answer(u)?,
                    asks: if u.ratio(1, 2)? {
                        Some(DialBackAsk {
                            after: millis(u, 0, 500)?,
                            rtt: millis(u, 0, 300)?,
                            reachable: u.ratio(1, 2)?,
                            latency: millis(u, 0, 1_500)?,
                            rejects: u.ratio(1, 2)?,
                            strangers_blocked: u.ratio(1, 3)?,
                            times: u.int_in_range(1..=6)?,
                        })
                    } else {
                        None
                    },
                }),
                10..=12 => Happening::StatusRequests {
                    count: u.int_in_range(1..=30)?,
                    spacing: millis(u, 0, 5_000)?,
                },
                13 if n_members > 0 => Happening::MemberConnects {
                    member: u.int_in_range(0..=n_members - 1)?,
                    inbound: u.arbitrary()?,
                    stay: millis(u, 1, 30_000)?,
                },
                14 => Happening::ClusterChange(
                    (0..n_members)
                        .filter(|_| u.ratio(1, 2).unwrap_or(false))
                        .collect(),
                ),
                15 => {
                    let i = u.int_in_range(1..=9)?;
                    Happening::ListenAdded(gen_listen(u, i)?)
                }
                16 => Happening::ListenRemoved,
                17 => Happening::LoadAsked(u.int_in_range(1..=40)?),
                18 => Happening::StrayAnswer(u.int_in_range(1..=500)?),
                19 if u.ratio(1, 2)? => Happening::ClockStep(u.int_in_range(-900..=900)?),
                _ => Happening::StatusRequests {
                    count: 1,
                    spacing: Duration::ZERO,
                },
            };
            happenings.push((at, h));
        }
        let hostile = Hostility::generate(u)?;
        Ok(BootWorld {
            config,
            listen,
            members,
            initial,
            happenings,
            signer,
            hostile,
            settle: SETTLE,
        })
    }

    /// Draws a world from raw bytes (the fuzzer's and proptest's entry point).
    pub fn from_bytes(data: &[u8]) -> BootWorld {
        let mut u = Unstructured::new(data);
        BootWorld::generate(&mut u).expect("generation from exhausted bytes uses defaults")
    }
}

/// A boot node on a documentation address, `members` members that answer load questions in
/// 5 ms, signing (valid 60 s) when `signed`, a healthy signer, nothing happening yet.
pub fn quiet_world(members: u32, signed: bool) -> BootWorld {
    let members: Vec<SimMember> = (0..members)
        .map(|index| SimMember {
            index,
            latency: Some(Duration::from_millis(5)),
            fails: false,
            load: u64::from(index) * 10,
        })
        .collect();
    let initial: Vec<usize> = (0..members.len()).collect();
    let mut config = BootNodeConfig::new(boot_peer());
    config.policy = AddressPolicy::public_only().with(AddrClass::Documentation);
    config.cluster = members.iter().map(SimMember::full).collect();
    config.unix_time = Some(BOOT_UNIX_START);
    if signed {
        let mut signing = SigningPolicy::new(operator().public());
        signing.validity = Duration::from_secs(60);
        config.signing = Some(signing);
    }
    BootWorld {
        config,
        listen: vec!["/ip4/203.0.113.10/tcp/44000".parse().expect("valid")],
        members,
        initial,
        happenings: Vec::new(),
        signer: Signer {
            latency: Duration::from_millis(2),
            fail_every: 0,
            hang_every: 0,
            dies_after: None,
        },
        hostile: None,
        settle: SETTLE,
    }
}

/// A joiner that stays `stay`, answers `Reachable` after 3 ms, with one inbound connection.
pub fn joiner(peer: u32, stay: Duration) -> Joiner {
    Joiner {
        peer,
        inbound: true,
        extra: Vec::new(),
        stay,
        answer: (Answer::Reachable, Duration::from_millis(3)),
        asks: None,
    }
}

/// `joins` peers joining one every millisecond, each staying 2 to 40 ms, with a `/status`
/// request every 10 ms: churn for the bounded-memory property.
pub fn churn_world(joins: u32, seed: u64) -> BootWorld {
    let mut w = quiet_world(2, false);
    let mut rng = pyrsia_boot_core::SeededRng::new(seed);
    for i in 0..joins {
        let stay = Duration::from_millis(2 + rng.next_u64() % 39);
        let mut j = joiner(i + 1, stay);
        j.answer.0 = match rng.next_u64() % 5 {
            0 => Answer::Never,
            1 => Answer::Refused,
            _ => Answer::Reachable,
        };
        j.answer.1 = Duration::from_millis(1 + rng.next_u64() % 60);
        w.happenings
            .push((Duration::from_millis(u64::from(i)), Happening::Join(j)));
    }
    w.happenings.push((
        Duration::ZERO,
        Happening::StatusRequests {
            count: joins / 10,
            spacing: Duration::from_millis(10),
        },
    ));
    w
}

/// A steady cluster of `members` with `renders` `/status` requests 1 ms apart: the rotation
/// fairness property. Signed when `signed`.
pub fn steady_world(members: u32, renders: u32, signed: bool) -> BootWorld {
    let mut w = quiet_world(members, signed);
    w.happenings.push((
        Duration::from_millis(10),
        Happening::StatusRequests {
            count: renders,
            spacing: Duration::from_millis(1),
        },
    ));
    w
}

/// What the world answers a load question with.
pub fn load_answer(member: &SimMember) -> std::result::Result<u64, RequestFailure> {
    if member.fails {
        Err(RequestFailure::Stream("reset by the member".into()))
    } else {
        Ok(member.load)
    }
}
