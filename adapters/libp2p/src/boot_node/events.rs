//! What the swarm tells a boot node, as its machine's inputs: connections, dial requests and
//! their answers, load questions.

use super::*;

impl BootNode {
    /// One swarm event.
    pub fn on_swarm_event(
        &mut self,
        now: Instant,
        swarm: &mut Swarm<Behaviour>,
        event: SwarmEvent<Event>,
    ) {
        self.metrics.record(&event);
        let input = match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let conn = self.token();
                self.conns.insert(connection_id, conn);
                let remote = endpoint.get_remote_address().clone();
                self.handshake_done = match (&self.handshakes, endpoint.is_listener()) {
                    (Some(h), true) => h.take_done(&remote).map(|at| (peer_id, at)),
                    _ => None,
                };
                let opened = BootNodeInput::ConnectionOpened {
                    conn,
                    peer: peer_id,
                    inbound: endpoint.is_listener(),
                    remote: remote.clone(),
                };
                match self.dial_back_connected(connection_id, &remote) {
                    Some(dialed_back) => {
                        self.feed(now, swarm, opened);
                        dialed_back
                    }
                    None => opened,
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => match self.dial_back_failed(connection_id, &error) {
                Some(input) => input,
                None => return,
            },
            SwarmEvent::Behaviour(Event::Ping(libp2p::ping::Event {
                connection,
                result: Ok(rtt),
                ..
            })) => match self.conns.get(&connection) {
                Some(&conn) => BootNodeInput::RoundTrip { conn, rtt },
                None => return,
            },
            SwarmEvent::ConnectionClosed { connection_id, .. } => {
                match self.conns.remove(&connection_id) {
                    Some(conn) => BootNodeInput::ConnectionClosed { conn },
                    None => return,
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => BootNodeInput::ListenAddrAdded(address),
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                BootNodeInput::ListenAddrRemoved(address)
            }
            // A closed listener reports its addresses here only, not as expired ones.
            SwarmEvent::ListenerClosed { addresses, .. } => {
                for address in addresses {
                    self.feed(now, swarm, BootNodeInput::ListenAddrRemoved(address));
                }
                return;
            }
            SwarmEvent::Behaviour(Event::DialRequest(e)) => match self.dial_request_event(e) {
                Some(input) => input,
                None => return,
            },
            SwarmEvent::Behaviour(Event::Load(e)) => match self.load_event(e) {
                Some(input) => input,
                None => return,
            },
            SwarmEvent::IncomingConnectionError { send_back_addr, .. } => {
                // Refused after its handshake (a limit): its note is not needed any more.
                if let Some(h) = &self.handshakes {
                    h.take_done(&send_back_addr);
                }
                return;
            }
            _ => return,
        };
        self.feed(now, swarm, input);
    }

    pub(super) fn dial_request_event(
        &mut self,
        event: request_response::Event<DialRequest, DialResponse>,
    ) -> Option<BootNodeInput> {
        match event {
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let probe = self.probes.remove(&request_id)?;
                let result = probe_result(&response);
                Some(BootNodeInput::DialRequestAnswered { probe, result })
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                let probe = self.probes.remove(&request_id)?;
                let result = Err(ProbeError::Request(request_failure(&error)));
                Some(BootNodeInput::DialRequestAnswered { probe, result })
            }
            request_response::Event::Message {
                peer,
                connection_id,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
            } => {
                let conn = *self.conns.get(&connection_id)?;
                let reply = self.token();
                self.dial_back_replies.insert(reply, channel);
                Some(BootNodeInput::DialBackAsked {
                    reply,
                    conn,
                    peer,
                    claimed: request.peer,
                    addrs: request.addrs,
                })
            }
            request_response::Event::InboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => None,
        }
    }

    pub(super) fn load_event(
        &mut self,
        event: request_response::Event<(), u64>,
    ) -> Option<BootNodeInput> {
        match event {
            request_response::Event::Message {
                peer,
                message: request_response::Message::Request { channel, .. },
                ..
            } => {
                let reply = self.token();
                self.load_replies.insert(reply, channel);
                Some(BootNodeInput::LoadAsked { reply, peer })
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let ask = self.loads.remove(&request_id)?;
                Some(BootNodeInput::LoadAnswered {
                    ask,
                    result: Ok(response),
                })
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                let ask = self.loads.remove(&request_id)?;
                let result = Err(request_failure(&error));
                Some(BootNodeInput::LoadAnswered { ask, result })
            }
            request_response::Event::InboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => None,
        }
    }
}
