//! Signed boot documents: one example per refusal reason, the old-client view, then properties.

use libp2p_identity::Keypair;
use proptest::prelude::*;
use pyrsia_boot_core::signing::{encode_key, record_sequence, MAX_CLOCK_SKEW};
use pyrsia_boot_core::{
    parse_status, AddrClass, AddressPolicy, ParseOptions, PeerId, SeenSequence, SignatureError,
    StatusDocument, StatusError, Trust,
};

const NOW: u64 = 1_795_000_000;

fn key(i: u8) -> Keypair {
    Keypair::ed25519_from_bytes([i; 32]).expect("32 bytes make an ed25519 key")
}

fn peer(i: u8) -> PeerId {
    key(i).public().to_peer_id()
}

fn document(peers: &[u8]) -> StatusDocument {
    StatusDocument {
        peers_count: 1,
        peer_id: peer(peers[0]).to_string(),
        peer_addrs: peers
            .iter()
            .map(|p| format!("/ip4/198.51.100.{p}/tcp/44000/p2p/{}", peer(*p)))
            .collect(),
        peer_loads: vec![],
        signature: None,
    }
}

/// A document listing peers 1 and 2, signed by `signer` valid for [NOW - 60, NOW + 3600).
fn signed_by(signer: u8, sequence: u64) -> Vec<u8> {
    let mut d = document(&[1, 2]);
    d.sign(&key(signer), NOW - 60, NOW + 3600, sequence)
        .expect("ed25519 signs");
    d.to_json()
}

fn trusting(keys: &[u8], now: Option<u64>, seen: &[(u8, u64)]) -> ParseOptions {
    ParseOptions {
        policy: documentation(),
        trust: Trust {
            keys: keys.iter().map(|k| key(*k).public()).collect(),
            unix_time: now,
            sequences: seen
                .iter()
                .map(|(k, s)| SeenSequence {
                    key: key(*k).public(),
                    sequence: *s,
                })
                .collect(),
        },
        ..ParseOptions::default()
    }
}

/// The documentation ranges these tests list are their own class; allow them.
fn documentation() -> AddressPolicy {
    AddressPolicy::default().with(AddrClass::Documentation)
}

fn refusal(body: &[u8], options: &ParseOptions) -> SignatureError {
    match parse_status(body, options) {
        Err(StatusError::Signature(e)) => e,
        other => panic!("expected a signature refusal, got {other:?}"),
    }
}

/// The document with its JSON edited as text (the way an attacker on the path would).
fn edited(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(text.contains(from), "{from} not in {text}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn a_trusted_signed_document_is_accepted_with_its_signer() {
    let list = parse_status(&signed_by(7, 3), &trusting(&[9, 7], Some(NOW), &[(7, 3)]))
        .expect("trusted, valid, not rolled back");
    assert_eq!(
        list.peers.iter().map(|p| p.id).collect::<Vec<_>>(),
        [peer(1), peer(2)]
    );
    let s = list.signed_by.expect("signer reported");
    assert_eq!((s.key, s.sequence), (key(7).public(), 3));
    assert_eq!((s.issued_at, s.expires_at), (NOW - 60, NOW + 3600));
}

#[test]
fn clients_without_trusted_keys_and_pyrsias_fields_ignore_the_signature() {
    let body = signed_by(7, 3);
    let plain = ParseOptions {
        policy: documentation(),
        ..ParseOptions::default()
    };
    let list = parse_status(&body, &plain).expect("parses as before");
    assert_eq!(list.peers.len(), 2);
    assert_eq!(list.signed_by, None);
    // What a Pyrsia client deserializes: its three fields, unknown ones ignored.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct PyrsiaStatus {
        peers_count: usize,
        peer_id: String,
        peer_addrs: Vec<String>,
    }
    let old: PyrsiaStatus = serde_json::from_slice(&body).expect("pyrsia reads it");
    assert_eq!(old.peer_addrs.len(), 2);
}

#[test]
fn refuses_an_unsigned_document() {
    let body = document(&[1]).to_json();
    assert_eq!(
        refusal(&body, &trusting(&[7], Some(NOW), &[])),
        SignatureError::Unsigned
    );
    // Pyrsia's single-string alias is never signed, so it counts as nothing.
    let alias = format!(
        r#"{{"peer_addr":"/ip4/198.51.100.1/tcp/1/p2p/{}"}}"#,
        peer(1)
    );
    assert_eq!(
        refusal(alias.as_bytes(), &trusting(&[7], Some(NOW), &[])),
        SignatureError::Unsigned
    );
}

#[test]
fn refuses_malformed_signature_fields() {
    let options = trusting(&[7], Some(NOW), &[]);
    let body = signed_by(7, 3);
    let text = String::from_utf8(body.clone()).expect("utf-8");
    let sig_field = &text[text.find(r#""signature":"#).expect("signed")..text.len() - 1];
    for bad in [
        r#""signature":"yes""#.to_string(),
        r#""signature":{"key":"CAESIA=="}"#.to_string(),
        sig_field.replacen(r#""key":""#, r#""key":"!!"#, 1),
        sig_field.replacen(r#""key":""#, r#""key":"AAAA"#, 1),
        sig_field.replacen(r#""sig":""#, r#""sig":"*"#, 1),
        sig_field.replacen(r#""sequence":3"#, r#""sequence":-3"#, 1),
    ] {
        let doc = edited(&body, sig_field, &bad);
        match refusal(&doc, &options) {
            SignatureError::Malformed(why) => assert!(!why.is_empty()),
            other => panic!("{bad}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn refuses_a_document_signed_by_an_untrusted_key() {
    match refusal(&signed_by(8, 3), &trusting(&[7], Some(NOW), &[])) {
        SignatureError::UntrustedKey(k) => assert_eq!(k, encode_key(&key(8).public())),
        other => panic!("expected UntrustedKey, got {other:?}"),
    }
}

#[test]
fn refuses_a_document_whose_list_or_numbers_were_altered() {
    let options = trusting(&[7], Some(NOW), &[]);
    let body = signed_by(7, 3);
    let attacker = format!("/ip4/203.0.113.66/tcp/44000/p2p/{}", peer(66));
    let swapped = edited(
        &body,
        &format!("/ip4/198.51.100.2/tcp/44000/p2p/{}", peer(2)),
        &attacker,
    );
    // A longer expiry, a higher sequence, and even whitespace: the exact bytes are signed.
    for doc in [
        swapped,
        edited(
            &body,
            &format!("{}", NOW + 3600),
            &format!("{}", NOW + 99_999),
        ),
        edited(&body, r#""sequence":3"#, r#""sequence":4"#),
        edited(&body, r#""peer_addrs":["#, r#""peer_addrs":[ "#),
    ] {
        assert_eq!(refusal(&doc, &options), SignatureError::BadSignature);
    }
}

#[test]
fn refuses_an_expired_document_from_its_expiry_on() {
    for now in [NOW + 3600, NOW + 10 * 3600] {
        assert_eq!(
            refusal(&signed_by(7, 3), &trusting(&[7], Some(now), &[])),
            SignatureError::Expired {
                expires_at: NOW + 3600,
                now
            }
        );
    }
    assert!(parse_status(&signed_by(7, 3), &trusting(&[7], Some(NOW + 3599), &[])).is_ok());
}

#[test]
fn refuses_a_document_issued_further_ahead_than_clock_skew() {
    let issued = NOW - 60;
    let now = issued - MAX_CLOCK_SKEW - 1;
    assert_eq!(
        refusal(&signed_by(7, 3), &trusting(&[7], Some(now), &[])),
        SignatureError::NotYetValid {
            issued_at: issued,
            now
        }
    );
    // Within the skew: accepted.
    let now = issued - MAX_CLOCK_SKEW;
    assert!(parse_status(&signed_by(7, 3), &trusting(&[7], Some(now), &[])).is_ok());
}

#[test]
fn refuses_a_rolled_back_sequence_per_signer() {
    assert_eq!(
        refusal(&signed_by(7, 3), &trusting(&[7], Some(NOW), &[(7, 4)])),
        SignatureError::RolledBack {
            sequence: 3,
            seen: 4
        }
    );
    // Another signer's sequence does not count against this one.
    assert!(parse_status(&signed_by(7, 3), &trusting(&[7, 8], Some(NOW), &[(8, 100)])).is_ok());
}

#[test]
fn refuses_everything_without_a_clock() {
    assert_eq!(
        refusal(&signed_by(7, 3), &trusting(&[7], None, &[])),
        SignatureError::NoClock
    );
}

#[test]
fn a_signed_document_cannot_smuggle_unsigned_entries() {
    let options = trusting(&[7], Some(NOW), &[]);
    let body = signed_by(7, 3);
    let attacker = format!(r#"/ip4/203.0.113.66/tcp/1/p2p/{}"#, peer(66));
    // The alias next to the signed list: ignored.
    let with_alias = edited(&body, "{", &format!(r#"{{"peer_addr":["{attacker}"],"#));
    let list = parse_status(&with_alias, &options).expect("the signed part is fine");
    assert!(list.peers.iter().all(|p| p.id != peer(66)));
    // A second peer_addrs or signature field: the document is refused as a whole.
    let twice = edited(&body, "{", &format!(r#"{{"peer_addrs":["{attacker}"],"#));
    assert_eq!(
        parse_status(&twice, &options),
        Err(StatusError::DuplicateField("peer_addrs"))
    );
    let text = String::from_utf8(body.clone()).expect("utf-8");
    let sig = &text[text.find(r#""signature":"#).expect("signed")..text.len() - 1];
    let two_sigs = edited(&body, "{", &format!("{{{sig},"));
    assert_eq!(
        parse_status(&two_sigs, &options),
        Err(StatusError::DuplicateField("signature"))
    );
}

#[test]
fn sequences_keep_the_highest_per_signer() {
    let mut seen = Vec::new();
    let list = |signer: u8, seq: u64| {
        parse_status(&signed_by(signer, seq), &trusting(&[7, 8], Some(NOW), &[]))
            .expect("valid")
            .signed_by
            .expect("signed")
    };
    assert!(record_sequence(&mut seen, &list(7, 5)));
    assert!(!record_sequence(&mut seen, &list(7, 5)));
    assert!(!record_sequence(&mut seen, &list(7, 2)));
    assert!(record_sequence(&mut seen, &list(8, 1)));
    assert!(record_sequence(&mut seen, &list(7, 9)));
    let got: Vec<u64> = seen.iter().map(|s| s.sequence).collect();
    assert_eq!(got, [9, 1]);
}

proptest! {
    /// Acceptance is exactly: trusted signer, unexpired, not issued beyond the skew, sequence
    /// not below the highest seen.
    #[test]
    fn accepted_exactly_when_every_check_passes(
        signer in 1u8..4,
        trusted in proptest::collection::vec(1u8..4, 1..3),
        issued in NOW - 1000..NOW + 1000,
        lifetime in 0u64..2000,
        sequence in 0u64..10,
        seen in proptest::option::of(0u64..10),
        now in NOW - 1000..NOW + 2000,
    ) {
        let mut d = document(&[1, 2]);
        d.sign(&key(signer), issued, issued + lifetime, sequence).expect("signs");
        let seen_list: Vec<(u8, u64)> = seen.map(|s| (signer, s)).into_iter().collect();
        let options = trusting(&trusted, Some(now), &seen_list);
        let ok = trusted.contains(&signer)
            && now < issued + lifetime
            && issued <= now + MAX_CLOCK_SKEW
            && seen.is_none_or(|s| sequence >= s);
        prop_assert_eq!(parse_status(&d.to_json(), &options).is_ok(), ok);
    }

    /// Changing any one byte of the signed peer list never yields an accepted list with other
    /// peers than the signer listed.
    #[test]
    fn no_single_byte_change_in_the_list_is_accepted(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let body = signed_by(7, 3);
        let start = body.windows(13).position(|w| w == br#""peer_addrs":"#).expect("has peer_addrs") + 13;
        let len = document(&[1, 2]).peer_addrs_json().len();
        let i = start + at.index(len);
        prop_assume!(body[i] != to);
        let mut tampered = body.clone();
        tampered[i] = to;
        prop_assert!(parse_status(&tampered, &trusting(&[7], Some(NOW), &[])).is_err());
    }
}
