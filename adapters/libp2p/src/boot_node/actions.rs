//! A boot node's machine's actions, carried out on the swarm and the HTTP side: dial
//! requests, dial-backs (from its own address or the alternate one), answers, load questions,
//! `/status` documents, signatures and reports.

use super::*;

impl BootNode {
    pub(super) fn apply(&mut self, action: BootNodeAction, swarm: &mut Swarm<Behaviour>) {
        match action {
            BootNodeAction::SendDialRequest { probe, peer, addrs } => {
                let request = DialRequest {
                    peer: *swarm.local_peer_id(),
                    addrs,
                };
                let id = swarm
                    .behaviour_mut()
                    .dial_request
                    .send_request(&peer, request);
                self.probes.insert(id, probe);
                if let Some((joiner, done)) = self.handshake_done.take() {
                    if joiner == peer {
                        self.metrics.handshake_to_dial_request(done.elapsed());
                    }
                }
            }
            BootNodeAction::AskLoad { ask, member, addr } => {
                swarm.add_peer_address(member, addr);
                let id = swarm.behaviour_mut().load.send_request(&member, ());
                self.loads.insert(id, ask);
            }
            BootNodeAction::AnswerLoad { reply, peers_count } => {
                if let Some(channel) = self.load_replies.remove(&reply) {
                    // Err: the asker went away.
                    let _ = swarm
                        .behaviour_mut()
                        .load
                        .send_response(channel, peers_count);
                }
            }
            BootNodeAction::ServeStatus { reply, body } => {
                if let Some(tx) = self.status_replies.remove(&reply) {
                    // Err: the HTTP client went away.
                    let _ = tx.send(body);
                }
            }
            BootNodeAction::Sign {
                sign,
                peer_addrs_json,
                issued_at,
                expires_at,
                sequence,
            } => {
                let result = match &self.signer {
                    Some(key) => {
                        signed::sign(key, &peer_addrs_json, issued_at, expires_at, sequence)
                            .map_err(|e| e.to_string())
                    }
                    None => Err("no signing key".to_string()),
                };
                self.fed_back
                    .push_back(BootNodeInput::Signed { sign, result });
            }
            BootNodeAction::DialBack {
                job,
                from,
                peer,
                addrs,
                attempts,
            } => {
                for _ in 0..attempts {
                    // From a new port: the NAT in front of the asker has never seen it, so
                    // only a mapping open to this host (or anyone) lets it in.
                    let opts = DialOpts::peer_id(peer)
                        .condition(PeerCondition::Always)
                        .addresses(addrs.clone())
                        .allocate_new_port()
                        .build();
                    let id = opts.connection_id();
                    let dialed = match (from, &mut self.alternate) {
                        (DialBackFrom::Own, _) => swarm.dial(opts),
                        (DialBackFrom::Alternate, Some(alternate)) => alternate.dial(opts),
                        (DialBackFrom::Alternate, None) => break,
                    };
                    match dialed {
                        Ok(()) => {
                            self.dial_back_attempts.insert(id, (job, from));
                        }
                        Err(e) => {
                            tracing::debug!(%peer, %e, "dial-back attempt not started");
                        }
                    }
                }
                if !self.dial_back_attempts.values().any(|l| *l == (job, from)) {
                    let result = Err("no dial-back attempt could start".to_string());
                    self.fed_back
                        .push_back(BootNodeInput::DialedBack { job, from, result });
                }
            }
            BootNodeAction::CancelDialBack { job } => {
                // A pending libp2p dial cannot be aborted: forgetting it makes a late
                // connection an ordinary one.
                self.dial_back_attempts.retain(|_, (j, _)| *j != job);
            }
            BootNodeAction::AnswerDialBack { reply, answer } => {
                if let Some(channel) = self.dial_back_replies.remove(&reply) {
                    let response = match answer {
                        DialBackAnswer::Reachable(a) => DialResponse::Reachable(a),
                        DialBackAnswer::DialError(t) => DialResponse::DialError(t),
                        DialBackAnswer::Refused(t) => DialResponse::Refused(t),
                        DialBackAnswer::BadRequest(t) => DialResponse::BadRequest(t),
                    };
                    // Err: the asker went away.
                    let _ = swarm
                        .behaviour_mut()
                        .dial_request
                        .send_response(channel, response);
                }
            }
            BootNodeAction::Report(event) => {
                match &event {
                    BootNodeEvent::SigningFailed { reason } => {
                        tracing::error!("cannot sign /status: {reason}");
                    }
                    BootNodeEvent::LoadFailed { member, error } => {
                        tracing::debug!(%member, %error, "cluster member's load unknown");
                    }
                    // The rest are counted in the metrics, not logged.
                    _ => {}
                }
                self.metrics.on_event(&event);
            }
        }
    }
}
