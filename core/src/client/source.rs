//! Where a bootstrap finds boot peers: the cache of good peers, a boot URL, the seeds.

use super::*;

/// A source of boot peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Cache,
    Url(usize),
    Seeds,
}

impl Source {
    /// How reports name it.
    pub(super) fn name(self, config: &Config) -> SourceName {
        match self {
            Source::Cache => SourceName::Cache,
            Source::Url(i) => SourceName::Url(config.boot_urls[i].clone()),
            Source::Seeds => SourceName::Seeds,
        }
    }
}
