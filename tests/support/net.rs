//! Loopback sockets for the tests: listeners, free ports, and what reached them.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::Mutex;

/// A TCP listener on `address` (`127.0.0.1:0`: a port the kernel chooses), and its port.
pub fn tcp_listener(address: &str) -> (TcpListener, u16) {
    let l = TcpListener::bind(address).unwrap_or_else(|e| panic!("listen on {address}: {e}"));
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A TCP port on 127.0.0.1 that nothing listens on (chosen by the kernel, then released).
pub fn free_tcp_port() -> u16 {
    tcp_listener("127.0.0.1:0").1
}

/// A UDP port on 127.0.0.1 that nothing is bound to (chosen by the kernel, then released).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free on `ip` for TCP and UDP alike, never handed out twice by this test binary: bound
/// to port 0 here, then released for a program to take.
pub fn free_port(ip: IpAddr) -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..100 {
        let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| {
            panic!("cannot bind a TCP socket to {ip} (is the loopback interface up?): {e}")
        });
        let port = listener.local_addr().unwrap().port();
        let udp_free = UdpSocket::bind((ip, port)).is_ok();
        drop(listener);
        if udp_free && GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

/// True when no connection waits on `listener` (a refused connect never made the system call).
pub fn untouched(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => true,
        Ok(_) => false,
        Err(e) => panic!("accept: {e}"),
    }
}

/// Asserts that no connection reached `listener`; `context` (what the program showed) goes with
/// the failure.
pub fn assert_untouched(listener: &TcpListener, context: &str) {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!(
            "a connection from {peer} reached the protected {}\n{context}",
            listener.local_addr().unwrap()
        ),
        Err(e) => panic!("accept: {e}\n{context}"),
    }
}

/// The machine's host name, as the kernel has it (and as armr writes it in events).
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}
