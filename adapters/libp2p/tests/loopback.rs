//! Two real swarms on loopback (smol executor, async-io TCP, noise, yamux): a boot node's
//! targeted dial request makes the node's stock AutoNAT server emit `InboundProbe::Request` at
//! once, and the answer comes back as a `DialResponse`; the node's own dial request reaches the
//! boot node's behaviour as a request for its machine to answer (no stock server there).

use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::autonat::{self, InboundProbeEvent};
use libp2p::core::upgrade::Version;
use libp2p::request_response::{self, Message};
use libp2p::swarm::{self, SwarmEvent};
use libp2p::{identity, noise, yamux, Multiaddr, Swarm, Transport};
use pyrsia_boot_libp2p::dial_request::{DialRequest, DialResponse};
use pyrsia_boot_libp2p::{Behaviour, Event, Role};

fn swarm(role: Role) -> Swarm<Behaviour> {
    let key = identity::Keypair::generate_ed25519();
    let transport =
        libp2p_tcp::async_io::Transport::new(libp2p_tcp::Config::default().nodelay(true))
            .upgrade(Version::V1Lazy)
            .authenticate(noise::Config::new(&key).expect("noise config"))
            .multiplex(yamux::Config::default())
            .timeout(Duration::from_secs(10))
            .boxed();
    let config = swarm::Config::with_executor(|f| smol::spawn(f).detach())
        .with_idle_connection_timeout(Duration::from_secs(60));
    Swarm::new(
        transport,
        Behaviour::new(&key.public(), role),
        key.public().to_peer_id(),
        config,
    )
}

async fn listen(s: &mut Swarm<Behaviour>) -> Multiaddr {
    s.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid"))
        .expect("listen");
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = s.select_next_some().await {
            return address;
        }
    }
}

#[test]
fn a_targeted_dial_request_gets_the_peers_autonat_server_to_dial_back_at_once() {
    smol::block_on(async {
        let mut boot = swarm(Role::BootNode);
        let mut node = swarm(Role::Node);
        let boot_addr = listen(&mut boot).await;
        let node_addr = listen(&mut node).await;
        let (boot_id, node_id) = (*boot.local_peer_id(), *node.local_peer_id());
        node.dial(boot_addr.clone()).expect("dial");

        let guard = smol::Timer::after(Duration::from_secs(15));
        let mut guard = std::pin::pin!(guard);
        let mut connected_at = None;
        let mut node_saw_request = None;
        let mut boot_answer = None;
        let mut boot_got_request = None;
        while node_saw_request.is_none() || boot_answer.is_none() || boot_got_request.is_none() {
            futures::select! {
                e = boot.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } if endpoint.is_listener() && peer_id == node_id => {
                        // What a boot node does for every new peer: ask for a dial-back now.
                        boot.behaviour_mut().dial_request.send_request(
                            &peer_id,
                            DialRequest { peer: boot_id, addrs: vec![boot_addr.clone()] },
                        );
                    }
                    SwarmEvent::Behaviour(Event::DialRequest(request_response::Event::Message {
                        message: Message::Response { response, .. }, ..
                    })) => boot_answer = Some(response),
                    SwarmEvent::Behaviour(Event::DialRequest(request_response::Event::Message {
                        peer, message: Message::Request { request, .. }, ..
                    })) if peer == node_id => boot_got_request = Some(request),
                    SwarmEvent::Behaviour(Event::Autonat(e)) => {
                        panic!("a boot node runs no stock AutoNAT: {e:?}")
                    }
                    _ => {}
                },
                e = node.select_next_some() => match e {
                    SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } if peer_id == boot_id && !endpoint.is_listener() => {
                        connected_at.get_or_insert_with(Instant::now);
                        node.behaviour_mut().dial_request.send_request(
                            &boot_id,
                            DialRequest { peer: node_id, addrs: vec![node_addr.clone()] },
                        );
                    }
                    SwarmEvent::Behaviour(Event::Autonat(autonat::Event::InboundProbe(
                        InboundProbeEvent::Request { peer, .. },
                    ))) if peer == boot_id => {
                        let since = connected_at.map(|t| t.elapsed());
                        node_saw_request = Some(since.unwrap_or_default());
                    }
                    _ => {}
                },
                _ = futures::FutureExt::fuse(&mut guard) => panic!(
                    "no complete exchange within 15 s: request {node_saw_request:?}, boot answer {boot_answer:?}, boot got {boot_got_request:?}"
                ),
            }
        }
        let latency = node_saw_request.expect("loop ends only when set");
        assert!(
            latency < Duration::from_secs(2),
            "inbound probe request after {latency:?}"
        );
        assert!(
            matches!(boot_answer, Some(DialResponse::Reachable(_))),
            "{boot_answer:?}"
        );
        let request = boot_got_request.expect("loop ends only when set");
        assert_eq!(request.peer, node_id);
        assert_eq!(request.addrs, [node_addr]);
    });
}
