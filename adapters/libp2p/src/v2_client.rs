//! What one result of libp2p's AutoNAT v2 client says about the address it tested.
//!
//! libp2p's client (libp2p-autonat 0.14 and 0.16 alike) reports a result only when the server
//! finished a dial attempt; every other failure (refused, rejected, unsupported, a broken
//! stream, a timeout) is logged and retried inside libp2p, with no event. Its error type is
//! private and implements only `Debug` and `Display`: `NoConnection` (the server's
//! `E_DIAL_ERROR`, 100: it dialed and could not connect) and `StreamFailed` (`E_DIAL_BACK_ERROR`,
//! 101: it connected, but the dial-back stream or its nonce failed). Only the first says the
//! address is unreachable; rust-libp2p#6168 would make the type public. Until then the `Debug`
//! name, derived from the variant, is read here and nowhere else, and a name this function does
//! not know is inconclusive, never "unreachable".

use std::fmt::Debug;

/// The reading of one AutoNAT v2 result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum V2Outcome {
    /// The server dialed back with our nonce.
    Reachable,
    /// The server dialed and could not connect.
    Unreachable,
    /// The server connected but the dial-back failed, or an error this reading does not know:
    /// nothing about reachability.
    Inconclusive,
}

/// The `Debug` name of libp2p's `DialBackError::NoConnection`.
const NO_CONNECTION: &str = "NoConnection";

/// Classifies a v2 client result (`autonat::v2::client::Event::result`).
pub fn classify<E: Debug>(result: &Result<(), E>) -> V2Outcome {
    match result {
        Ok(()) => V2Outcome::Reachable,
        Err(error) if format!("{error:?}") == NO_CONNECTION => V2Outcome::Unreachable,
        Err(_) => V2Outcome::Inconclusive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libp2p's private `DialBackError`, with the same derived `Debug`.
    #[derive(Debug)]
    enum DialBackError {
        NoConnection,
        StreamFailed,
    }

    /// libp2p's `Error { inner }`, whose `Debug` is the inner error's.
    struct Error(DialBackError);

    impl Debug for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Debug::fmt(&self.0, f)
        }
    }

    #[test]
    fn a_verified_dial_back_is_reachable() {
        assert_eq!(classify::<Error>(&Ok(())), V2Outcome::Reachable);
    }

    #[test]
    fn a_server_that_could_not_connect_makes_the_address_unreachable() {
        let result = Err(Error(DialBackError::NoConnection));
        assert_eq!(classify(&result), V2Outcome::Unreachable);
    }

    #[test]
    fn a_failed_dial_back_stream_and_unknown_errors_prove_nothing() {
        assert_eq!(
            classify(&Err(Error(DialBackError::StreamFailed))),
            V2Outcome::Inconclusive
        );
        assert_eq!(classify(&Err("NoConnection!")), V2Outcome::Inconclusive);
        assert_eq!(
            classify(&Err(std::io::ErrorKind::TimedOut)),
            V2Outcome::Inconclusive
        );
    }
}
