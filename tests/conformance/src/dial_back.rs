//! Scenarios about dial-backs the client must not take on trust.

use pyrsia_boot_libp2p::libp2p;
use std::time::Duration;

use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::Multiaddr;
use pyrsia_boot_core::{ConnectedBy, Event, NatVerdict};
use pyrsia_boot_libp2p::dial_request::{self, DialRequest, DialResponse};
use pyrsia_boot_libp2p::Runtime;

use crate::harness::*;
use crate::Adapter;

/// An AutoNAT v1 server that answers every dial request "OK, reached you" without dialing
/// (py-libp2p 0.8's server does this when it already has a connection to the asker), and that
/// sends each new peer a dial request of its own, so the client counts it as a boot peer.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
#[allow(missing_debug_implementations)] // a test behaviour
pub struct Liar {
    identify: libp2p::identify::Behaviour,
    autonat: request_response::Behaviour<dial_request::Codec>,
}

/// A [`Liar`]-shaped AutoNAT v1 server (identify, the dial-request protocol both ways)
/// listening on loopback, with its `/p2p/` address.
async fn v1_server<A: Adapter>() -> (libp2p::Swarm<Liar>, Multiaddr) {
    let key = Keypair::generate_ed25519();
    let behaviour = Liar {
        identify: libp2p::identify::Behaviour::new(libp2p::identify::Config::new(
            "ipfs/1.0.0".into(),
            key.public(),
        )),
        autonat: request_response::Behaviour::with_codec(
            dial_request::Codec,
            [(dial_request::PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default(),
        ),
    };
    listening::<A, _>(&key, behaviour).await
}

/// What a boot node does for a new peer: ask it for a dial-back of its own (so the client
/// counts this server as a boot peer).
fn ask_to_be_dialed_back(swarm: &mut libp2p::Swarm<Liar>, peer: libp2p::PeerId) {
    let request = DialRequest {
        peer: *swarm.local_peer_id(),
        addrs: swarm.listeners().cloned().collect(),
    };
    swarm.behaviour_mut().autonat.send_request(&peer, request);
}

/// Starts a [`Liar`] on the adapter's runtime; returns its `/p2p/` address and a handle that
/// stops it when dropped.
async fn liar<A: Adapter>() -> (Multiaddr, oneshot::Sender<()>) {
    let (mut swarm, addr) = v1_server::<A>().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = async move {
        let mut stopped = stopped.fuse();
        loop {
            futures::select! {
                e = swarm.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. }
                        if endpoint.is_listener() =>
                    {
                        ask_to_be_dialed_back(&mut swarm, peer_id);
                    }
                    SwarmEvent::Behaviour(LiarEvent::Autonat(request_response::Event::Message {
                        message: request_response::Message::Request { request, channel, .. },
                        ..
                    })) => {
                        let claimed = request.addrs.first().cloned().unwrap_or_else(|| {
                            "/ip4/127.0.0.1/tcp/1".parse().expect("valid")
                        });
                        let lie = DialResponse::Reachable(claimed);
                        let _ = swarm.behaviour_mut().autonat.send_response(channel, lie);
                    }
                    _ => {}
                },
                _ = stopped => return,
            }
        }
    };
    A::runtime().spawn(serve.boxed());
    (addr, stop)
}

/// An AutoNAT v1 server that dials back as go-libp2p's service does (Kubo and the IPFS
/// bootstrap nodes run it): from a second host with an identity of its own, on the server's
/// IP and a new port, answering OK once that connection is up. With `asks`, like [`liar`], it
/// sends each new peer a dial request of its own; without, it is a settled go node, which
/// probes new peers only every 15-30 min.
async fn go_style<A: Adapter>(asks: bool) -> (Multiaddr, oneshot::Sender<()>) {
    use std::collections::HashMap;
    let (mut swarm, addr) = v1_server::<A>().await;
    // The dial-back host: another identity, no protocols of its own.
    let mut dialer = A::swarm(
        &Keypair::generate_ed25519(),
        libp2p::swarm::dummy::Behaviour,
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = async move {
        let mut stopped = stopped.fuse();
        let mut waiting = HashMap::new();
        loop {
            futures::select! {
                e = swarm.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. }
                        if asks && endpoint.is_listener() =>
                    {
                        ask_to_be_dialed_back(&mut swarm, peer_id);
                    }
                    SwarmEvent::Behaviour(LiarEvent::Autonat(request_response::Event::Message {
                        peer,
                        message: request_response::Message::Request { request, channel, .. },
                        ..
                    })) => {
                        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                            .addresses(request.addrs)
                            .condition(libp2p::swarm::dial_opts::PeerCondition::Always)
                            .build();
                        if dialer.dial(opts).is_ok() {
                            waiting.insert(peer, channel);
                        }
                    }
                    _ => {}
                },
                e = dialer.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                        if let Some(channel) = waiting.remove(&peer_id) {
                            let reached = endpoint.get_remote_address().clone();
                            let ok = DialResponse::Reachable(reached);
                            let _ = swarm.behaviour_mut().autonat.send_response(channel, ok);
                        }
                    }
                    SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                        if let Some(channel) = waiting.remove(&peer) {
                            let failed = DialResponse::DialError(error.to_string());
                            let _ = swarm.behaviour_mut().autonat.send_response(channel, failed);
                        }
                    }
                    _ => {}
                },
                _ = stopped => return,
            }
        }
    };
    A::runtime().spawn(serve.boxed());
    (addr, stop)
}

/// A boot peer whose AutoNAT server dials back from another identity (go-libp2p's service)
/// makes the client public: the dial-back is credited by what it proves (a connection from
/// the server's IP while the request was open), not by its peer id.
pub fn a_server_that_dials_back_from_another_identity_makes_the_client_public<A: Adapter>() {
    A::block_on(async {
        let (addr, _stop) = go_style::<A>(true).await;
        let status = scripted_server::<A>(vec![(200, pyrsia_document(&[&addr]))]).await;
        let mut client = Client::<A>::start(loopback_config(vec![status.url.clone()])).await;
        client.run_until(connected_with_verdict).await;
        let status = client.driver.machine().status();
        assert!(
            matches!(status.nat, NatVerdict::Public(_)),
            "{:?}",
            client.events
        );
        assert!(status.behaviour.verified, "{status:?}");
        assert_eq!(status.counters.unverified_answers, 0, "{:?}", client.events);
    });
}

/// A settled go-libp2p boot node never asks us for a dial-back; once its request is overdue,
/// its verified answer to ours makes the client fully connected, and the report says so.
pub fn a_boot_peer_that_never_asks_but_answers_ours_makes_the_client_connected<A: Adapter>() {
    A::block_on(async {
        let (addr, _stop) = go_style::<A>(false).await;
        let status = scripted_server::<A>(vec![(200, pyrsia_document(&[&addr]))]).await;
        let mut client = Client::<A>::start(loopback_config(vec![status.url.clone()])).await;
        client.run_until(connected_with_verdict).await;
        let by = client.events.iter().find_map(|e| match e {
            Event::Connected { by, .. } => Some(*by),
            _ => None,
        });
        assert_eq!(
            by,
            Some(ConnectedBy::OwnProbeAnswered),
            "{:?}",
            client.events
        );
        let failed = client
            .events
            .iter()
            .any(|e| matches!(e, Event::DialFailed(_) | Event::SourceFailed(_)));
        assert!(!failed, "{:?}", client.events);
    });
}

/// A boot peer whose AutoNAT server answers OK without dialing back does not make the client
/// public: the OK is reported unverified, the swarm gets no external address, and the
/// client's verdict stays unknown once its attempts are spent.
pub fn a_server_that_answers_ok_without_dialing_back_does_not_make_the_client_public<A: Adapter>() {
    A::block_on(async {
        let (addr, _stop) = liar::<A>().await;
        let status = scripted_server::<A>(vec![(200, pyrsia_document(&[&addr]))]).await;
        let mut config = loopback_config(vec![status.url.clone()]);
        config.timeouts.own_probe_retry = Duration::from_millis(200);
        let mut client = Client::<A>::start(config).await;
        client
            .run_until(|events| {
                events
                    .iter()
                    .any(|e| matches!(e, Event::VerdictUnavailable { .. }))
            })
            .await;
        let events = &client.events;
        assert!(
            events.iter().any(|e| matches!(e, Event::Connected { .. })),
            "{events:?}"
        );
        let unverified = events
            .iter()
            .filter(|e| matches!(e, Event::DialBackUnverified { .. }))
            .count();
        let status = client.driver.machine().status();
        assert_eq!(unverified as u32, status.counters.unverified_answers);
        assert!(unverified >= 1, "{events:?}");
        assert!(
            !events.iter().any(
                |e| matches!(e, Event::NatChanged(r) if matches!(r.verdict, NatVerdict::Public(_)))
            ),
            "the lie was believed: {events:?}"
        );
        assert_eq!(status.nat, NatVerdict::Unknown);
        assert_eq!(client.swarm.external_addresses().count(), 0);
    });
}

/// Our own boot node's dial-back is seen arriving, so its OK is verified and the confirmed
/// address reaches the swarm's external addresses.
pub fn a_verified_public_verdict_reaches_the_swarms_external_addresses<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let mut client = Client::<A>::start(loopback_config(vec![boot.status_url()])).await;
        client.run_until(connected_with_verdict).await;
        let status = client.driver.machine().status();
        let NatVerdict::Public(addr) = status.nat.clone() else {
            panic!("loopback is reachable: {:?}", client.events);
        };
        assert!(status.behaviour.verified, "{status:?}");
        let external: Vec<&Multiaddr> = client.swarm.external_addresses().collect();
        assert_eq!(external, [&addr]);
    });
}

/// Only AutoNAT v1's dial-request protocol, as a client: for talking to a boot node directly.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
#[allow(missing_debug_implementations)] // a test behaviour
pub struct Asker {
    autonat: request_response::Behaviour<dial_request::Codec>,
}

/// A dial request that names another peer than the one asking is malformed: our boot node
/// answers `E_BAD_REQUEST` (200), not `E_INTERNAL_ERROR` (300). The codec decodes
/// [`DialResponse::BadRequest`] only from status 200 (its unit test reads the bytes).
pub fn a_dial_request_naming_another_peer_is_answered_bad_request<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let key = Keypair::generate_ed25519();
        let behaviour = Asker {
            autonat: request_response::Behaviour::with_codec(
                dial_request::Codec,
                [(dial_request::PROTOCOL, ProtocolSupport::Outbound)],
                request_response::Config::default(),
            ),
        };
        let mut swarm = A::swarm(&key, behaviour);
        swarm.listen_on(any_loopback_port()).expect("listen");
        swarm.dial(boot.p2p_addr.clone()).expect("dial");
        let someone_else = Keypair::generate_ed25519().public().to_peer_id();
        let deadline = A::runtime().timer(std::time::Instant::now() + GUARD).fuse();
        let mut deadline = std::pin::pin!(deadline);
        let answer = loop {
            futures::select! {
                e = swarm.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == boot.peer_id => {
                        let request = DialRequest {
                            peer: someone_else,
                            addrs: swarm.listeners().cloned().collect(),
                        };
                        swarm.behaviour_mut().autonat.send_request(&peer_id, request);
                    }
                    SwarmEvent::Behaviour(AskerEvent::Autonat(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. },
                        ..
                    })) => break response,
                    SwarmEvent::Behaviour(AskerEvent::Autonat(
                        request_response::Event::OutboundFailure { error, .. },
                    )) => panic!("the request failed: {error}"),
                    _ => {}
                },
                () = deadline => panic!("no answer within {GUARD:?}"),
            }
        };
        assert!(
            matches!(&answer, DialResponse::BadRequest(why) if why.contains("another peer")),
            "{answer:?}"
        );
    });
}

/// The runtime's socket for a boot node's alternate dial-back address leaves from the address
/// asked for (127.0.0.2 on loopback) and carries bytes both ways, on the runtime's own reactor.
pub fn the_runtime_dials_from_a_chosen_source_address<A: Adapter>() {
    use futures::{AsyncReadExt, AsyncWriteExt};
    use std::io::{Read, Write};
    A::block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let to = listener.local_addr().expect("addr");
        let source: std::net::IpAddr = "127.0.0.2".parse().expect("valid");
        let accepting = std::thread::spawn(move || {
            let (mut conn, from) = listener.accept().expect("accept");
            let mut hello = [0u8; 5];
            conn.read_exact(&mut hello).expect("read");
            conn.write_all(b"back").expect("write");
            (from, hello)
        });
        let mut socket = A::runtime()
            .connect_from(source, to)
            .await
            .expect("connects");
        socket.write_all(b"hello").await.expect("write");
        let mut back = [0u8; 4];
        socket.read_exact(&mut back).await.expect("read");
        let (from, hello) = accepting.join().expect("the accepting thread");
        assert_eq!(from.ip(), source);
        assert_eq!((&hello, &back), (b"hello", b"back"));
    });
}
