//! What the world tells the driver, as the machine's inputs: swarm events (connections,
//! dials, identify's observations, AutoNAT requests and answers) mapped to core types, and the
//! swarm's addresses.

use super::*;

impl<R: Runtime> Driver<R> {
    pub(super) fn map_swarm_event<B: HasBootstrap>(
        &mut self,
        event: &SwarmEvent<B::ToSwarm>,
    ) -> Option<Input> {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if endpoint.is_listener() {
                    // Someone dialed us: during a dial-back request, the dial-back itself.
                    let remote = Some(without_p2p(endpoint.get_remote_address()));
                    let peer = *peer_id;
                    return Some(Input::InboundConnection { peer, remote });
                }
                let (dial, _) = self.dials.remove(connection_id)?;
                self.boot_connections.insert(*connection_id);
                // The core lists addresses without their `/p2p/` suffix.
                let addr = without_p2p(endpoint.get_remote_address());
                Some(Input::DialSucceeded {
                    dial,
                    peer: *peer_id,
                    addr: Some(addr),
                })
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                let (dial, expected) = self.dials.remove(connection_id)?;
                Some(Input::DialFailed {
                    dial,
                    error: dial_error(error, expected),
                })
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.boot_connections.remove(connection_id);
                (*num_established == 0).then_some(Input::ConnectionClosed { peer: *peer_id })
            }
            SwarmEvent::Behaviour(event) => {
                if let Some(ours) = B::bootstrap_event(event) {
                    self.map_behaviour_event(ours)
                } else if let Some(identify) = B::identify_event(event) {
                    self.map_identify_event(identify)
                } else {
                    B::autonat_event(event).and_then(map_autonat_event)
                }
            }
            _ => None,
        }
    }

    /// An observed address, from whichever identify.
    fn map_identify_event(&self, event: &identify::Event) -> Option<Input> {
        match event {
            // Only over connections the machine dialed (from the listening port): our own
            // dial-backs to a boot node leave from a new port, whose mapping says nothing
            // about the listening port's.
            identify::Event::Received {
                connection_id,
                peer_id,
                info,
            } if self.boot_connections.contains(connection_id) => Some(Input::ObservedAddr {
                peer: *peer_id,
                observed: info.observed_addr.clone(),
            }),
            _ => None,
        }
    }

    fn map_behaviour_event(&mut self, event: &BehaviourEvent) -> Option<Input> {
        match event {
            BehaviourEvent::Autonat(e) => map_autonat_event(e),
            // A peer asked our v2 server to test an address of ours: a boot peer's request is
            // the "fully connected" signal, as a v1 one is.
            BehaviourEvent::AutonatV2Server(e) => {
                Some(Input::InboundProbeRequest { peer: e.client })
            }
            BehaviourEvent::AutonatV2Client(e) => {
                let reachable = match v2_client::classify(&e.result) {
                    V2Outcome::Reachable => true,
                    V2Outcome::Unreachable => false,
                    V2Outcome::Inconclusive => return None,
                };
                Some(Input::AutonatV2Tested {
                    server: e.server,
                    addr: without_p2p(&e.tested_addr),
                    reachable,
                })
            }
            BehaviourEvent::Identify(e) => self.map_identify_event(e),
            BehaviourEvent::DialRequest(request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            }) => {
                let probe = self.probes.remove(request_id)?;
                let result = probe_result(response);
                Some(Input::OwnProbeAnswered { probe, result })
            }
            BehaviourEvent::DialRequest(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => {
                let probe = self.probes.remove(request_id)?;
                let result = Err(ProbeError::Request(request_failure(error)));
                Some(Input::OwnProbeAnswered { probe, result })
            }
            _ => None,
        }
    }
}

/// The "fully connected" signal: a peer's AutoNAT v1 dial request, from whichever AutoNAT.
fn map_autonat_event(event: &autonat::Event) -> Option<Input> {
    match event {
        autonat::Event::InboundProbe(InboundProbeEvent::Request { peer, .. }) => {
            Some(Input::InboundProbeRequest { peer: *peer })
        }
        _ => None,
    }
}

pub(super) fn dial_error(e: &SwarmDialError, expected: PeerId) -> DialError {
    match e {
        SwarmDialError::Transport(_) | SwarmDialError::NoAddresses => {
            DialError::Unreachable(e.to_string())
        }
        SwarmDialError::WrongPeerId { obtained, .. } => DialError::WrongPeer {
            expected,
            actual: *obtained,
        },
        SwarmDialError::Denied { cause, .. } => DialError::Denied(cause.to_string()),
        SwarmDialError::LocalPeerId { .. }
        | SwarmDialError::Aborted
        | SwarmDialError::DialPeerConditionFalse(_) => DialError::Other(e.to_string()),
    }
}

/// The core's reading of an AutoNAT v1 dial response.
pub(crate) fn probe_result(response: &DialResponse) -> Result<Multiaddr, ProbeError> {
    match response {
        DialResponse::Reachable(addr) => Ok(addr.clone()),
        DialResponse::DialError(_) => Err(ProbeError::DialBackFailed),
        DialResponse::Refused(_) => Err(ProbeError::Refused),
        DialResponse::BadRequest(text) => {
            Err(ProbeError::ServerFailed(format!("bad request: {text}")))
        }
        DialResponse::InternalError(text) => Err(ProbeError::ServerFailed(text.clone())),
    }
}

/// The core's reading of a request-response failure.
pub(crate) fn request_failure(error: &request_response::OutboundFailure) -> RequestFailure {
    use request_response::OutboundFailure as F;
    match error {
        F::DialFailure => RequestFailure::Unreachable,
        F::Timeout => RequestFailure::Timeout,
        F::ConnectionClosed => RequestFailure::ConnectionClosed,
        F::UnsupportedProtocols => RequestFailure::Unsupported,
        F::Io(e) => RequestFailure::Stream(e.to_string()),
    }
}

/// Whether `event` changes the addresses [`dialable_addrs`] returns.
pub(super) fn changes_addresses<E>(event: &SwarmEvent<E>) -> bool {
    matches!(
        event,
        SwarmEvent::NewListenAddr { .. }
            | SwarmEvent::ExpiredListenAddr { .. }
            | SwarmEvent::ListenerClosed { .. }
            | SwarmEvent::ExternalAddrConfirmed { .. }
            | SwarmEvent::ExternalAddrExpired { .. }
    )
}

/// The addresses a dial-back may reach: our listen and confirmed external addresses, minus
/// wildcards' meaningless cousins (the AutoNAT server substitutes the IP it observes).
pub(crate) fn dialable_addrs<B: NetworkBehaviour>(swarm: &Swarm<B>) -> Vec<Multiaddr> {
    let mut addrs: Vec<Multiaddr> = swarm
        .external_addresses()
        .chain(swarm.listeners())
        .cloned()
        .collect();
    addrs.dedup();
    addrs
}
