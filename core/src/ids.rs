//! Correlation ids: the machines allocate them, drivers echo them back, and an id a machine
//! does not know (stale, duplicated, invented) is ignored and counted. A retry gets a new id,
//! so a late answer to an earlier request can never be taken for the answer to the retry.

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $tag:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub(crate) u64);

        impl $name {
            /// The raw number, for logs and maps in drivers.
            pub fn raw(self) -> u64 {
                self.0
            }

            /// The id with this raw number: for a driver that keeps raw numbers, or a test
            /// that hands the machine an id it never allocated.
            pub fn from_raw(raw: u64) -> Self {
                $name(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($tag, "#{}"), self.0)
            }
        }
    };
}

id!(
    /// Names one HTTP request the client machine asked for.
    RequestId,
    "req"
);
id!(
    /// Names one dial the client machine asked for.
    DialId,
    "dial"
);
id!(
    /// Names one AutoNAT dial-back request a machine asked for (the client's own probe, or a
    /// boot node's request to a newly connected peer).
    ProbeId,
    "probe"
);
id!(
    /// Names one load question a boot node asked a cluster member.
    LoadAskId,
    "load"
);
id!(
    /// Names one signing job a boot node asked for.
    SignId,
    "sign"
);
id!(
    /// Names one dial-back a boot node's AutoNAT server asked for.
    DialBackId,
    "dialback"
);

/// A driver's own name for something the world started (an accepted connection, an inbound
/// request): the driver picks it, the boot-node machine echoes it back in the action that
/// answers. Connections and requests take their tokens from one counter that only grows: a
/// token not newer than the last one the machine saw is a replay, and is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub u64);

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t#{}", self.0)
    }
}
