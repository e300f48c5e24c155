//! Inputs from the world: HTTP results, dial results, connections, AutoNAT requests.

use super::*;

impl BootstrapMachine {
    pub(super) fn on_input(&mut self, input: Input) {
        match input {
            Input::Tick => {}
            Input::HttpResponse {
                request,
                status,
                ref body,
            } => match self.awaited_url(request) {
                Some(url) => self.on_http_response(url, status, body),
                None => self
                    .ctx
                    .ignore(&input, "no request with this id is awaited"),
            },
            Input::HttpFailed { request, ref error } => match self.awaited_url(request) {
                Some(url) => {
                    if let (HttpError::InvalidUrl(_), Some(attempt)) = (error, self.attempt_mut()) {
                        // The driver could not use the URL at all: asking again cannot help.
                        attempt.dead_urls.insert(url);
                    }
                    self.fail_source(Source::Url(url), Failure::Http(error.clone()))
                }
                None => self
                    .ctx
                    .ignore(&input, "no request with this id is awaited"),
            },
            Input::DialSucceeded {
                dial,
                peer,
                ref addr,
            } => match self.links.dials.remove(&dial) {
                // The other family's dial to a boot peer already connected (either may win).
                Some(d) if d.peer == peer && self.links.conns.contains_key(&peer) => {
                    self.on_second_family_connection(peer, addr.as_ref())
                }
                Some(d) if d.peer == peer => self.on_boot_connection(d, addr.clone()),
                Some(d) => {
                    self.ctx.counters.dial_failures += 1;
                    let error = DialError::WrongPeer {
                        expected: d.peer,
                        actual: peer,
                    };
                    self.ctx.push(Action::Disconnect { peer });
                    self.note_dial_failure(
                        d.source,
                        Failure::Dial {
                            peer: d.peer,
                            error,
                        },
                    );
                }
                None => self.ctx.ignore(&input, "no dial with this id is pending"),
            },
            Input::DialFailed { dial, ref error } => match self.links.dials.remove(&dial) {
                Some(d) if d.second_family || self.links.conns.contains_key(&d.peer) => {
                    // That family stays unprobed; the peer is still connected over the other.
                    self.ctx.counters.dial_failures += 1;
                    tracing::debug!(peer = %d.peer, %error, "second-family dial failed");
                }
                Some(d) => {
                    self.ctx.counters.dial_failures += 1;
                    let failure = Failure::Dial {
                        peer: d.peer,
                        error: error.clone(),
                    };
                    self.note_dial_failure(d.source, failure);
                }
                None => self.ctx.ignore(&input, "no dial with this id is pending"),
            },
            Input::Resolved { dial, ref results } => match self.links.dials.get(&dial) {
                Some(d) if d.resolving => self.on_resolved(dial, results),
                _ => self.ctx.ignore(&input, "no dial with this id is resolving"),
            },
            Input::ConnectionClosed { peer } => match self.drop_boot_conn(peer) {
                Some(conn) => self.on_boot_connection_closed(peer, conn),
                None => self.ctx.ignore(&input, "not a boot connection"),
            },
            Input::InboundConnection { peer, ref remote } => {
                self.on_inbound_connection(peer, remote.as_ref())
            }
            Input::ObservedAddr { peer, ref observed } => self.on_observed_addr(peer, observed),
            Input::Listening { ref addrs } => self.on_listening(addrs),
            Input::InboundProbeRequest { peer } => {
                if !self.links.conns.contains_key(&peer) {
                    return self.ctx.ignore(&input, "not from a boot peer we dialed");
                }
                self.ctx.counters.inbound_probes += 1;
                if self.bootstrapping() {
                    self.become_connected(peer, ConnectedBy::InboundProbeRequest);
                }
            }
            Input::AutonatV2Tested {
                server,
                ref addr,
                reachable,
            } => {
                if !self.links.conns.contains_key(&server) {
                    return self.ctx.ignore(&input, "not from a boot peer we dialed");
                }
                self.ctx.counters.v2_results += 1;
                self.on_v2_tested(server, addr, reachable);
            }
            Input::OwnProbeAnswered { probe, ref result } => {
                let awaited = |p: &mut OwnProbe| p.probe == probe && p.held_ok.is_none();
                match self
                    .prober
                    .own_probes
                    .iter_mut()
                    .find_map(|s| s.take_if(awaited))
                {
                    Some(p) => self.on_own_probe(p, result),
                    None => self
                        .ctx
                        .ignore(&input, "no dial-back request with this id is awaited"),
                }
            }
        }
    }

    pub(super) fn awaited_url(&self, request: RequestId) -> Option<usize> {
        match &self.life {
            Life::Bootstrapping(attempt) => attempt.awaited_url(request),
            _ => None,
        }
    }

    pub(super) fn on_http_response(&mut self, url: usize, status: u16, body: &[u8]) {
        let source = Source::Url(url);
        if !(200..300).contains(&status) {
            if let (true, Some(attempt)) = (is_permanent_http_status(status), self.attempt_mut()) {
                attempt.dead_urls.insert(url);
            }
            return self.fail_source(source, Failure::HttpStatus(status));
        }
        let options = ParseOptions {
            limits: self.ctx.config.limits,
            policy: self.ctx.config.policy,
            local_peer: self.ctx.config.local_peer,
            pinned: self.ctx.config.pinned.clone(),
            trust: Trust {
                keys: self.ctx.config.trusted.clone(),
                unix_time: self.ctx.unix_now(),
                sequences: self.ctx.sequences.clone(),
            },
        };
        match parse_status(body, &options) {
            Ok(list) => {
                self.ctx.counters.skipped.merge(&list.skipped);
                // A newer signed list raises the bar for every later document, in this run
                // and (through the state file) the next.
                if let Some(signed) = &list.signed_by {
                    if record_sequence(&mut self.ctx.sequences, signed) {
                        self.ctx.persist(&self.prober.nat.verdict);
                    }
                }
                self.ctx.report(Event::StatusFetched {
                    url: self.ctx.config.boot_urls[url].clone(),
                    peers: list.peers.len(),
                    addrs: list.addr_count(),
                    skipped: list.skipped,
                    signed: list.signed_by.clone(),
                });
                if let Life::Bootstrapping(attempt) = &mut self.life {
                    attempt.take_list(&self.ctx.config, list, source);
                }
            }
            Err(e) => {
                if let crate::status::StatusError::NoUsablePeer(skipped) = &e {
                    self.ctx.counters.skipped.merge(skipped);
                }
                self.fail_source(source, Failure::BadDocument(e));
            }
        }
    }

    pub(super) fn on_boot_connection(&mut self, dial: PendingDial, addr: Option<Multiaddr>) {
        let peer = dial.peer;
        self.ctx.counters.boot_connections += 1;
        let remote_ip = (addr.as_ref())
            .and_then(crate::addr::ip_and_tcp_port)
            .map(|(ip, _)| ip);
        let family = remote_ip.map_or(Family::Ipv4, Family::of_ip);
        let other_addrs = (dial.addrs.iter())
            .filter(|a| Family::of(a).is_some_and(|f| f != family))
            .take(verdict::MAX_OTHER_ADDRS)
            .cloned()
            .collect();
        // Prefer the address the connection used; else keep the dialed list for the cache.
        let addrs = match addr.clone() {
            Some(a) if dial.addrs.contains(&a) => vec![a],
            _ => dial.addrs,
        };
        self.links.conns.insert(
            peer,
            BootConn {
                remote_ip,
                other_ip: None,
                other_addrs,
                addrs,
                source: dial.source,
                probe_deadline: self.ctx.now + self.ctx.config.timeouts.inbound_probe,
                answered_ours: false,
                overdue: false,
            },
        );
        // A dial of the other family to this peer still under way now stands for the second
        // connection: not a candidate failing if it fails, kept past Connected.
        for d in self.links.dials.values_mut().filter(|d| d.peer == peer) {
            d.second_family = true;
        }
        self.ctx.report(Event::BootPeerConnected { peer, addr });
        self.probe_over_new_connection(peer, family);
        self.dial_other_family(peer);
        if let Some(attempt) = self.attempt_mut() {
            attempt.awaiting_probe();
        }
    }

    pub(super) fn on_boot_connection_closed(&mut self, peer: PeerId, conn: BootConn) {
        if let Life::Connected { boot_peer, .. } = &mut self.life {
            if self.links.conns.is_empty() {
                self.ctx.report(Event::Rebootstrapping);
                self.start_bootstrap();
            } else if *boot_peer == Some(peer) {
                // Still connected through another boot peer we dialed; report that one.
                *boot_peer = self.links.conns.keys().next().copied();
            }
        } else {
            self.note_dial_failure(conn.source, Failure::ConnectionLost { peer });
        }
    }

    pub(super) fn become_connected(&mut self, peer: PeerId, by: ConnectedBy) {
        let Life::Bootstrapping(attempt) = &self.life else {
            return;
        };
        let elapsed = self.ctx.now.saturating_duration_since(attempt.started);
        self.life = Life::Connected {
            boot_peer: Some(peer),
            round: attempt.round,
        };
        let observer = self.second_observer_dial(peer);
        for (dial, d) in std::mem::take(&mut self.links.dials) {
            if Some(dial) == observer || d.second_family {
                self.links.dials.insert(dial, d);
            } else {
                self.ctx.push(Action::CancelDial { dial });
            }
        }
        self.ctx.report(Event::Connected { peer, elapsed, by });
        if let Some(conn) = self.links.conns.get(&peer) {
            let cached = CachedPeer {
                peer: KnownPeer {
                    id: peer,
                    addrs: conn.addrs.clone(),
                },
                last_seen: self.ctx.unix_now(),
            };
            self.ctx.good_peers.retain(|p| p.peer.id != peer);
            self.ctx.good_peers.insert(0, cached);
            self.ctx.good_peers.truncate(self.ctx.config.max_good_peers);
        }
        self.ctx.persist(&self.prober.nat.verdict);
    }

    /// While the mapping is unknown and no boot connection goes to another IP than `peer`'s,
    /// the dial under way to a peer at another IP (if any) is kept past Connected: a second
    /// observer of our address is what shows the NAT's mapping.
    fn second_observer_dial(&self, peer: PeerId) -> Option<DialId> {
        if self.prober.behaviour.mapping != crate::nat::Mapping::Unknown {
            return None;
        }
        let here = self.links.conns.get(&peer).and_then(|c| c.remote_ip)?;
        let ip = |a: &Multiaddr| crate::addr::ip_and_tcp_port(a).map(|(ip, _)| ip);
        let observed_elsewhere = (self.links.conns.iter())
            .any(|(p, c)| *p != peer && c.remote_ip.is_some_and(|i| i != here));
        if observed_elsewhere {
            return None;
        }
        (self.links.dials.iter())
            .find(|(_, d)| {
                !d.resolving
                    && d.peer != peer
                    && d.addrs.iter().any(|a| ip(a).is_some_and(|i| i != here))
            })
            .map(|(id, _)| *id)
    }
}
