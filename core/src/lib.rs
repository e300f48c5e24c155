//! # pyrsia-boot-core
//!
//! The sans-IO heart of pyrsia-boot: a [`BootstrapMachine`] that takes a libp2p node from
//! "just started, network unknown" to "connected to a boot peer, and I know whether I am
//! reachable"; a [`BootNodeMachine`] that holds the boot node's policy (dial requests to
//! joining peers, the `/status` document, load polling, signing); and the parser for the
//! Pyrsia `/status` boot document ([`parse_status`]). Both machines follow the same contract.
//!
//! The crate does no IO: no sockets, no async, no clock reads, no OS randomness, no
//! hash-ordered iteration. Time comes in as `now`, randomness as a seed, and the world as
//! [`Input`]s; decisions come out as [`Action`]s. That makes the same machine drive an
//! async-std node, a smol node, a simulator with virtual time, and a fuzzer.
//!
//! ## The driver loop, in four moves
//!
//! 1. **Feed** one input with the current time: [`BootstrapMachine::handle`]`(now, input)`.
//! 2. **Drain** every action: call [`BootstrapMachine::poll_action`] until it returns `None`,
//!    and carry each one out (fetch a URL, dial, ask for a dial-back, report, persist).
//! 3. **Arm** one timer at [`BootstrapMachine::poll_timeout`] (replacing the previous one).
//! 4. **Wait** for the first of: the timer (feed [`Input::Tick`]), an HTTP completion, a swarm
//!    event. Go to 1.
//!
//! `poll_timeout` returns the last `now` while actions are still queued, so a driver that
//! skips a drain wakes up at once instead of sleeping on undone work.
//!
//! ## Three kinds of error
//!
//! * **The world failed** (HTTP 500, refused dial, garbage body, silent boot peer): these are
//!   inputs. The machine records them, retries by its policy and finally reports
//!   [`Event::GaveUp`] with everything it tried.
//! * **The driver misbehaved** (an unknown or stale id, a duplicate result, time going
//!   backwards): tolerated, counted in [`Counters::ignored_inputs`], logged at debug level.
//! * **An internal invariant broke**: that is a bug in this crate; the few places that could
//!   only fail that way panic with `expect("invariant: …")`, naming it.
//!
//! ## An example driver
//!
//! A stand-in world answers every action at once: the boot URL serves one peer, dials
//! succeed, and the boot peer sends its AutoNAT dial request as soon as we connect.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::time::Instant;
//! use pyrsia_boot_core::{Action, AddressPolicy, BootstrapMachine, Config, Event, Input};
//!
//! let boot = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
//! let body = format!(
//!     r#"{{"peers_count":0,"peer_id":"{boot}","peer_addrs":["/ip4/127.0.0.1/tcp/44000/p2p/{boot}"]}}"#
//! );
//! let mut config = Config::with_urls(["http://127.0.0.1:8080/status"]);
//! config.policy = AddressPolicy::allow_private(); // a loopback demo
//!
//! let mut now = Instant::now();
//! let mut machine = BootstrapMachine::new(config, now);
//! let mut world: VecDeque<Input> = VecDeque::new();
//! let connected_via = 'drive: loop {
//!     // 2. drain every action
//!     while let Some(action) = machine.poll_action() {
//!         match action {
//!             Action::FetchStatus { request, .. } => world.push_back(Input::HttpResponse {
//!                 request,
//!                 status: 200,
//!                 body: body.clone().into_bytes(),
//!             }),
//!             Action::Dial { dial, peer, .. } => {
//!                 world.push_back(Input::DialSucceeded { dial, peer, addr: None });
//!                 world.push_back(Input::InboundProbeRequest { peer });
//!             }
//!             Action::Report(Event::Connected { peer, .. }) => break 'drive peer,
//!             Action::Report(Event::GaveUp(why)) => panic!("{why}"),
//!             _ => {}
//!         }
//!     }
//!     // 3. arm the timer, 4. wait for the first thing to happen
//!     let input = match world.pop_front() {
//!         Some(input) => input,
//!         None => {
//!             now = machine.poll_timeout().expect("a bootstrap always has a deadline");
//!             Input::Tick
//!         }
//!     };
//!     // 1. feed it
//!     machine.handle(now, input);
//! };
//! assert_eq!(connected_via.to_string(), boot);
//! ```

//!
//! ## The boot node's machine
//!
//! The same four moves drive a [`BootNodeMachine`]: the swarm's and the HTTP server's events go
//! in as [`BootNodeInput`]s, [`BootNodeAction`]s come out. Here a peer connects, gets its dial
//! request in the same step, answers it, and a `/status` request is served:
//!
//! ```
//! use std::time::Instant;
//! use pyrsia_boot_core::{BootNodeAction, BootNodeConfig, BootNodeInput, BootNodeMachine, PeerId, Token};
//!
//! let id = |b| libp2p_identity::Keypair::ed25519_from_bytes([b; 32]).map(|k| k.public().to_peer_id());
//! let now = Instant::now();
//! let mut config = BootNodeConfig::new(id(1)?);
//! config.policy = pyrsia_boot_core::AddressPolicy::allow_private(); // a loopback demo
//! let mut boot = BootNodeMachine::new(config, now);
//! boot.handle(now, BootNodeInput::ListenAddrAdded("/ip4/127.0.0.1/tcp/44000".parse()?));
//! let joiner: PeerId = id(2)?;
//! let opened = BootNodeInput::ConnectionOpened {
//!     conn: Token(1),
//!     peer: joiner,
//!     inbound: true,
//!     remote: "/ip4/127.0.0.1/tcp/50000".parse()?,
//! };
//! boot.handle(now, opened);
//! let probe = std::iter::from_fn(|| boot.poll_action())
//!     .find_map(|a| match a {
//!         BootNodeAction::SendDialRequest { probe, peer, .. } if peer == joiner => Some(probe),
//!         _ => None,
//!     })
//!     .expect("a joining peer gets its dial request at once");
//! let reached = "/ip4/127.0.0.1/tcp/44000".parse()?;
//! boot.handle(now, BootNodeInput::DialRequestAnswered { probe, result: Ok(reached) });
//! boot.handle(now, BootNodeInput::StatusRequested { reply: Token(2) });
//! let body = std::iter::from_fn(|| boot.poll_action())
//!     .find_map(|a| match a {
//!         BootNodeAction::ServeStatus { reply: Token(2), body } => Some(body),
//!         _ => None,
//!     })
//!     .expect("served");
//! assert!(String::from_utf8(body)?.contains("\"peers_count\":1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The identity and address types are libp2p's own, in the versions of the libp2p release the
// embedding application uses (libp2p 0.55: libp2p-identity 0.2 and multiaddr 0.18; libp2p
// 0.57: 0.3 and 0.19). One feature picks them; every `libp2p_identity::` and `multiaddr::` path
// below names the picked version, so the source is the same for both.
#[cfg(all(feature = "libp2p-055", feature = "libp2p-057"))]
compile_error!(
    "pyrsia-boot-core: enable exactly one of `libp2p-055` and `libp2p-057` (a build that \
     unified both built adapters for two libp2p releases at once; build one package per cargo \
     invocation)"
);
#[cfg(not(any(feature = "libp2p-055", feature = "libp2p-057")))]
compile_error!("pyrsia-boot-core: enable one of the features `libp2p-055` and `libp2p-057`");
#[cfg(feature = "libp2p-057")]
extern crate libp2p_identity_03 as libp2p_identity;
#[cfg(all(feature = "libp2p-055", not(feature = "libp2p-057")))]
pub extern crate multiaddr;
/// The multiaddr crate the machines' addresses come from.
#[cfg(feature = "libp2p-057")]
pub extern crate multiaddr_019 as multiaddr;

// Modules are private: every public type has one path, at the crate root (quinn-proto's
// habit); the signing functions have theirs in `signing`.
mod addr;
mod backoff;
mod bootnode;
mod client;
mod config;
mod errors;
mod fastpath;
mod ids;
mod io;
mod nat;
mod peer;
mod report;
mod signed;
mod snapshot;
mod status;

pub mod signing {
    //! Signed boot documents: what a signature covers and how a client decides to trust one.
    //!
    //! A signed `/status` document carries one more top-level field, which clients that read only
    //! Pyrsia's fields ignore:
    //!
    //! ```json
    //! {"peers_count":3,"peer_id":"12D3…","peer_addrs":["/ip4/198.51.100.4/tcp/44000/p2p/12D3…"],
    //!  "signature":{"key":"CAESI…","issued_at":1795000000,"expires_at":1795003600,
    //!               "sequence":7,"sig":"…"}}
    //! ```
    //!
    //! `key` is the operator's public key in libp2p's protobuf encoding, base64 (the encoding
    //! Kubo's config uses); `sig` is the key's signature, base64, over [`signed_bytes`]: a domain
    //! tag, the three numbers as big-endian `u64`s, then the **exact bytes** of the `peer_addrs`
    //! value as they appear in the document. Nothing else in the document is covered: `peer_id`,
    //! `peers_count` and `peer_loads` only order the signed peers, never add to them.
    //!
    //! A client with trusted keys ([`Trust`](crate::Trust)) refuses a document that is
    //! unsigned, malformed, signed by another key, wrongly signed, expired, issued in the future
    //! (beyond [`MAX_CLOCK_SKEW`]) or older than one already seen
    //! ([`Trust::sequences`](crate::Trust::sequences)), each with its own
    //! [`SignatureError`](crate::SignatureError). The wall clock is an input
    //! ([`Trust::unix_time`](crate::Trust::unix_time)); nothing here reads one.
    //!
    //! The functions and constants are here; the types are at the crate root.
    pub use crate::signed::{
        decode_key, encode_key, record_sequence, sign, signed_bytes, verify, DOMAIN,
        MAX_CLOCK_SKEW, MAX_SEQUENCES,
    };
}

pub use addr::{
    check_boot_url, classify, classify_v4, classify_v6, ip_and_tcp_port, is_dns_name, url_host_ip,
    AddrClass, AddressPolicy,
};
pub use backoff::{Backoff, SeededRng};
pub use bootnode::{
    BootNodeAction, BootNodeConfig, BootNodeCounters, BootNodeEvent, BootNodeInput,
    BootNodeMachine, BootNodeStatus, DialBackAnswer, DialBackFrom, DialBackPolicy,
    DialRequestOutcome, Footprint, SigningPolicy, WorkClass, WorkPlace, WorkRules,
};
pub use client::{BootstrapMachine, Counters, PhaseName, Status};
pub use config::{CandidateOrder, Config, ConnectedRule, ResolveLimits, SourceKind, Timeouts};
pub use errors::{
    DialError, HttpError, ProbeError, RequestFailure, ResolveError, ResolveLimit, UrlError,
};
pub use ids::{DialBackId, DialId, LoadAskId, ProbeId, RequestId, SignId, Token};
pub use io::{Action, Input};
pub use nat::{
    Family, FamilyNat, Filtering, HolePunching, Mapping, NatBehaviour, NatReport, NatVerdict,
};
pub use peer::{split_p2p, without_p2p, CachedPeer, KnownPeer};
pub use report::{
    is_permanent_http_status, ConnectedBy, Event, Failure, GaveUp, GiveUpReason, Repeated,
    SourceName, Tried,
};
pub use signed::{DocSignature, SeenSequence, SignatureError, SignedBy, Trust};
pub use snapshot::{Snapshot, SnapshotError, MAX_SNAPSHOT_BYTES, SNAPSHOT_VERSION};
pub use status::{
    parse_status, BootAddr, BootList, BootPeer, Limits, ParseOptions, PeerLoad, SkipCounts,
    SkipReason, StatusDocument, StatusError,
};

/// Re-exported so users name the same types the machine uses.
pub use libp2p_identity::PeerId;
/// Re-exported so users name the same types the machine uses.
pub use multiaddr::Multiaddr;
