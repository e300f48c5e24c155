//! Bootstrapping inside your own swarm: pyrsia-boot's `Behaviour` as one field of your
//! behaviour, the driver fed by your event loop. Run against a boot node, e.g.
//! `pyrsia-boot node --listen /ip4/127.0.0.1/tcp/44000 --http 127.0.0.1:8080 --private-network`
//! then `cargo run -p pyrsia-boot-async-std --example embed-async-std -- http://127.0.0.1:8080/status`.
#![allow(clippy::print_stdout)]

use libp2p::identity;
use libp2p::swarm::{dummy, NetworkBehaviour, SwarmEvent};
use pyrsia_boot_async_std::{build_swarm_with, AsyncStdRuntime};
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::{driver_for, Behaviour, Event as BootEvent, HasBootstrap, Output, Role};

/// Your behaviour: pyrsia-boot next to your own protocols (a placeholder here).
#[derive(NetworkBehaviour)]
struct MyBehaviour {
    boot: Behaviour,
    app: dummy::Behaviour,
}

impl HasBootstrap for MyBehaviour {
    fn bootstrap(&mut self) -> &mut Behaviour {
        &mut self.boot
    }
    fn bootstrap_event(event: &MyBehaviourEvent) -> Option<&BootEvent> {
        match event {
            MyBehaviourEvent::Boot(e) => Some(e),
            MyBehaviourEvent::App(never) => match *never {},
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/status".into());
    async_std::task::block_on(async {
        let key = identity::Keypair::generate_ed25519();
        let mut swarm = build_swarm_with(&key, |key| MyBehaviour {
            boot: Behaviour::new(&key.public(), Role::Node),
            app: dummy::Behaviour,
        })?;
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;

        let mut config = Config::with_urls([url]);
        config.policy = AddressPolicy::allow_private();
        // Sets the local peer (documents naming it are skipped) and the wall clock.
        let mut driver = driver_for(&swarm, config, AsyncStdRuntime);
        loop {
            match driver.next(&mut swarm).await {
                Output::Report(Event::Connected { peer, elapsed }) => {
                    println!("connected via {peer} after {elapsed:?}");
                    return Ok(());
                }
                Output::Report(Event::GaveUp(why)) => return Err(why.into()),
                Output::Report(other) => println!("{other:?}"),
                // Your own behaviours' events arrive here, after pyrsia-boot has seen them.
                Output::Swarm(SwarmEvent::Behaviour(_)) => {}
                Output::Swarm(_) | Output::Persist(_) => {}
            }
        }
    })
}
