//! Fake name resolution for the tests: a DNS server on a loopback address, and a private
//! `/etc` (hosts, resolv.conf, nsswitch.conf) for a program in a mount namespace of its own, so
//! that it resolves exactly as users' programs do, through the real files. Needs root (port 53,
//! mounting), as the test machine runs them.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, sleep};
use std::time::Duration;

use super::without_armr_env;

/// The address every A query is answered with.
pub const ANSWER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 99);
/// The name every PTR query is answered with.
pub const PTR_ANSWER: &str = "ptr-answer.test";

/// A DNS server on `ip`:53, UDP and TCP, answering every A query with [`ANSWER`], every PTR
/// query with [`PTR_ANSWER`], anything else with no record. It keeps every query it received.
pub struct FakeDns {
    pub ip: IpAddr,
    queries: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeDns {
    pub fn start(ip: impl Into<IpAddr>) -> FakeDns {
        let ip = ip.into();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let udp = UdpSocket::bind((ip, 53))
            .unwrap_or_else(|e| panic!("bind {ip}:53/udp ({e}): these tests run as root"));
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let tcp = TcpListener::bind((ip, 53))
            .unwrap_or_else(|e| panic!("bind {ip}:53/tcp ({e}): these tests run as root"));
        tcp.set_nonblocking(true).unwrap();
        let mut threads = Vec::new();
        {
            let (queries, stop) = (queries.clone(), stop.clone());
            threads.push(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Some((name, reply)) = answer(&buf[..n]) {
                        queries.lock().unwrap().push(format!("udp {name}"));
                        let _ = udp.send_to(&reply, peer);
                    }
                }
            }));
        }
        {
            let (queries, stop) = (queries.clone(), stop.clone());
            threads.push(thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match tcp.accept() {
                        Ok((conn, _)) => serve_tcp(conn, &queries),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            sleep(Duration::from_millis(10))
                        }
                        Err(_) => {}
                    }
                }
            }));
        }
        FakeDns {
            ip,
            queries,
            stop,
            threads,
        }
    }

    /// The queries received so far: `udp NAME TYPE` or `tcp NAME TYPE`.
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Answers the length-prefixed queries of one TCP connection until it closes.
fn serve_tcp(mut conn: TcpStream, queries: &Mutex<Vec<String>>) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    loop {
        let mut len = [0u8; 2];
        if conn.read_exact(&mut len).is_err() {
            return;
        }
        let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
        if conn.read_exact(&mut message).is_err() {
            return;
        }
        let Some((name, reply)) = answer(&message) else {
            return;
        };
        queries.lock().unwrap().push(format!("tcp {name}"));
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if conn.write_all(&framed).is_err() {
            return;
        }
    }
}

/// The question of a query (`NAME TYPE`) and the reply to it.
fn answer(query: &[u8]) -> Option<(String, Vec<u8>)> {
    if query.len() < 12 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).into_owned());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question_end = at + 4;
    query.get(..question_end)?;
    let name = labels.join(".");
    let mut reply = query[..question_end].to_vec();
    reply[2] = 0x81; // QR, RD
    reply[3] = 0x80; // RA, NOERROR
    reply[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let record = |rtype: u16, data: &[u8]| {
        let mut r = vec![0xc0, 0x0c];
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(data);
        r
    };
    let rdata = match qtype {
        1 => Some(record(1, &ANSWER.octets())),
        12 => {
            let mut encoded = Vec::new();
            for label in PTR_ANSWER.split('.') {
                encoded.push(label.len() as u8);
                encoded.extend_from_slice(label.as_bytes());
            }
            encoded.push(0);
            Some(record(12, &encoded))
        }
        _ => None,
    };
    if let Some(rdata) = rdata {
        reply[7] = 1; // ANCOUNT
        reply.extend_from_slice(&rdata);
    }
    let kind = match qtype {
        1 => "A".to_string(),
        28 => "AAAA".to_string(),
        12 => "PTR".to_string(),
        other => other.to_string(),
    };
    Some((format!("{name} {kind}"), reply))
}

/// `unshare --mount ... sh` that bind-mounts `hosts`, `resolv` and `nsswitch` on /etc/hosts,
/// /etc/resolv.conf and /etc/nsswitch.conf in a mount namespace of its own, then runs the
/// arguments added to the command (armr's environment removed: the caller sets what it means to).
/// Only the program is meant to be preloaded (`env LD_PRELOAD=... PROGRAM`), not `unshare`, `sh`
/// and `mount` before it.
pub fn with_private_etc(hosts: &Path, resolv: &Path, nsswitch: &Path) -> Command {
    let mut command = Command::new("unshare");
    without_armr_env(&mut command);
    command.args(["--mount", "--propagation", "private", "sh", "-ec"]);
    command.arg(
        "mount --bind \"$1\" /etc/hosts; mount --bind \"$2\" /etc/resolv.conf; \
         mount --bind \"$3\" /etc/nsswitch.conf; shift 3; exec \"$@\"",
    );
    command.arg("sh").args([hosts, resolv, nsswitch]);
    command
}
