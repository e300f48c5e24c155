//! AutoNAT v2 against a foreign implementation: js-libp2p (`@libp2p/autonat-v2`, installed
//! from npm into `tests/interop/js` by `.ci/run`), started by the test as a Node process.
//! js-libp2p counts every address a test may use as private and would neither ask about nor
//! dial one; `tests/interop/js/loopback-hooks.mjs` replaces that one predicate, nothing of the
//! protocol. Without Node or the installed packages the scenarios say so and skip, unless
//! `PYRSIA_BOOT_JS=require` (as `.ci/run` sets), when they fail.

use pyrsia_boot_libp2p::libp2p;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use futures::FutureExt;
use libp2p::Multiaddr;
use pyrsia_boot_core::ConnectedRule;
use pyrsia_boot_libp2p::Runtime;

use crate::harness::*;
use crate::Adapter;

fn js_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/js"))
}

/// The `node` command for the interop script, or `None` (after saying why) when the test
/// should skip.
fn node() -> Option<Command> {
    let dir = js_dir();
    let installed = dir.join("node_modules/@libp2p/autonat-v2").exists();
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(installed && has_node) {
        let why = if has_node {
            "tests/interop/js has no node_modules (run `npm ci` there)"
        } else {
            "no `node` on PATH"
        };
        assert!(
            std::env::var("PYRSIA_BOOT_JS").as_deref() != Ok("require"),
            "PYRSIA_BOOT_JS=require, but {why}"
        );
        #[allow(clippy::print_stderr)] // a skip must say why
        {
            eprintln!("skipping the js-libp2p interop scenario: {why}");
        }
        return None;
    }
    let mut command = Command::new("node");
    command
        .current_dir(&dir)
        .args(["--import", "./register.mjs", "autonat-v2.mjs"]);
    Some(command)
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line a child prints, as JSON (and as written, for messages), read on a thread so
/// the runtime keeps running; panics after [`GUARD`].
async fn first_json<A: Adapter>(child: &mut Child) -> (serde_json::Value, String) {
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let guard = A::runtime().timer(Instant::now() + GUARD).fuse();
    let mut guard = std::pin::pin!(guard);
    let line = futures::select! {
        line = rx.fuse() => line.expect("the reader thread sends its line"),
        () = guard => panic!("no line from node within {GUARD:?}"),
    };
    let json = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    (json, line)
}

/// js-libp2p serving AutoNAT v2 (and running its v2 client) on a free loopback port: the
/// process (killed when dropped) and its `/p2p/` address.
async fn js_server<A: Adapter>(mut command: Command) -> (Killed, Multiaddr) {
    let child = command
        .arg("server")
        .arg(dead_port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut child = Killed(child);
    let (answer, line) = first_json::<A>(&mut child.0).await;
    let js: Multiaddr = answer["listening"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no listening address: {line}"));
    (child, js)
}

/// js-libp2p's AutoNAT v2 client asks our boot node to test its listen address and hears
/// "reachable": our v2 server dialed back with the nonce js sent.
pub fn a_js_libp2p_v2_client_gets_a_verdict_from_our_boot_node<A: Adapter>() {
    let Some(mut command) = node() else { return };
    A::block_on(async {
        let boot = boot_node::<A>().await;
        let child = command
            .arg("client")
            .arg(boot.p2p_addr.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts");
        let mut child = Killed(child);
        let (answer, line) = first_json::<A>(&mut child.0).await;
        assert_eq!(answer["result"], "reachable", "{line}");
        let metrics = get_text::<A>(boot.status_url().replace("/status", "/metrics")).await;
        assert!(
            metrics.contains("pyrsia_boot_autonat_probes_served_total{outcome=\"v2_answered\"} 1"),
            "{metrics}"
        );
    });
}

/// A js-libp2p peer (AutoNAT v2 only) listed as the boot peer: its own v2 client's request to
/// us makes us fully connected, and our v2 client's test with its server gives the verdict.
pub fn our_client_gets_a_verdict_from_a_js_libp2p_v2_server<A: Adapter>() {
    let Some(command) = node() else { return };
    A::block_on(async {
        let (_child, js) = js_server::<A>(command).await;
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&js]))]).await;
        let mut config = loopback_config(vec![server.url.clone()]);
        config.connected_rule = ConnectedRule::InboundOrOwnProbe;
        let mut client = Client::<A>::start(config).await;
        // Connected by js's own v2 request to us, or by the verdict itself (the rule allows
        // either).
        client.run_until(connected_with_public_verdict).await;
        assert!(
            client.driver.machine().status().counters.v2_results >= 1,
            "the verdict came from AutoNAT v2: {:?}",
            client.events
        );
        assert_eq!(
            connected_via(&client.events).len(),
            1,
            "{:?}",
            client.events
        );
    });
}

/// A js-libp2p boot node whose only AutoNAT is `@libp2p/autonat-v2`: over the connection our
/// client dialed, its v2 client asks ours to test its address, and that request makes us fully
/// connected (the seed's rule, no verdict of our own needed). js asks over any connection that
/// lists `/libp2p/autonat/2/dial-request`; libp2p's v2 server listed it only on connections
/// it accepted, so this client used to give up ("sent no AutoNAT dial request").
pub fn a_js_libp2p_v2_only_boot_node_makes_our_client_fully_connected<A: Adapter>() {
    let Some(command) = node() else { return };
    A::block_on(async {
        let (_child, js) = js_server::<A>(command).await;
        let js_peer = match js.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
            _ => panic!("no /p2p/ in {js}"),
        };
        let server = scripted_server::<A>(vec![(200, pyrsia_document(&[&js]))]).await;
        let config = loopback_config(vec![server.url.clone()]);
        assert_eq!(config.connected_rule, ConnectedRule::InboundProbeRequest);
        let mut client = Client::<A>::start(config).await;
        client
            .run_until(|events| !connected_via(events).is_empty())
            .await;
        assert_eq!(
            connected_via(&client.events),
            [js_peer],
            "{:?}",
            client.events
        );
    });
}
