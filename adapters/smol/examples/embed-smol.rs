//! A node that embeds pyrsia-boot in its own swarm, on smol and libp2p 0.55: copy it and
//! replace the `hello` protocol with yours.
//!
//! - pyrsia-boot's `Behaviour` is one field of the node's behaviour, beside the node's **own**
//!   identify (with its own protocol version), its own AutoNAT v1 and its own protocol;
//! - the node keeps its own `futures::select!` loop and uses the driver's event-driven API;
//! - a task of the application runs beside it (a once-a-second status line);
//! - the bootstrap state is persisted to a file and restored on the next start;
//! - the verdict is printed with the NAT's kind as it is learned;
//! - when the boot node goes away the driver bootstraps again on its own;
//! - Ctrl-C (or, with `--until-verdict`, Connected and a verdict) shuts it down cleanly: the
//!   last snapshot is written before it exits.
//!
//! Run against a boot node, e.g.
//! `pyrsia-boot node --listen /ip4/127.0.0.1/tcp/44000 --http 127.0.0.1:8080 --private-network`
//! then `cargo run -p pyrsia-boot-smol --example embed-smol -- http://127.0.0.1:8080/status`.
//! Usage: `embed-smol [URL...] [--state FILE] [--until-verdict]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{autonat, identify, identity, StreamProtocol};
use pyrsia_boot_core::{AddressPolicy, Config, Event};
use pyrsia_boot_libp2p::state_file::{self, Loaded};
use pyrsia_boot_libp2p::{
    driver_for, node_autonat, Behaviour, Event as BootEvent, HasBootstrap, Progress, Role,
};
use pyrsia_boot_smol::{build_transport, swarm_config, SmolRuntime};

/// The node's behaviour: pyrsia-boot next to the node's own identify, AutoNAT and protocol.
#[derive(NetworkBehaviour)]
struct Node {
    boot: Behaviour,
    identify: identify::Behaviour,
    autonat: autonat::Behaviour,
    hello: request_response::json::Behaviour<String, String>,
}

/// Where pyrsia-boot's driver finds its part, and the node's identify and AutoNAT it reads.
impl HasBootstrap for Node {
    fn bootstrap(&mut self) -> &mut Behaviour {
        &mut self.boot
    }
    fn bootstrap_event(event: &NodeEvent) -> Option<&BootEvent> {
        match event {
            NodeEvent::Boot(e) => Some(e),
            _ => None,
        }
    }
    fn identify_event(event: &NodeEvent) -> Option<&identify::Event> {
        match event {
            NodeEvent::Identify(e) => Some(e),
            _ => None,
        }
    }
    fn autonat_event(event: &NodeEvent) -> Option<&autonat::Event> {
        match event {
            NodeEvent::Autonat(e) => Some(e),
            _ => None,
        }
    }
}

struct Args {
    urls: Vec<String>,
    state: Option<PathBuf>,
    until_verdict: bool,
}

const USAGE: &str = "usage: embed-smol [URL...] [--state FILE] [--until-verdict]

  URL              a boot node's /status URL (default http://127.0.0.1:8080/status)
  --state FILE     restore and persist the bootstrap state in FILE
  --until-verdict  exit once connected with a NAT verdict (otherwise run until Ctrl-C)";

/// Bad arguments: say which, show the usage and exit 2.
fn usage_error(message: &str) -> ! {
    eprintln!("embed-smol: error: {message}\n{USAGE}");
    std::process::exit(2)
}

fn args() -> Args {
    let mut args = Args {
        urls: Vec::new(),
        state: None,
        until_verdict: false,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--state" => match words.next() {
                Some(file) => args.state = Some(PathBuf::from(file)),
                None => usage_error("--state needs a FILE"),
            },
            "--until-verdict" => args.until_verdict = true,
            flag if flag.starts_with('-') => usage_error(&format!("unknown option {flag}")),
            url => match pyrsia_boot_core::check_boot_url(url) {
                Ok(()) => args.urls.push(url.to_string()),
                Err(e) => usage_error(&format!("{url} is not a usable boot URL: {e}")),
            },
        }
    }
    if args.urls.is_empty() {
        args.urls.push("http://127.0.0.1:8080/status".into());
    }
    args
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(run(args()))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let key = identity::Keypair::generate_ed25519();
    let k = &key;
    let node = Node {
        // Ours without identify and AutoNAT: the node brings its own.
        boot: Behaviour::builder(&k.public(), Role::Node)
            .app_identify()
            .app_autonat()
            .build(),
        identify: identify::Behaviour::new(identify::Config::new(
            "/my-app/1.0.0".into(),
            k.public(),
        )),
        // Its server answers boot nodes' dial requests (that makes us "fully connected").
        autonat: autonat::Behaviour::new(k.public().to_peer_id(), node_autonat()),
        hello: request_response::json::Behaviour::new(
            [(
                StreamProtocol::new("/my-app/hello/1"),
                ProtocolSupport::Full,
            )],
            request_response::Config::default(),
        ),
    };
    let mut swarm = libp2p::Swarm::new(
        build_transport(&key)?,
        node,
        key.public().to_peer_id(),
        swarm_config(),
    );
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;

    let mut config = Config::with_urls(args.urls.clone());
    config.policy = AddressPolicy::allow_private();
    if let Some(path) = &args.state {
        match state_file::load(path) {
            Loaded::Missing => {}
            Loaded::Snapshot(snapshot) => {
                println!("restored state from {}", path.display());
                config.restore(snapshot);
            }
            Loaded::Ignored(why) => eprintln!("ignoring {}: {why}", path.display()),
        }
    }
    // Sets the local peer (documents naming it are skipped) and the wall clock.
    let mut driver = driver_for(&swarm, config, SmolRuntime::default());

    // The application's own task, beside bootstrap: it reports through a channel.
    let (tick_tx, mut ticks) = futures::channel::mpsc::channel::<u64>(1);
    let ticker = smol::spawn(async move {
        let mut tick_tx = tick_tx;
        let mut interval = smol::Timer::interval(Duration::from_secs(1));
        for n in 0.. {
            interval.next().await;
            if futures::SinkExt::send(&mut tick_tx, n).await.is_err() {
                return;
            }
        }
    });
    let mut signals = async_signal::Signals::new([async_signal::Signal::Int])?.fuse();
    let persist = |snapshot: &pyrsia_boot_core::Snapshot| {
        if let Some(path) = &args.state {
            if let Err(e) = state_file::save(path, snapshot) {
                eprintln!("cannot write {}: {e}", path.display());
            }
        }
    };

    let (mut connected, mut verdict) = (false, false);
    let outcome: Result<(), String> = 'run: loop {
        while let Some(progress) = driver.poll_progress(&mut swarm) {
            match progress {
                Progress::Report(Event::Connected { peer, elapsed, .. }) => {
                    connected = true;
                    println!("connected via {peer} after {elapsed:?}");
                }
                Progress::Report(Event::NatChanged(report)) => {
                    verdict = true;
                    println!("verdict: {}", report.verdict);
                }
                Progress::Report(Event::NatBehaviourChanged(nat)) => println!(
                    "NAT: mapping {:?}, filtering {:?}, dial-back verified: {}",
                    nat.mapping, nat.filtering, nat.verified
                ),
                // Bootstrap is over for good; a node would go on without it or retry later.
                Progress::Report(Event::GaveUp(why)) => break 'run Err(why.to_string()),
                Progress::Report(other) => println!("{other:?}"),
                Progress::Persist(snapshot) => persist(&snapshot),
            }
        }
        if args.until_verdict && connected && verdict {
            break 'run Ok(());
        }
        futures::select! {
            event = swarm.select_next_some() => {
                driver.on_swarm_event(&swarm, &event);
                // The node's own protocol: answer every hello.
                if let SwarmEvent::Behaviour(NodeEvent::Hello(request_response::Event::Message {
                    peer,
                    message: request_response::Message::Request { request, channel, .. },
                    ..
                })) = event
                {
                    let answer = format!("hello {peer}, you said {request:?}");
                    let _ = swarm.behaviour_mut().hello.send_response(channel, answer);
                }
            }
            () = driver.wait().fuse() => {}
            n = ticks.select_next_some() => {
                if n % 5 == 0 {
                    println!("app: {} peers connected", swarm.connected_peers().count());
                }
            }
            _ = signals.select_next_some() => break 'run Ok(()),
        }
    };
    // A clean shutdown: the application's task ends, the driver's last actions are carried
    // out and its last snapshot written.
    drop(ticker); // cancels it
    for output in driver.flush(&mut swarm) {
        if let pyrsia_boot_libp2p::Output::Persist(snapshot) = output {
            persist(&snapshot);
        }
    }
    if let Some(path) = &args.state {
        println!("state in {}", path.display());
    }
    println!("shut down cleanly");
    outcome.map_err(Into::into)
}
