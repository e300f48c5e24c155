//! The state worth keeping across restarts. The machine emits it in
//! [`crate::Action::PersistState`]; the application writes it and hands it back through
//! [`crate::Config::restore`] on the next start.

use crate::config::KnownPeer;
use crate::nat::NatVerdict;

/// Good boot peers (most recently connected first) and the last NAT verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Peers this node reached Connected through, newest first, at most
    /// [`crate::Config::max_good_peers`].
    pub good_peers: Vec<KnownPeer>,
    /// The last verdict.
    pub nat: NatVerdict,
}
