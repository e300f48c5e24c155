//! The `/status` document: rendering it in rotating order, and signing it.

use super::*;

use crate::signed::{encode_key, signed_bytes, DocSignature};
use crate::status::{PeerLoad, StatusDocument};

/// The longest wait between signing attempts after failures in a row.
pub(super) const MAX_SIGN_RETRY: Duration = Duration::from_secs(60);

/// One rotation of the peer list: what `peer_addrs` holds when the members are listed from
/// one starting point, and its exact JSON (what a signature covers).
#[derive(Debug, Clone)]
pub(super) struct List {
    pub(super) entries: Vec<String>,
    pub(super) json: Vec<u8>,
}

/// A signature over one peer list.
#[derive(Debug, Clone)]
pub(super) struct CachedSignature {
    pub(super) addrs_json: Vec<u8>,
    pub(super) signature: DocSignature,
    pub(super) last_served: Instant,
}

/// A signing job handed to the driver.
#[derive(Debug, Clone)]
pub(super) struct SignJob {
    pub(super) addrs_json: Vec<u8>,
    pub(super) issued_at: u64,
    pub(super) expires_at: u64,
    pub(super) sequence: u64,
    pub(super) deadline: Instant,
}

/// A `/status` request waiting for its list's signature. Its place in the rotation is fixed
/// when it arrives; the counts in the document are those of the moment it is served.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub(super) reply: Token,
    pub(super) entries: Vec<String>,
    pub(super) addrs_json: Vec<u8>,
}

impl BootNodeMachine {
    /// Rebuilds the rotations after the advertised addresses or the members changed, and
    /// starts signing the new lists at once, so requests seldom wait for a signature.
    pub(super) fn rebuild_lists(&mut self) {
        let n = self.members.len().max(1);
        let mut lists = Vec::with_capacity(n);
        for start in 0..n {
            let mut entries = self.own_entries.clone();
            let m = self.members.len();
            entries.extend((0..m).map(|i| self.members[(start + i) % m].entry.clone()));
            let json =
                serde_json::to_vec(&entries).expect("invariant: a list of strings serializes");
            lists.push(List { entries, json });
        }
        self.lists = lists;
        // Jobs for lists no longer served are forgotten (their answers will be ignored), unless
        // a waiting request needs one: jobs stay bounded however often the lists change.
        let current: Vec<Vec<u8>> = self.lists.iter().map(|l| l.json.clone()).collect();
        self.forget_sign_jobs_except_waited_for(&current);
        self.renew_signatures();
    }

    /// Forgets every signing job but those for `keep` and for lists a request waits for (their
    /// answers will be ignored as unknown).
    pub(super) fn forget_sign_jobs_except_waited_for(&mut self, keep: &[Vec<u8>]) {
        let waiting = &self.waiting;
        self.sign_jobs.retain(|_, j| {
            keep.contains(&j.addrs_json) || waiting.iter().any(|w| w.addrs_json == j.addrs_json)
        });
    }

    /// After a wall-clock step: every job under way carries the old reading's times, so each
    /// is forgotten, and the lists requests wait for are signed again at once (the current
    /// lists follow in [`Self::renew_signatures`]).
    pub(super) fn restart_sign_jobs(&mut self) {
        self.sign_jobs.clear();
        let Some(policy) = self.config.signing.clone() else {
            return;
        };
        let mut waited: Vec<Vec<u8>> = Vec::new();
        for w in &self.waiting {
            if !waited.contains(&w.addrs_json) {
                waited.push(w.addrs_json.clone());
            }
        }
        for addrs_json in waited {
            if !self.start_sign_job(addrs_json.clone(), &policy) {
                // Signing is backing off: nothing would sign this list soon, so its requests
                // get it unsigned now rather than wait with no job to wake them.
                for w in self.take_waiting(&addrs_json) {
                    self.serve(w.reply, w.entries, None);
                }
            }
        }
    }

    /// The next rotation's peer list: this node's advertised addresses, then the members from
    /// the rotation's next starting point.
    fn next_list(&mut self) -> (Vec<String>, Vec<u8>) {
        let i = (self.rotation % self.lists.len().max(1) as u64) as usize;
        self.rotation = self.rotation.wrapping_add(1);
        self.lists
            .get(i)
            .map(|l| (l.entries.clone(), l.json.clone()))
            .unwrap_or_default()
    }

    /// The document around `peer_addrs`, with the peer count and the members' fresh loads of
    /// this moment.
    fn document(&self, peer_addrs: Vec<String>, signature: Option<DocSignature>) -> StatusDocument {
        let max_age = self.config.load_interval * self.config.load_max_age_intervals;
        let now = self.now;
        let peer_loads = self
            .members
            .iter()
            .filter_map(|m| {
                let (count, at) = self.loads.get(&m.id)?;
                (now.saturating_duration_since(*at) <= max_age).then(|| PeerLoad {
                    peer_id: m.id_text.clone(),
                    peers_count: *count,
                })
            })
            .collect();
        StatusDocument {
            peers_count: self.non_members,
            peer_id: self.local_text.clone(),
            peer_addrs,
            peer_loads,
            signature,
        }
    }

    pub(super) fn on_status_request(&mut self, reply: Token) {
        let (entries, addrs_json) = self.next_list();
        let Some(policy) = self.config.signing.clone() else {
            return self.serve(reply, entries, None);
        };
        let now = self.now;
        if let Some(i) = self.servable_signature(&addrs_json) {
            let cached = &mut self.signatures[i];
            cached.last_served = now;
            let signature = cached.signature.clone();
            return self.serve(reply, entries, Some(signature));
        }
        let job_running = self.sign_jobs.values().any(|j| j.addrs_json == addrs_json);
        let room = self.waiting.len() < self.config.max_waiting_requests;
        if room && (job_running || self.start_sign_job(addrs_json.clone(), &policy)) {
            self.waiting.push_back(Waiting {
                reply,
                entries,
                addrs_json,
            });
        } else {
            // No signature can come soon (no clock, the signer just failed, too many waiting):
            // serve it unsigned. A client that requires a signature refuses it by name.
            self.serve(reply, entries, None);
        }
    }

    fn serve(&mut self, reply: Token, entries: Vec<String>, signature: Option<DocSignature>) {
        let signed = signature.is_some();
        self.counters.status_served += 1;
        if !signed && self.config.signing.is_some() {
            self.counters.status_served_unsigned += 1;
        }
        let body = self.document(entries, signature).to_json();
        self.push(BootNodeAction::ServeStatus { reply, body });
        self.report(BootNodeEvent::StatusServed { signed });
    }

    /// The cached signature for `addrs_json` that may be served now: by this sequence, issued
    /// no later than now, with more than a quarter of its validity left.
    fn servable_signature(&self, addrs_json: &[u8]) -> Option<usize> {
        let sequence = self.config.signing.as_ref()?.sequence;
        self.signatures.iter().position(|c| {
            c.addrs_json == addrs_json
                && c.signature.sequence == sequence
                && self.still_servable(&c.signature)
        })
    }

    /// Whether `sig` has more than a quarter of its validity left now.
    fn still_servable(&self, sig: &DocSignature) -> bool {
        let (Some(policy), Some(now)) = (self.config.signing.as_ref(), self.unix_now()) else {
            return false;
        };
        let quarter = policy.validity.as_secs() / 4;
        sig.issued_at <= now && now < sig.expires_at.saturating_sub(quarter)
    }

    /// Starts signing `addrs_json` now; `false` when no job can start (no wall clock, or the
    /// signer failed a moment ago).
    fn start_sign_job(&mut self, addrs_json: Vec<u8>, policy: &SigningPolicy) -> bool {
        let Some(issued_at) = self.unix_now() else {
            return false;
        };
        if self.sign_retry_at.is_some() {
            return false;
        }
        let sign = SignId(self.alloc_id());
        let expires_at = issued_at.saturating_add(policy.validity.as_secs());
        let job = SignJob {
            addrs_json: addrs_json.clone(),
            issued_at,
            expires_at,
            sequence: policy.sequence,
            deadline: self.now + policy.timeout,
        };
        self.sign_jobs.insert(sign, job);
        self.push(BootNodeAction::Sign {
            sign,
            peer_addrs_json: addrs_json,
            issued_at,
            expires_at,
            sequence: policy.sequence,
        });
        true
    }

    pub(super) fn on_signed(&mut self, job: SignJob, result: &Result<DocSignature, String>) {
        let signature = match result {
            Ok(sig) => match self.check_signature(&job, sig) {
                Ok(()) => sig.clone(),
                Err(why) => return self.signing_failed(&job, why),
            },
            Err(e) => return self.signing_failed(&job, e.clone()),
        };
        if !self.still_servable(&signature) {
            // A signer slower than a quarter of the validity hands back signatures that may
            // no longer be served: the requests waiting for one get the list unsigned.
            let why = "the signature came back with a quarter of its validity or less left \
                       (the signer is too slow for the signature validity)";
            return self.signing_failed(&job, why.into());
        }
        self.counters.signatures += 1;
        self.sign_failures = 0;
        self.report(BootNodeEvent::Signed {
            expires_at: signature.expires_at,
        });
        let served = self.take_waiting(&job.addrs_json);
        let now = self.now;
        let entry = CachedSignature {
            addrs_json: job.addrs_json,
            signature: signature.clone(),
            last_served: now,
        };
        match self
            .signatures
            .iter()
            .position(|c| c.addrs_json == entry.addrs_json)
        {
            Some(i) => self.signatures[i] = entry,
            None => {
                if self.signatures.len() >= MAX_SIGNATURES {
                    // Evict a list no longer in the rotation (the one served longest ago), or
                    // failing that the one served longest ago.
                    let current =
                        |c: &CachedSignature| self.lists.iter().any(|l| l.json == c.addrs_json);
                    let victim = (0..self.signatures.len()).min_by_key(|i| {
                        (
                            current(&self.signatures[*i]),
                            self.signatures[*i].last_served,
                        )
                    });
                    if let Some(i) = victim {
                        self.signatures.swap_remove(i);
                    }
                }
                self.signatures.push(entry);
            }
        }
        for w in served {
            self.serve(w.reply, w.entries, Some(signature.clone()));
        }
    }

    /// A signature handed back is served only if it is what the job asked for, by the
    /// configured key, and verifies.
    fn check_signature(&self, job: &SignJob, sig: &DocSignature) -> Result<(), String> {
        let policy = self
            .config
            .signing
            .as_ref()
            .expect("invariant: signing jobs exist only with a signing policy");
        if sig.key != encode_key(&policy.key) {
            return Err("signed by another key than the configured one".into());
        }
        if (sig.issued_at, sig.expires_at, sig.sequence)
            != (job.issued_at, job.expires_at, job.sequence)
        {
            return Err("the signature's times or sequence differ from the job's".into());
        }
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig.sig)
            .map_err(|e| format!("sig is not base64: {e}"))?;
        let message = signed_bytes(&job.addrs_json, job.issued_at, job.expires_at, job.sequence);
        if !policy.key.verify(&message, &raw) {
            return Err("the signature does not verify".into());
        }
        Ok(())
    }

    /// A job failed: no new one before a wait that doubles with every failure in a row, from
    /// `retry_after` up to [`MAX_SIGN_RETRY`] (a signer that fails at once must not be asked
    /// again every millisecond). Jobs already under way may still succeed.
    fn signing_failed(&mut self, job: &SignJob, reason: String) {
        if self.sign_retry_at.is_none() {
            let first = self
                .config
                .signing
                .as_ref()
                .map_or(Duration::from_secs(1), |p| p.retry_after);
            let doubled = first.saturating_mul(1u32 << self.sign_failures.min(16));
            self.sign_retry_at = Some(self.now + doubled.min(MAX_SIGN_RETRY).max(first));
            self.sign_failures = self.sign_failures.saturating_add(1);
        }
        self.report(BootNodeEvent::SigningFailed { reason });
        for w in self.take_waiting(&job.addrs_json) {
            self.serve(w.reply, w.entries, None);
        }
    }

    fn take_waiting(&mut self, addrs_json: &[u8]) -> Vec<Waiting> {
        let (matching, rest): (VecDeque<Waiting>, VecDeque<Waiting>) =
            std::mem::take(&mut self.waiting)
                .into_iter()
                .partition(|w| w.addrs_json == addrs_json);
        self.waiting = rest;
        matching.into()
    }

    pub(super) fn expire_sign_jobs(&mut self) {
        let now = self.now;
        let due: Vec<SignId> = self
            .sign_jobs
            .iter()
            .filter(|(_, j)| j.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(job) = self.sign_jobs.remove(&id) {
                self.signing_failed(&job, "the signer did not answer in time".into());
            }
        }
    }

    /// When the next signing job for a current list is due: at once for a list without a
    /// servable signature, else when a quarter of its signature's validity has passed. Lists
    /// with a job under way wait for it; after a failure nothing is due before the retry time.
    pub(super) fn next_renewal(&self) -> Option<Instant> {
        let policy = self.config.signing.as_ref()?;
        self.wall_origin?;
        let quarter = policy.validity.as_secs() / 4;
        let due = self
            .lists
            .iter()
            .filter(|l| !self.sign_jobs.values().any(|j| j.addrs_json == l.json))
            .map(|l| match self.current_signature(&l.json) {
                Some(s) if self.still_servable(s) => self
                    .instant_at(s.issued_at.saturating_add(quarter))
                    .unwrap_or(self.now),
                // None, or one the clock has left behind (a step back makes it look issued in
                // the future; a step forward, old): due now.
                _ => self.now,
            })
            .min()?;
        Some(self.sign_retry_at.map_or(due, |retry| due.max(retry)))
    }

    /// The signature cached for `json` by the configured sequence, whatever its age.
    fn current_signature(&self, json: &[u8]) -> Option<&DocSignature> {
        let sequence = self.config.signing.as_ref()?.sequence;
        self.signatures
            .iter()
            .find(|c| c.addrs_json == json && c.signature.sequence == sequence)
            .map(|c| &c.signature)
    }

    /// Starts a job for every current list that has no servable signature, or one a quarter of
    /// whose validity has passed, unless one is under way.
    pub(super) fn renew_signatures(&mut self) {
        let Some(policy) = self.config.signing.clone() else {
            return;
        };
        let Some(now) = self.unix_now() else {
            return;
        };
        let quarter = policy.validity.as_secs() / 4;
        let due: Vec<Vec<u8>> = self
            .lists
            .iter()
            .filter(|l| !self.sign_jobs.values().any(|j| j.addrs_json == l.json))
            .filter(|l| {
                self.current_signature(&l.json).is_none_or(|s| {
                    !self.still_servable(s) || now >= s.issued_at.saturating_add(quarter)
                })
            })
            .map(|l| l.json.clone())
            .collect();
        for addrs_json in due {
            if !self.start_sign_job(addrs_json, &policy) {
                return;
            }
        }
    }
}
