//! The /status parser: one example per rule, then properties.

use proptest::prelude::*;
use pyrsia_boot_core::{
    parse_status, AddrClass, AddressPolicy, Limits, ParseOptions, PeerId, PeerLoad, SkipReason,
    StatusDocument, StatusError,
};

fn peer(i: u8) -> PeerId {
    libp2p_identity::Keypair::ed25519_from_bytes([i; 32])
        .expect("32 bytes make an ed25519 key")
        .public()
        .to_peer_id()
}

fn lab() -> ParseOptions {
    ParseOptions {
        policy: AddressPolicy::allow_private(),
        ..ParseOptions::default()
    }
}

fn doc(addrs: &[String]) -> Vec<u8> {
    serde_json::json!({"peers_count": 0, "peer_id": peer(1).to_string(), "peer_addrs": addrs})
        .to_string()
        .into_bytes()
}

#[test]
fn accepts_the_document_a_pyrsia_boot_node_serves() {
    // Byte for byte the shape pyrsia_node's /status handler writes (field order included).
    let id = peer(1);
    let body = format!(
        r#"{{"peers_count":0,"peer_id":"{id}","peer_addrs":["/ip4/127.0.0.1/tcp/44000/p2p/{id}"]}}"#
    );
    let list = parse_status(body.as_bytes(), &lab()).expect("pyrsia document parses");
    assert_eq!(list.serving_peer, Some(id));
    assert_eq!(list.peers.len(), 1);
    assert_eq!(list.peers[0].id, id);
    assert_eq!(list.peers[0].peers_count, Some(0));
    assert_eq!(
        list.peers[0].addrs[0].addr.to_string(),
        "/ip4/127.0.0.1/tcp/44000"
    );
    assert_eq!(list.peers[0].addrs[0].class, AddrClass::Loopback);
    assert_eq!(list.skipped.total(), 0);
}

#[test]
fn accepts_the_peer_addr_alias_as_array_or_single_string() {
    let id = peer(2);
    for body in [
        format!(r#"{{"peer_addr":["/ip4/8.8.8.8/tcp/1/p2p/{id}"]}}"#),
        format!(r#"{{"peer_addr":"/ip4/8.8.8.8/tcp/1/p2p/{id}"}}"#),
    ] {
        let list = parse_status(body.as_bytes(), &ParseOptions::default()).expect("alias parses");
        assert_eq!(list.peers[0].id, id);
    }
}

#[test]
fn ignores_unknown_fields_of_any_shape() {
    let id = peer(3);
    let body = format!(
        r#"{{"version":2,"nested":{{"a":[1,{{"b":null}}]}},"peer_addrs":["/ip4/8.8.8.8/tcp/1/p2p/{id}"],"zz":true}}"#
    );
    let list = parse_status(body.as_bytes(), &ParseOptions::default()).expect("parses");
    assert_eq!(list.peers.len(), 1);
}

#[test]
fn groups_addresses_of_several_peers_in_first_seen_order() {
    let (a, b) = (peer(4), peer(5));
    let addrs = [
        format!("/ip4/8.8.8.8/tcp/1/p2p/{b}"),
        format!("/ip4/8.8.8.9/tcp/1/p2p/{a}"),
        format!("/ip6/2a00::1/tcp/1/p2p/{b}"),
    ];
    let list = parse_status(&doc(&addrs), &ParseOptions::default()).expect("parses");
    let got: Vec<(PeerId, usize)> = list.peers.iter().map(|p| (p.id, p.addrs.len())).collect();
    assert_eq!(got, [(b, 2), (a, 1)]);
}

#[test]
fn removes_duplicate_addresses_and_counts_them() {
    let id = peer(6);
    let a = format!("/ip4/8.8.8.8/tcp/1/p2p/{id}");
    let list =
        parse_status(&doc(&[a.clone(), a.clone(), a]), &ParseOptions::default()).expect("parses");
    assert_eq!(list.peers[0].addrs.len(), 1);
    assert_eq!(list.skipped.get(SkipReason::Duplicate), 2);
}

#[test]
fn skips_bad_entries_with_a_counted_reason_each() {
    let id = peer(7);
    let local = peer(8);
    let body = serde_json::json!({"peer_addrs": [
        "/ip4/8.8.8.8/tcp/1",                        // no /p2p
        "not a multiaddr",                           // unparsable
        format!("/ip4/8.8.8.8/tcp/1/p2p/{}", "x".repeat(300)), // too long
        42,                                          // not a string
        format!("/p2p/{id}"),                        // nothing to dial
        format!("/ip4/8.8.8.8/tcp/1/p2p/{local}"),   // this node itself
        format!("/ip4/127.0.0.1/tcp/1/p2p/{id}"),    // not routable by default
        format!("/ip4/8.8.8.8/tcp/1/p2p/notapeerid"),// bad peer id
        format!("/ip4/8.8.8.8/tcp/1/p2p/{id}"),      // the one good entry
    ]})
    .to_string();
    let options = ParseOptions {
        local_peer: Some(local),
        ..ParseOptions::default()
    };
    let list = parse_status(body.as_bytes(), &options).expect("one entry is good");
    assert_eq!(list.peers.len(), 1);
    let s = &list.skipped;
    assert_eq!(s.get(SkipReason::MissingPeerId), 1);
    assert_eq!(s.get(SkipReason::Unparsable), 2);
    assert_eq!(s.get(SkipReason::TooLong), 1);
    assert_eq!(s.get(SkipReason::NotAString), 1);
    assert_eq!(s.get(SkipReason::NoTransport), 1);
    assert_eq!(s.get(SkipReason::LocalPeer), 1);
    assert_eq!(s.get(SkipReason::NotRoutable), 1);
    assert_eq!(s.total(), 8);
    assert!(s.to_string().contains("1 without /p2p"), "{s}");
}

#[test]
fn keeps_only_pinned_peers_when_a_pin_is_set() {
    let (a, b) = (peer(1), peer(2));
    let body = serde_json::json!({"peer_addrs": [
        format!("/ip4/198.51.100.1/tcp/1/p2p/{a}"),
        format!("/ip4/198.51.100.2/tcp/1/p2p/{b}"),
        format!("/ip4/198.51.100.3/tcp/1/p2p/{b}"),
    ]})
    .to_string();
    let options = ParseOptions {
        policy: AddressPolicy::public_only().with(AddrClass::Documentation),
        pinned: vec![a],
        ..ParseOptions::default()
    };
    let list = parse_status(body.as_bytes(), &options).expect("the pinned peer is listed");
    assert_eq!(list.peers.len(), 1);
    assert_eq!(list.peers[0].id, a);
    assert_eq!(list.skipped.get(SkipReason::NotPinned), 2);

    // A list naming only strangers is refused, and says why.
    let options = ParseOptions {
        pinned: vec![peer(3)],
        ..options
    };
    let err = parse_status(body.as_bytes(), &options).expect_err("nobody pinned");
    assert!(
        err.to_string()
            .contains("3 naming a peer that is not pinned"),
        "{err}"
    );
}

#[test]
fn drops_loopback_addresses_unless_allowed() {
    let id = peer(9);
    let body = doc(&[format!("/ip4/127.0.0.1/tcp/1/p2p/{id}")]);
    let err = parse_status(&body, &ParseOptions::default()).expect_err("loopback only");
    assert!(matches!(err, StatusError::NoUsablePeer(s) if s.get(SkipReason::NotRoutable) == 1));
    assert!(parse_status(&body, &lab()).is_ok());
}

#[test]
fn caps_peers_and_addresses_per_peer() {
    let limits = Limits {
        max_peers: 2,
        max_addrs_per_peer: 2,
        ..Limits::default()
    };
    let options = ParseOptions {
        limits,
        ..ParseOptions::default()
    };
    let mut addrs = Vec::new();
    for p in 10..13u8 {
        for port in 1..=3 {
            addrs.push(format!("/ip4/8.8.8.8/tcp/{port}/p2p/{}", peer(p)));
        }
    }
    let list = parse_status(&doc(&addrs), &options).expect("parses");
    assert_eq!(list.peers.len(), 2);
    assert!(list.peers.iter().all(|p| p.addrs.len() == 2));
    assert_eq!(list.skipped.get(SkipReason::TooManyAddrs), 2);
    assert_eq!(list.skipped.get(SkipReason::TooManyPeers), 3);
}

#[test]
fn refuses_a_body_over_the_limit_naming_the_limit() {
    let body = vec![b' '; 65_537];
    let err = parse_status(&body, &ParseOptions::default()).expect_err("too large");
    assert_eq!(err.to_string(), "body exceeds 65536 bytes (65537 received)");
}

#[test]
fn names_the_field_of_the_wrong_type() {
    for (body, msg) in [
        (r#"{"peer_addrs":{"a":1}}"#, "peer_addrs is not an array"),
        (r#"{"peer_addrs":7}"#, "peer_addrs is not an array"),
        (r#"{"peer_addr":null}"#, "peer_addr is not an array"),
        (r#"{"peers_count":1}"#, "document has no peer_addrs field"),
        (
            r#"{"peer_addrs":[],"peer_addrs":[]}"#,
            "field peer_addrs appears twice",
        ),
        ("[1,2]", "document is not a JSON object"),
        ("\"x\"", "document is not a JSON object"),
    ] {
        let err = parse_status(body.as_bytes(), &ParseOptions::default()).expect_err(body);
        assert_eq!(err.to_string(), msg, "{body}");
    }
}

#[test]
fn reports_invalid_json_with_its_position() {
    for body in [
        &b"{\"peer_addrs\": [\"a\""[..],
        b"",
        b"garbage",
        b"{} trailing",
        b"\xff\xfe",
    ] {
        let err = parse_status(body, &ParseOptions::default()).expect_err("not json");
        assert!(matches!(err, StatusError::NotJson(_)), "{err}");
    }
    let err = parse_status(b"{\"peer_addrs\": [1,", &ParseOptions::default()).expect_err("eof");
    assert!(err.to_string().contains("line 1 column"), "{err}");
}

#[test]
fn survives_deep_nesting_and_huge_numbers() {
    // Under an unknown key the value is skipped without recursion; inside peer_addrs the
    // recursion limit stops it. Neither overflows the stack.
    let (open, close) = ("[".repeat(30_000), "]".repeat(30_000));
    let deep = format!("{{\"x\":{open}{close}}}");
    let err = parse_status(deep.as_bytes(), &ParseOptions::default()).expect_err("no addrs");
    assert_eq!(err, StatusError::MissingPeerAddrs);
    let deep = format!("{{\"peer_addrs\":[{open}{close}]}}");
    let err = parse_status(deep.as_bytes(), &ParseOptions::default()).expect_err("too deep");
    assert!(err.to_string().contains("recursion limit"), "{err}");
    let id = peer(14);
    let big = format!(r#"{{"peers_count":1e400,"peer_addrs":["/ip4/8.8.8.8/tcp/1/p2p/{id}"]}}"#);
    assert!(parse_status(big.as_bytes(), &ParseOptions::default()).is_err());
    let big = format!(
        r#"{{"peers_count":184467440737095516150,"peer_addrs":["/ip4/8.8.8.8/tcp/1/p2p/{id}"]}}"#
    );
    let list = parse_status(big.as_bytes(), &ParseOptions::default()).expect("parses");
    assert_eq!(list.skipped.get(SkipReason::BadOptionalField), 1);
}

#[test]
fn reads_escaped_strings() {
    let id = peer(15);
    let body = format!(r#"{{"peer_addrs":["\/ip4\/8.8.8.8\/tcp\/1\/p2p\/{id}"]}}"#);
    let list = parse_status(body.as_bytes(), &ParseOptions::default()).expect("parses");
    assert_eq!(list.peers[0].id, id);
}

#[test]
fn attaches_loads_from_peers_count_and_the_peer_loads_extension() {
    let (a, b, c) = (peer(16), peer(17), peer(18));
    let body = serde_json::json!({
        "peers_count": 7,
        "peer_id": a.to_string(),
        "peer_addrs": [
            format!("/ip4/8.8.8.8/tcp/1/p2p/{a}"),
            format!("/ip4/8.8.8.9/tcp/1/p2p/{b}"),
            format!("/ip4/8.8.8.10/tcp/1/p2p/{c}"),
        ],
        "peer_loads": [{"peer_id": b.to_string(), "peers_count": 3}, "junk", {"peer_id": 1}],
    })
    .to_string();
    let list = parse_status(body.as_bytes(), &ParseOptions::default()).expect("parses");
    let loads: Vec<Option<u32>> = list.peers.iter().map(|p| p.peers_count).collect();
    assert_eq!(loads, [Some(7), Some(3), None]);
    assert_eq!(list.skipped.get(SkipReason::BadOptionalField), 2);
}

#[test]
fn tolerates_wrong_types_in_optional_fields() {
    let id = peer(19);
    let body = format!(
        r#"{{"peers_count":"many","peer_id":[1],"peer_loads":{{"x":1}},"peer_addrs":["/ip4/8.8.8.8/tcp/1/p2p/{id}"]}}"#
    );
    let list = parse_status(body.as_bytes(), &ParseOptions::default()).expect("parses");
    assert_eq!(list.serving_peer, None);
    assert_eq!(list.skipped.get(SkipReason::BadOptionalField), 3);
}

#[test]
fn status_document_serializes_in_pyrsia_field_order() {
    let id = peer(20);
    let d = StatusDocument {
        peers_count: 2,
        peer_id: id.to_string(),
        peer_addrs: vec![format!("/ip4/8.8.8.8/tcp/1/p2p/{id}")],
        peer_loads: vec![],
        signature: None,
    };
    let json = String::from_utf8(d.to_json()).expect("utf-8");
    assert!(
        json.starts_with(r#"{"peers_count":2,"peer_id":""#),
        "{json}"
    );
    assert!(!json.contains("peer_loads"));
    let with = StatusDocument {
        peer_loads: vec![PeerLoad {
            peer_id: id.to_string(),
            peers_count: 1,
        }],
        ..d
    };
    assert!(String::from_utf8(with.to_json())
        .expect("utf-8")
        .contains("peer_loads"));
}

// ---- properties ----------------------------------------------------------------------------

fn small_limits() -> impl Strategy<Value = Limits> {
    (1usize..256, 1usize..8, 1usize..6, 8usize..200).prop_map(|(body, peers, addrs, len)| Limits {
        max_body_bytes: body * 64,
        max_peers: peers,
        max_addrs_per_peer: addrs,
        max_addr_len: len,
    })
}

fn assert_within(list: &pyrsia_boot_core::BootList, options: &ParseOptions) {
    let l = &options.limits;
    assert!(!list.peers.is_empty());
    assert!(list.peers.len() <= l.max_peers);
    for (i, p) in list.peers.iter().enumerate() {
        assert!(!p.addrs.is_empty() && p.addrs.len() <= l.max_addrs_per_peer);
        assert!(Some(p.id) != options.local_peer);
        assert!(options.pinned.is_empty() || options.pinned.contains(&p.id));
        assert!(
            list.peers[..i].iter().all(|q| q.id != p.id),
            "peer listed twice"
        );
        for (j, a) in p.addrs.iter().enumerate() {
            assert!(options.policy.allows(a.class));
            assert!(
                p.addrs[..j].iter().all(|b| b.addr != a.addr),
                "duplicate kept"
            );
        }
    }
}

fn entry() -> impl Strategy<Value = String> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("/ip4/{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<[u16; 8]>().prop_map(|s| format!("/ip6/{}", std::net::Ipv6Addr::from(s))),
        "[a-z]{1,8}".prop_map(|h| format!("/dns4/{h}.example")),
        // Any UTF-8 a host name field can hold (a slice inside a character once panicked).
        "[^/\\s]{1,14}".prop_map(|h| format!("/dns/{h}")),
    ];
    (ip, 1u16.., 0u8..6).prop_map(|(ip, port, p)| format!("{ip}/tcp/{port}/p2p/{}", peer(p)))
}

proptest! {
    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let options = lab();
        if let Ok(list) = parse_status(&bytes, &options) {
            assert_within(&list, &options);
        }
    }

    #[test]
    fn output_stays_within_limits(
        entries in proptest::collection::vec(entry(), 0..40),
        limits in small_limits(),
        local in 0u8..6,
        allow_private in any::<bool>(),
        pinned in proptest::collection::vec(0u8..6, 0..3),
    ) {
        let options = ParseOptions {
            limits,
            policy: if allow_private { AddressPolicy::allow_private() } else { AddressPolicy::default() },
            local_peer: Some(peer(local)),
            pinned: pinned.into_iter().map(peer).collect(),
            ..ParseOptions::default()
        };
        match parse_status(&doc(&entries), &options) {
            Ok(list) => assert_within(&list, &options),
            Err(e) => prop_assert!(matches!(e, StatusError::NoUsablePeer(_) | StatusError::BodyTooLarge { .. }), "{e}"),
        }
    }

    #[test]
    fn valid_documents_round_trip(entries in proptest::collection::vec(entry(), 1..40)) {
        // Unlimited caps and every class allowed: what goes in comes out, grouped and
        // deduplicated in first-seen order.
        let options = ParseOptions {
            limits: Limits { max_peers: 1000, max_addrs_per_peer: 1000, ..Limits::default() },
            policy: AddressPolicy::allow_private()
                .with(AddrClass::Unspecified).with(AddrClass::Reserved).with(AddrClass::Other),
            local_peer: None,
            pinned: Vec::new(),
            ..ParseOptions::default()
        };
        let list = parse_status(&doc(&entries), &options).expect("valid document");
        let mut expected: Vec<(String, Vec<String>)> = Vec::new();
        for e in &entries {
            let (addr, id) = e.rsplit_once("/p2p/").expect("generated with /p2p");
            // Normalize the way Multiaddr prints (IPv6 shortening, etc.).
            let addr = addr.parse::<pyrsia_boot_core::Multiaddr>().expect("valid").to_string();
            match expected.iter_mut().find(|(p, _)| p == id) {
                Some((_, v)) if !v.contains(&addr) => v.push(addr),
                Some(_) => {}
                None => expected.push((id.to_string(), vec![addr])),
            }
        }
        let got: Vec<(String, Vec<String>)> = list.peers.iter()
            .map(|p| (p.id.to_string(), p.addrs.iter().map(|a| a.addr.to_string()).collect()))
            .collect();
        prop_assert_eq!(got, expected);
    }
}
