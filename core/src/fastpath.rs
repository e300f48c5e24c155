//! Fast paths for the two things a boot document is made of: base58 peer ids and
//! `/ip4|ip6/…/tcp/…` addresses. Each falls back to the general parser for anything else, and
//! a property test checks both agree with it on every input.
//!
//! Why: decoding a 52-character base58 id byte by byte (what `bs58` does) costs about a
//! microsecond, several times the cost of tokenizing the JSON around it. Word-sized limbs do
//! the same arithmetic in a tenth of the steps.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

const fn decode_table() -> [u8; 128] {
    let mut t = [0xff; 128];
    let mut i = 0;
    while i < 58 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static TABLE: [u8; 128] = decode_table();

/// Limbs for up to 64 decoded bytes, enough for every identity-hashed or sha256 peer id.
const LIMBS: usize = 16;

/// Decodes base58 (bitcoin alphabet) into `out`, returning the used tail. `None` when the
/// input is not base58 or too long for the buffer.
fn decode_base58<'a>(s: &[u8], out: &'a mut [u8; 4 * LIMBS]) -> Option<&'a [u8]> {
    let mut limbs = [0u32; LIMBS];
    let mut used = 0usize;
    // Five digits at a time: 58^5 < 2^32, so each pass multiplies the limbs by 58^5 and adds
    // the five digits' value, a fifth of the passes a digit-at-a-time loop needs.
    for chunk in s.chunks(5) {
        let mut value = 0u64;
        let mut scale = 1u64;
        for &c in chunk {
            let digit = *TABLE.get(usize::from(c))?;
            if digit == 0xff {
                return None;
            }
            value = value * 58 + u64::from(digit);
            scale *= 58;
        }
        let mut carry = value;
        for limb in &mut limbs[..used] {
            let x = u64::from(*limb) * scale + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
        while carry > 0 {
            if used == LIMBS {
                return None;
            }
            limbs[used] = carry as u32;
            used += 1;
            carry >>= 32;
        }
    }
    // Big-endian bytes of the number, then strip its leading zero bytes and put back one zero
    // byte per leading '1' (base58's encoding of leading zeros).
    for (i, limb) in limbs.iter().rev().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&limb.to_be_bytes());
    }
    let significant = out.iter().position(|b| *b != 0).unwrap_or(out.len());
    let zeros = s.iter().take_while(|c| **c == b'1').count();
    let start = significant.checked_sub(zeros)?;
    out[start..significant].fill(0);
    Some(&out[start..])
}

/// `PeerId::from_str`, faster for base58 ids.
pub(crate) fn peer_id(text: &str) -> Option<PeerId> {
    let mut buf = [0u8; 4 * LIMBS];
    match decode_base58(text.as_bytes(), &mut buf) {
        Some(bytes) if !text.is_empty() => PeerId::from_bytes(bytes).ok(),
        // Not base58 (a CID form, say) or longer than any base58 id: the general parser.
        _ => PeerId::from_str(text).ok(),
    }
}

/// `Multiaddr::from_str`, faster for `/ip4/A/tcp/P` and `/ip6/A/tcp/P`.
pub(crate) fn multiaddr(text: &str) -> Option<Multiaddr> {
    fast_multiaddr(text).or_else(|| Multiaddr::from_str(text).ok())
}

fn fast_multiaddr(text: &str) -> Option<Multiaddr> {
    let (ip, rest) = if let Some(rest) = text.strip_prefix("/ip4/") {
        let (ip, rest) = rest.split_once('/')?;
        (Protocol::Ip4(Ipv4Addr::from_str(ip).ok()?), rest)
    } else {
        let rest = text.strip_prefix("/ip6/")?;
        let (ip, rest) = rest.split_once('/')?;
        (Protocol::Ip6(Ipv6Addr::from_str(ip).ok()?), rest)
    };
    let port = rest.strip_prefix("tcp/")?;
    // Digits only: `u16::from_str` would also take a leading '+', and so does the general
    // parser, but keeping the fast path narrow makes agreement obvious.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = u16::from_str(port).ok()?;
    // Sized up front: the encoding is at most 1 + 16 (ip6) + 1 + 2 (tcp) bytes plus varint
    // headroom, so pushing never reallocates.
    let mut addr = Multiaddr::with_capacity(24);
    addr.push(ip);
    addr.push(Protocol::Tcp(port));
    Some(addr)
}

/// The byte offset of a trailing `/p2p/<id>` component: the last `/` (a peer id never
/// contains one) must close a `/p2p/`. `str::rfind("/p2p/")` builds a two-way searcher per
/// call and then scans the whole id; `rfind('/')` is a vectorized byte search.
pub(crate) fn rfind_p2p(text: &str) -> Option<usize> {
    let last = text.rfind('/')?;
    let cut = last.checked_sub(4)?;
    (&text.as_bytes()[cut..last] == b"/p2p").then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(i: u8) -> PeerId {
        libp2p_identity::Keypair::ed25519_from_bytes([i; 32])
            .expect("valid key")
            .public()
            .to_peer_id()
    }

    #[test]
    fn decodes_real_peer_ids_like_the_general_parser() {
        for i in 0..50 {
            let id = key(i);
            assert_eq!(peer_id(&id.to_string()), Some(id));
        }
        // A legacy sha256 id ("Qm…") and leading-'1' edge cases.
        let qm = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
        assert_eq!(peer_id(qm), PeerId::from_str(qm).ok());
        for s in ["", "1", "11", "1112", "0OIl", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"] {
            assert_eq!(peer_id(s), PeerId::from_str(s).ok(), "{s:?}");
        }
    }

    #[test]
    fn builds_the_same_addresses_as_the_general_parser() {
        for s in [
            "/ip4/203.0.113.1/tcp/4001",
            "/ip6/2001:db8::1/tcp/0",
            "/ip4/1.2.3.4/tcp/65535",
            "/ip4/1.2.3.4/tcp/65536",
            "/ip4/1.2.3.4/tcp/+1",
            "/ip4/1.2.3.4/tcp/",
            "/ip4/01.2.3.4/tcp/1",
            "/ip4/1.2.3.4/tcp/1/ws",
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/dns4/a.example/tcp/1",
        ] {
            assert_eq!(multiaddr(s), Multiaddr::from_str(s).ok(), "{s}");
        }
    }

    proptest! {
        #[test]
        fn rfind_p2p_finds_exactly_a_trailing_p2p_component(s in "(/p2p/|/p2p|p2p/|/|p|2|x){0,12}") {
            let expected = s.rfind("/p2p/").filter(|i| !s[i + 5..].contains('/'));
            prop_assert_eq!(rfind_p2p(&s), expected);
        }

        #[test]
        fn peer_id_agrees_with_from_str(s in "[1-9A-HJ-NP-Za-km-z]{0,60}|[1Qm]{0,3}[0-9a-zA-Z]{0,55}") {
            prop_assert_eq!(peer_id(&s), PeerId::from_str(&s).ok());
        }

        #[test]
        fn peer_id_agrees_on_ids_with_leading_ones(i in any::<u8>(), ones in 0usize..3) {
            let s = format!("{}{}", "1".repeat(ones), key(i));
            prop_assert_eq!(peer_id(&s), PeerId::from_str(&s).ok());
        }

        #[test]
        fn multiaddr_agrees_with_from_str(
            s in "/ip[46]/[0-9a-f.:]{0,20}/tcp/[0-9+]{0,6}(/ws)?",
            o in any::<[u8; 4]>(), port in any::<u16>(),
        ) {
            prop_assert_eq!(multiaddr(&s), Multiaddr::from_str(&s).ok());
            let s = format!("/ip4/{}.{}.{}.{}/tcp/{port}", o[0], o[1], o[2], o[3]);
            prop_assert_eq!(multiaddr(&s), Multiaddr::from_str(&s).ok());
        }
    }
}
