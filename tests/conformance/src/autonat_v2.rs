//! AutoNAT v2 (`/libp2p/autonat/2/dial-request`, `/libp2p/autonat/2/dial-back`) against
//! peers that speak only v2, built from rust-libp2p's own v2 behaviours: a v2-only boot peer
//! (as Kubo 0.36 and later run it) must make our client fully connected; a v2-only client must
//! get a verdict from our boot node; and, where our client runs a v2 client (libp2p 0.57), a
//! v2-only server must give it one. The foreign-implementation counterparts (js-libp2p) are in
//! the tokio adapter's `interop` tests.

use pyrsia_boot_libp2p::libp2p;
use std::time::Instant;

use futures::channel::oneshot;
use futures::{FutureExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{autonat, identify, Swarm};

use pyrsia_boot_libp2p::v2_client::{self, V2Outcome};
use pyrsia_boot_libp2p::Runtime;

use crate::harness::*;
use crate::Adapter;

/// A peer with identify and AutoNAT v2's client only.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
#[allow(missing_debug_implementations)] // a test behaviour
pub struct V2Client {
    identify: identify::Behaviour,
    client: autonat::v2::client::Behaviour,
}

/// A peer with identify and AutoNAT v2's server only.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
#[allow(missing_debug_implementations)] // a test behaviour
pub struct V2Server {
    identify: identify::Behaviour,
    server: autonat::v2::server::Behaviour,
}

fn identify_for(key: &Keypair) -> identify::Behaviour {
    identify::Behaviour::new(identify::Config::new("/ipfs/0.1.0".into(), key.public()))
}

/// Dials `server` and returns the v2 client's first result; panics after [`GUARD`].
async fn v2_result_from<A: Adapter>(
    swarm: &mut Swarm<V2Client>,
    server: libp2p::Multiaddr,
) -> autonat::v2::client::Event {
    swarm.dial(server).expect("dial the server");
    let guard = A::runtime().timer(Instant::now() + GUARD).fuse();
    let mut guard = std::pin::pin!(guard);
    loop {
        futures::select! {
            e = swarm.select_next_some() => {
                if let SwarmEvent::Behaviour(V2ClientEvent::Client(e)) = e {
                    return e;
                }
            }
            () = guard => panic!("no AutoNAT v2 result within {GUARD:?}"),
        }
    }
}

/// Polls `swarm` on the runtime, handing each event to `on_event`, until the returned sender
/// is dropped.
fn serve<A: Adapter, B>(
    mut swarm: Swarm<B>,
    mut on_event: impl FnMut(&mut Swarm<B>, SwarmEvent<B::ToSwarm>) + Send + 'static,
) -> oneshot::Sender<()>
where
    B: libp2p::swarm::NetworkBehaviour + Send,
    B::ToSwarm: Send,
{
    let (stop, stopped) = oneshot::channel::<()>();
    A::runtime().spawn(
        async move {
            let mut stopped = stopped.fuse();
            loop {
                futures::select! {
                    event = swarm.select_next_some() => on_event(&mut swarm, event),
                    _ = stopped => return,
                }
            }
        }
        .boxed(),
    );
    stop
}

/// A boot peer that speaks AutoNAT v2 only (its client asks us to test its addresses; it sends
/// no v1 request): its v2 request reaches our v2 server, and that makes the client fully
/// connected through it.
pub fn a_v2_only_boot_peer_makes_the_client_fully_connected<A: Adapter>() {
    A::block_on(async {
        let key = Keypair::generate_ed25519();
        let behaviour = V2Client {
            identify: identify_for(&key),
            client: autonat::v2::client::Behaviour::default(),
        };
        let (swarm, addr) = listening::<A, _>(&key, behaviour).await;
        // rust-libp2p's v2 client asks only over connections it dialed (go-libp2p's and
        // js-libp2p's ask over any): once identify tells it where we listen, it dials us too.
        let _peer = serve::<A, _>(swarm, |swarm, event| {
            if let SwarmEvent::Behaviour(V2ClientEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) = event
            {
                let opts = DialOpts::peer_id(peer_id)
                    .addresses(info.listen_addrs)
                    .condition(PeerCondition::Always)
                    .build();
                let _ = swarm.dial(opts);
            }
        });
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&addr]))]).await;
        let events = run_client_with::<A>(loopback_config(vec![server.url.clone()]), |events| {
            !connected_via(events).is_empty()
        })
        .await;
        assert_eq!(
            connected_via(&events),
            [key.public().to_peer_id()],
            "{events:?}"
        );
    });
}

/// A client that speaks AutoNAT v2 only asks our boot node to test its listen address, and
/// gets "reachable" (loopback is): the boot node's v2 server dialed back with the nonce.
pub fn a_v2_only_client_gets_a_verdict_from_our_boot_node<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let key = Keypair::generate_ed25519();
        let behaviour = V2Client {
            identify: identify_for(&key),
            client: autonat::v2::client::Behaviour::default(),
        };
        let (mut swarm, _) = listening::<A, _>(&key, behaviour).await;
        let result = v2_result_from::<A>(&mut swarm, boot.p2p_addr.clone()).await;
        assert_eq!(result.server, boot.peer_id);
        assert!(result.result.is_ok(), "{:?}", result.result);
        // The boot node counted it.
        let metrics = get_text::<A>(boot.status_url().replace("/status", "/metrics")).await;
        assert!(
            metrics.contains("pyrsia_boot_autonat_probes_served_total{outcome=\"v2_answered\"} 1"),
            "{metrics}"
        );
    });
}

/// A boot peer that serves AutoNAT v2 only: our client's v2 client tests its address with it,
/// and the verdict (public on loopback) rests on that result. Only where the client runs a v2
/// client (libp2p 0.57; 0.55's is off, rust-libp2p#5816).
pub fn a_v2_only_boot_peer_gives_our_client_a_verdict<A: Adapter>() {
    A::block_on(async {
        let key = Keypair::generate_ed25519();
        let behaviour = V2Server {
            identify: identify_for(&key),
            server: autonat::v2::server::Behaviour::default(),
        };
        let (swarm, addr) = listening::<A, _>(&key, behaviour).await;
        let _peer = serve::<A, _>(swarm, |_, _| {});
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&addr]))]).await;
        let mut config = loopback_config(vec![server.url.clone()]);
        // A v2-only peer sends no dial request of its own: its answer is what connects us.
        config.connected_rule = pyrsia_boot_core::ConnectedRule::InboundOrOwnProbe;
        let mut client = Client::<A>::start(config).await;
        client.run_until(connected_with_public_verdict).await;
        assert_eq!(client.driver.machine().status().counters.v2_results, 1);
        assert_eq!(
            connected_via(&client.events),
            [key.public().to_peer_id()],
            "{:?}",
            client.events
        );
    });
}

/// A v2 client our boot node cannot dial back (it does not listen: its only address is the
/// connection's ephemeral port, nothing accepts there) hears that the server could not
/// connect, and our one reading of a v2 result ([`v2_client::classify`]) calls that
/// unreachable. libp2p's client error is private: this is the check that its `Debug` name
/// still reads as this project expects, on the libp2p release the adapter is built with.
pub fn a_v2_result_our_boot_node_could_not_dial_back_reads_as_unreachable<A: Adapter>() {
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let key = Keypair::generate_ed25519();
        let behaviour = V2Client {
            identify: identify_for(&key),
            client: autonat::v2::client::Behaviour::default(),
        };
        // No listener: the observed address (the candidate tested) is the dial's own port.
        let mut swarm = A::swarm(&key, behaviour);
        let result = v2_result_from::<A>(&mut swarm, boot.p2p_addr.clone()).await;
        assert_eq!(result.server, boot.peer_id);
        assert_eq!(
            v2_client::classify(&result.result),
            V2Outcome::Unreachable,
            "{:?}",
            result.result
        );
        let metrics = get_text::<A>(boot.status_url().replace("/status", "/metrics")).await;
        assert!(
            metrics.contains("pyrsia_boot_autonat_probes_served_total{outcome=\"v2_answered\"} 1"),
            "{metrics}"
        );
    });
}
