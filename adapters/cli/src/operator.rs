//! The operator's side of signed boot documents: `keygen`, `public-key`, `sign`, and reading
//! the keys `node --signing-key` and `bootstrap --trust` take.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libp2p::identity::{Keypair, PublicKey};
use pyrsia_boot_core::signing::{decode_key, encode_key, sign as sign_list};
use pyrsia_boot_core::{parse_status, AddrClass, AddressPolicy, Limits, ParseOptions, Trust};
use serde_json::{Map, Value};

use pyrsia_boot_libp2p::atomic_file::{self, Existing, Readable};

use crate::{bad_argument, start_failed};

#[derive(clap::Args, Debug)]
pub(crate) struct SignArgs {
    /// Operator key file (from `pyrsia-boot keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The document to sign; stdin when absent.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the signed document; stdout when absent.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// How long the signature is valid, in seconds from the issue time. Re-sign before it runs
    /// out (a cron job): clients refuse expired documents.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    valid_for: u64,
    /// Issue time, in Unix seconds; the validity runs from it. Default: now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    issued_at: Option<u64>,
    /// Sequence of this list. Clients refuse lower sequences than one they have seen from this
    /// key. Default: the issue time in Unix seconds, which only grows.
    #[arg(long, value_name = "N")]
    sequence: Option<u64>,
}

/// Reads a key file (libp2p protobuf encoding, as `keygen` and `node --key` write it).
pub fn read_key(path: &Path) -> Result<Keypair, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
        format!(
            "{}: not a libp2p key file (protobuf encoding, as `pyrsia-boot keygen` writes): {e}",
            path.display()
        )
    })
}

/// A `--trust` value: a base64 public key, or a key file (private or public key).
pub fn trusted_key(text: &str) -> Result<PublicKey, String> {
    let as_text = match decode_key(text) {
        Ok(key) => return Ok(key),
        Err(e) => e,
    };
    let path = Path::new(text);
    if !path.is_file() {
        return Err(format!(
            "neither a public key ({as_text}) nor a key file (run `pyrsia-boot public-key FILE` \
             to print a key file's public key)"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(pair) = Keypair::from_protobuf_encoding(&bytes) {
        return Ok(pair.public());
    }
    PublicKey::try_decode_protobuf(&bytes)
        .map_err(|e| format!("{}: not a libp2p key file: {e}", path.display()))
}

/// `pyrsia-boot keygen --out FILE`.
pub fn keygen(out: &Path) -> ExitCode {
    let key = Keypair::generate_ed25519();
    let bytes = match key.to_protobuf_encoding() {
        Ok(b) => b,
        Err(e) => return start_failed("encoding the new key", e),
    };
    if let Err(e) = atomic_file::write(out, &bytes, Readable::Owner, Existing::Keep) {
        let why = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "already exists; keys are never overwritten (move it away first)".to_string()
        } else {
            e.to_string()
        };
        return bad_argument(&format!("--out {}: {why}", out.display()));
    }
    eprintln!(
        "wrote operator key {} (keep it private); its public key, for --trust:",
        out.display()
    );
    println!("{}", encode_key(&key.public()));
    ExitCode::SUCCESS
}

/// `pyrsia-boot public-key FILE`.
pub fn public_key(file: &Path) -> ExitCode {
    match read_key(file) {
        Ok(key) => {
            println!("{}", encode_key(&key.public()));
            ExitCode::SUCCESS
        }
        Err(e) => start_failed("reading the key", e),
    }
}

/// `pyrsia-boot sign`: adds a `signature` field over the document's `peer_addrs`.
pub fn sign(args: SignArgs) -> ExitCode {
    let key = match read_key(&args.key) {
        Ok(k) => k,
        Err(e) => return start_failed("--key", e),
    };
    let body = match read_input(args.input.as_deref()) {
        Ok(b) => b,
        Err(e) => return bad_argument(&e),
    };
    if args.valid_for == 0 {
        return bad_argument("--valid-for 0 would sign a document that is already expired");
    }
    let now = pyrsia_boot_libp2p::unix_time().unwrap_or(0);
    let issued = args.issued_at.unwrap_or(now);
    let sequence = args.sequence.unwrap_or(issued);
    let signed = match sign_document(&body, &key, issued, args.valid_for, sequence) {
        Ok(s) => s,
        Err(e) => return bad_argument(&e),
    };
    let written = match &args.output {
        Some(path) => atomic_file::write(path, &signed, Readable::Everyone, Existing::Replace),
        None => std::io::stdout()
            .write_all(&signed)
            .and_then(|()| std::io::stdout().write_all(b"\n")),
    };
    if let Err(e) = written {
        return start_failed("writing the signed document", e);
    }
    let expires = issued.saturating_add(args.valid_for);
    eprintln!(
        "signed with {}: sequence {sequence}, valid from {issued} until {expires} (Unix seconds)",
        encode_key(&key.public()),
    );
    if expires <= now {
        eprintln!("pyrsia-boot: warning: that is in the past; clients will refuse it as expired");
    }
    ExitCode::SUCCESS
}

fn read_input(path: Option<&Path>) -> Result<Vec<u8>, String> {
    // The largest document a client accepts: larger ones are not worth signing.
    let max = Limits::default().max_body_bytes as u64;
    let mut body = Vec::new();
    let read = match path {
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(max + 1).read_to_end(&mut body))
            .map_err(|e| format!("--in {}: {e}", p.display())),
        None => std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading stdin: {e}")),
    };
    read?;
    if body.len() as u64 > max {
        return Err(format!(
            "the document is over {max} bytes, more than clients accept"
        ));
    }
    Ok(body)
}

/// Signs `body` (a /status document) and checks the result the way a client will at the
/// issue time.
fn sign_document(
    body: &[u8],
    key: &Keypair,
    issued: u64,
    valid_for: u64,
    sequence: u64,
) -> Result<Vec<u8>, String> {
    let mut doc: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| format!("the document is not a JSON object: {e}"))?;
    doc.remove("signature");
    let addrs = doc
        .get("peer_addrs")
        .ok_or("the document has no peer_addrs field (the list a signature covers)")?;
    // serde_json's compact form of a value does not depend on where it sits, so these are the
    // bytes `peer_addrs` will have in the output.
    let addrs_json = serde_json::to_vec(addrs).map_err(|e| e.to_string())?;
    let expires = issued.saturating_add(valid_for);
    let signature = sign_list(key, &addrs_json, issued, expires, sequence)
        .map_err(|e| format!("signing failed: {e}"))?;
    let signature = serde_json::to_value(signature).map_err(|e| e.to_string())?;
    doc.insert("signature".into(), signature);
    let out = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    // Refuse to hand out a document our own client would refuse.
    let options = ParseOptions {
        policy: AddressPolicy::allow_private().with(AddrClass::Documentation),
        trust: Trust {
            keys: vec![key.public()],
            unix_time: Some(issued),
            sequences: Vec::new(),
        },
        ..ParseOptions::default()
    };
    parse_status(&out, &options).map_err(|e| format!("the signed document does not check: {e}"))?;
    Ok(out)
}
