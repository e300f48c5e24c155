//! A nameserver the tests start on loopback: it answers TXT queries from a fixed zone over UDP
//! (NXDOMAIN for any other name), counts what it was asked, and stops when dropped. Written on
//! hickory-proto's message codec, on a thread of its own, so every runtime meets the same
//! server.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};

/// A running nameserver.
#[derive(Debug)]
pub struct Nameserver {
    /// Where it listens (`127.0.0.1:port`, UDP).
    pub addr: SocketAddr,
    /// Every name asked for, in order (lower case, with the trailing dot).
    pub asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Nameserver {
    /// Serves `zone`: each fully qualified name (`_dnsaddr.boot.test.`) with its TXT values.
    pub fn start(zone: &[(&str, Vec<String>)]) -> Nameserver {
        let zone: HashMap<String, Vec<String>> = zone
            .iter()
            .map(|(name, values)| (name.to_ascii_lowercase(), values.clone()))
            .collect();
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port on loopback");
        // Wakes up now and then to see whether it should stop.
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("bound");
        let (stop, asked) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let thread = {
            let (stop, asked) = (Arc::clone(&stop), Arc::clone(&asked));
            std::thread::spawn(move || serve(&socket, &zone, &stop, &asked))
        };
        Nameserver {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    /// The names asked for so far.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for Nameserver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    socket: &UdpSocket,
    zone: &HashMap<String, Vec<String>>,
    stop: &AtomicBool,
    asked: &Mutex<Vec<String>>,
) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue; // the read timeout
        };
        let Ok(query) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let Some(question) = query.queries.first().cloned() else {
            continue;
        };
        let name = question.name().to_ascii().to_ascii_lowercase();
        if let Ok(mut asked) = asked.lock() {
            asked.push(name.clone());
        }
        let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        reply.metadata.recursion_desired = query.metadata.recursion_desired;
        reply.add_query(question.clone());
        match zone.get(&name) {
            Some(values) if question.query_type() == RecordType::TXT => {
                for value in values {
                    reply.add_answer(Record::from_rdata(
                        question.name().clone(),
                        60,
                        RData::TXT(TXT::new(vec![value.clone()])),
                    ));
                }
            }
            Some(_) => {}
            None => reply.metadata.response_code = ResponseCode::NXDomain,
        }
        if let Ok(bytes) = reply.to_vec() {
            let _ = socket.send_to(&bytes, from);
        }
    }
}
