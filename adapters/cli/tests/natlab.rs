//! The NAT lab (`tests/natlab/natlab.sh`): real kernels, real NAT. Boot nodes and clients run
//! as `pyrsia-boot` processes inside network namespaces, on each runtime. Each test builds its
//! own lab (its own namespace prefix, so tests run in parallel) and removes it when done, also
//! when it fails.
//!
//! Needs root and nftables. Without them each test prints why and skips, unless
//! `PYRSIA_BOOT_NATLAB=require` (set by `.ci/run`), which turns a skip into a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::lab::*;
fn public_client_is_public_at_its_own_address(runtime: &str) {
    let Some(lab) = Lab::up("public client") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let report = lab.bootstrap("pub2", runtime, &boot.url, &[]);
    report.assert_connected();
    assert_eq!(report.verdict(), "public", "{}", report.json);
    let own = format!("/ip4/{PUBLIC_CLIENT_IP}/tcp/{CLIENT_PORT}/");
    assert!(report.address().starts_with(&own), "{}", report.json);
    report.timing(runtime, "public client");
}

fn natted_client_connects_and_is_private(runtime: &str) {
    let Some(lab) = Lab::up("NATed client") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let report = lab.bootstrap("priv", runtime, &boot.url, &[]);
    // Connected: outbound works, and the boot node's dial-back request reached us over it.
    report.assert_connected();
    assert_eq!(report.verdict(), "private", "{}", report.json);
    report.timing(runtime, "NATed client");
}

fn a_port_forward_makes_the_natted_client_public_and_removing_it_private_again(runtime: &str) {
    let Some(lab) = Lab::up("port forward") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    let dir = std::env::temp_dir().join(format!("{}state", lab.prefix));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let state = dir.join("state.json");
    let state = state.to_str().expect("utf-8 path");

    lab.ok(&["forward", "add", "tcp", &CLIENT_PORT.to_string()]);
    let forwarded = lab.bootstrap("priv", runtime, &boot.url, &["--state", state]);
    forwarded.assert_connected();
    assert_eq!(forwarded.verdict(), "public", "{}", forwarded.json);
    let mapped = format!("/ip4/{ROUTER_WAN_IP}/tcp/{CLIENT_PORT}/");
    assert!(
        forwarded.address().starts_with(&mapped),
        "{}",
        forwarded.json
    );
    forwarded.timing(runtime, "NATed client with a port forward");

    // Remove the forward (and its conntrack entries): the next run starts from the saved
    // "public" (stale), probes again and ends private.
    lab.ok(&["forward", "del", "tcp", &CLIENT_PORT.to_string()]);
    let removed = lab.bootstrap("priv", runtime, &boot.url, &["--state", state]);
    removed.assert_connected();
    assert_eq!(removed.verdict(), "private", "{}", removed.json);
    assert_eq!(removed.json["nat_stale"], false, "{}", removed.json);
    removed.timing(runtime, "NATed client after the forward is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

fn a_natted_client_fails_over_from_an_unreachable_boot_peer(runtime: &str) {
    let Some(lab) = Lab::up("failover") else {
        return;
    };
    // B is reachable; A serves /status (listing itself first, then B) but its libp2p port
    // silently drops every packet.
    let b = lab.boot_node(runtime, 44001, 8081, &[]);
    let a = lab.boot_node(runtime, 44000, 8080, &["--cluster-peer", &b.p2p_addr]);
    lab.ok(&["block", "pub", "tcp", "44000"]);
    let report = lab.bootstrap("priv", runtime, &a.url, &[]);
    report.assert_connected();
    let b_id = b.p2p_addr.rsplit('/').next().expect("a peer id");
    assert_eq!(report.boot_peer(), b_id, "{}", report.json);
    assert_eq!(report.verdict(), "private", "{}", report.json);
    report.timing(runtime, "NATed client, first boot peer unreachable");
}

/// Peak RSS of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn a_flooded_boot_node_keeps_serving_a_well_behaved_client(runtime: &str) {
    let Some(lab) = Lab::up("flood") else {
        return;
    };
    let boot = lab.boot_node(runtime, 44000, 8080, &[]);
    // The flooder: the example binary next to this test's binary, run in pub2.
    let flood_bin = std::env::current_exe()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("examples").join("flood")))
        .expect("target layout");
    assert!(flood_bin.exists(), "{} not built", flood_bin.display());
    let mut flood = Command::new("ip")
        .args(["netns", "exec", &format!("{}pub2", lab.prefix)])
        .arg(&flood_bin)
        .args([boot.url.as_str(), boot.p2p_addr.as_str(), "8"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the flooder starts");
    let mut lines = BufReader::new(flood.stdout.take().expect("piped")).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l == "flooding");
    assert!(started, "the flooder did not start");

    // A well-behaved client behind the NAT, during the flood.
    let report = lab.bootstrap("priv", runtime, &boot.url, &[]);
    report.assert_connected();
    assert!(report.at("status_fetched").is_some(), "{}", report.json);
    report.timing(runtime, "NATed client while the boot node is flooded");

    let tally: Vec<String> = lines.map_while(Result::ok).collect();
    let status = flood.wait().expect("the flooder ends");
    assert!(status.success(), "flooder: {status}");
    let rss = peak_rss_mib(boot.process.0.id());
    say(&format!(
        "natlab flood [{runtime}]: boot node peak RSS {rss:.1} MiB; flooder {}",
        tally.join(" ")
    ));
    // Bounded: the limits cap connections (32 from the flooder's address) and HTTP (256).
    assert!(rss > 0.0 && rss < 256.0, "peak RSS {rss:.1} MiB");
    // The limits did the work: most of the flooder's /status requests were closed on accept.
    let count = |key: &str| {
        tally
            .iter()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {key} in {tally:?}"))
    };
    assert!(
        count("status_failed") > count("status_ok"),
        "the HTTP caps refused little: {tally:?}"
    );
}

/// A NATed client of two boot nodes at different IPs (so its mapping shows), the first one
/// dialing back from its alternate address too: the verdict matches what a stranger finds,
/// and mapping and filtering match the router's NAT kind.
fn nat_kind_is_reported_as_a_stranger_finds_it(runtime: &str, nat: &'static str, loss: u32) {
    let case = format!("NAT kind {nat}, {loss} % loss");
    let Some(lab) = Lab::up_with(&case, nat, loss) else {
        return;
    };
    let (a, _b) = lab.two_boot_nodes(runtime);
    let (report, stranger_got_in) = lab.bootstrap_and_ask_a_stranger(runtime, &a.url, CLIENT_PORT);
    report.assert_connected();
    let (verdict, mapping, filtering) = expected(nat);
    // Ground truth first: the verdict says what the stranger found.
    assert_eq!(
        report.verdict() == "public",
        stranger_got_in,
        "verdict {} but the stranger {} ({case}): {}",
        report.verdict(),
        if stranger_got_in {
            "got in"
        } else {
            "did not get in"
        },
        report.json
    );
    assert_eq!(report.verdict(), verdict, "{case}: {}", report.json);
    if verdict == "public" {
        let mapped = format!("/ip4/{ROUTER_WAN_IP}/tcp/{CLIENT_PORT}/");
        assert!(report.address().starts_with(&mapped), "{}", report.json);
        let external = report.json["external_addresses"].to_string();
        assert!(
            external.contains(&mapped),
            "not in the swarm: {}",
            report.json
        );
    }
    if loss == 0 {
        assert_eq!(
            report.nat("filtering"),
            filtering,
            "{case}: {}",
            report.json
        );
        assert_eq!(report.nat("mapping"), mapping, "{case}: {}", report.json);
    }
    report.timing(runtime, &case);
}

fn a_full_cone_nat_is_public_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "full-cone", 0);
}

fn an_address_restricted_nat_is_private_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "address-restricted", 0);
}

fn a_port_restricted_nat_is_private_to_strangers(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "port-restricted", 0);
}

fn a_symmetric_nat_is_private_and_hole_punching_unlikely(runtime: &str) {
    nat_kind_is_reported_as_a_stranger_finds_it(runtime, "symmetric", 0);
}

/// A dual-stack client, NATed on IPv4 (port-restricted) and routed on IPv6 through a firewall
/// that is open or closed: each family's verdict matches what a stranger finds at that family's
/// address, and an open IPv6 address reaches the swarm.
fn each_family_is_judged_as_a_stranger_finds_it(runtime: &str, v6: &'static str) {
    let case = format!("dual stack, IPv6 firewall {v6}");
    let Some(lab) = Lab::up_dual(&case, "port-restricted", v6) else {
        return;
    };
    let a = lab.dual_stack_boot_node(runtime);
    let (report, got_in) = lab.bootstrap_and_ask_strangers(runtime, &a.url, CLIENT_PORT, true);
    report.assert_connected();
    assert_eq!(got_in, [false, v6 == "open"], "the lab itself ({case})");
    for (family, stranger_got_in) in [("ipv4", got_in[0]), ("ipv6", got_in[1])] {
        let verdict = report.family(family, "verdict");
        assert_eq!(
            verdict == "public",
            stranger_got_in,
            "{family} verdict {verdict}, the stranger got in: {stranger_got_in} ({case}): {}",
            report.json
        );
        assert_ne!(
            verdict, "unknown",
            "{family} was not probed ({case}): {}",
            report.json
        );
    }
    if v6 == "open" {
        let at = format!("/ip6/{CLIENT_IP6}/tcp/{CLIENT_PORT}/");
        assert!(
            report.family("ipv6", "address").starts_with(&at),
            "{}",
            report.json
        );
        let external = report.json["external_addresses"].to_string();
        assert!(external.contains(&at), "not in the swarm: {}", report.json);
        assert_eq!(
            report.verdict(),
            "public",
            "reachable over IPv6: {}",
            report.json
        );
    } else {
        assert_eq!(report.verdict(), "private", "{}", report.json);
    }
    report.timing(runtime, &case);
}

fn a_dual_stack_client_open_on_ipv6_is_public_there_only(runtime: &str) {
    each_family_is_judged_as_a_stranger_finds_it(runtime, "open");
}

fn a_dual_stack_client_firewalled_on_ipv6_is_private_on_both(runtime: &str) {
    each_family_is_judged_as_a_stranger_finds_it(runtime, "closed");
}

macro_rules! on_both_runtimes {
    ($($case:ident),* $(,)?) => {
        mod smol {
            $( #[test] fn $case() { super::$case("smol") } )*
        }
        mod async_std {
            $( #[test] fn $case() { super::$case("async-std") } )*
        }
    };
}

on_both_runtimes!(
    public_client_is_public_at_its_own_address,
    natted_client_connects_and_is_private,
    a_port_forward_makes_the_natted_client_public_and_removing_it_private_again,
    a_natted_client_fails_over_from_an_unreachable_boot_peer,
    a_flooded_boot_node_keeps_serving_a_well_behaved_client,
    a_full_cone_nat_is_public_to_strangers,
    an_address_restricted_nat_is_private_to_strangers,
    a_port_restricted_nat_is_private_to_strangers,
    a_symmetric_nat_is_private_and_hole_punching_unlikely,
    a_dual_stack_client_open_on_ipv6_is_public_there_only,
    a_dual_stack_client_firewalled_on_ipv6_is_private_on_both,
);
