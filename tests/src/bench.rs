//! Inputs shared by the benchmarks: boot documents of known sizes and a minimal driver.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use pyrsia_boot_core::{
    Action, AddrClass, AddressPolicy, BootstrapMachine, Config, Event, Input, ParseOptions, PeerId,
    StatusDocument,
};

use crate::world::peer;

/// A document with `peers` peers of `addrs` addresses each (documentation-range IPv4).
pub fn document(peers: u8, addrs: u8) -> Vec<u8> {
    status_document(peers, addrs).to_json()
}

/// [`document`], signed by the fuzz targets' trusted key, valid around
/// [`crate::fuzz::FUZZ_NOW`].
pub fn signed_document(peers: u8, addrs: u8) -> Vec<u8> {
    let mut doc = status_document(peers, addrs);
    let now = crate::fuzz::FUZZ_NOW;
    doc.sign(&crate::fuzz::trusted_signer(), now - 60, now + 3600, 1)
        .expect("ed25519 signs");
    doc.to_json()
}

/// [`bench_options`] requiring a signature by the fuzz targets' trusted key.
pub fn trusting_bench_options() -> ParseOptions {
    ParseOptions {
        trust: pyrsia_boot_core::Trust {
            keys: vec![crate::fuzz::trusted_signer().public()],
            unix_time: Some(crate::fuzz::FUZZ_NOW),
            sequences: Vec::new(),
        },
        ..bench_options()
    }
}

fn status_document(peers: u8, addrs: u8) -> StatusDocument {
    let mut peer_addrs = Vec::new();
    for p in 1..=peers {
        let id = peer(p);
        for a in 0..addrs {
            peer_addrs.push(format!(
                "/ip4/203.0.113.{p}/tcp/{}/p2p/{id}",
                4000 + u16::from(a)
            ));
        }
    }
    StatusDocument {
        peers_count: 12,
        peer_id: peer(1).to_string(),
        peer_addrs,
        peer_loads: Vec::new(),
        signature: None,
    }
}

/// The largest document with 64 peers (up to 16 addresses each) that fits in `limit` bytes.
pub fn limit_sized_document(limit: usize) -> Vec<u8> {
    let mut best = document(64, 1);
    for addrs in 2..=16 {
        let d = document(64, addrs);
        if d.len() > limit {
            break;
        }
        best = d;
    }
    best
}

/// Parse options that keep every address of the bench documents.
pub fn bench_options() -> ParseOptions {
    ParseOptions {
        policy: AddressPolicy::public_only().with(AddrClass::Documentation),
        ..ParseOptions::default()
    }
}

/// Runs one bootstrap with a driver that answers every action at once: the document is
/// served, dials succeed, the boot peer probes. Returns the peer it connected through.
pub fn instant_bootstrap(body: &[u8], start: Instant) -> Option<PeerId> {
    let config = Config {
        boot_urls: vec!["http://boot.test/status".into()],
        policy: AddressPolicy::public_only().with(AddrClass::Documentation),
        ..Config::default()
    };
    let mut machine = BootstrapMachine::new(config, start);
    let mut world: VecDeque<Input> = VecDeque::new();
    let mut now = start;
    loop {
        while let Some(action) = machine.poll_action() {
            match action {
                Action::FetchStatus { request, .. } => world.push_back(Input::HttpResponse {
                    request,
                    status: 200,
                    body: body.to_vec(),
                }),
                Action::Dial { dial, peer, .. } => {
                    world.push_back(Input::DialSucceeded {
                        dial,
                        peer,
                        addr: None,
                    });
                    world.push_back(Input::InboundProbeRequest { peer });
                }
                Action::Report(Event::Connected { peer, .. }) => return Some(peer),
                Action::Report(Event::GaveUp(_)) => return None,
                _ => {}
            }
        }
        let input = match world.pop_front() {
            Some(i) => i,
            None => {
                now = machine.poll_timeout()?;
                Input::Tick
            }
        };
        now += Duration::from_millis(1);
        machine.handle(now, input);
    }
}

/// The straightforward way to read a boot list: parse into `serde_json::Value`, then parse
/// every entry with the general `Multiaddr` and `PeerId` parsers. The baseline for what the
/// streaming parser's validation costs. Returns the number of valid entries.
pub fn value_then_validate(body: &[u8]) -> usize {
    use std::str::FromStr;
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    let Some(entries) = value.get("peer_addrs").and_then(|v| v.as_array()) else {
        return 0;
    };
    entries
        .iter()
        .filter_map(|e| e.as_str())
        .filter_map(|s| s.rsplit_once("/p2p/"))
        .filter(|(addr, id)| {
            pyrsia_boot_core::Multiaddr::from_str(addr).is_ok() && PeerId::from_str(id).is_ok()
        })
        .count()
}
