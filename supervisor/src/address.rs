//! What the supervisor asks a socket (its copy of the program's descriptor) about itself, and the
//! addresses it decodes from its copy of the program's bytes: the decoding and the kernel's
//! choice of destination are the core's (`armr::address`), shared with the preload library.

use libc::{c_int, socklen_t};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

pub use armr::address::{Via, decode, decode_unspec_as_v4, family, is_unspecified};

fn option(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: value is a writable int and len its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(value)
}

/// The socket's family (`SO_DOMAIN`); `Err(errno)` when it is not a socket (`ENOTSOCK`).
pub fn domain(fd: BorrowedFd<'_>) -> Result<c_int, c_int> {
    option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).ok_or_else(|| {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOTSOCK)
    })
}

/// The socket's cookie (`SO_COOKIE`): a number the kernel gives it for good, never another
/// socket's (unlike its inode number). `Err(errno)` when it is not a socket (`ENOTSOCK`).
pub fn cookie(fd: BorrowedFd<'_>) -> Result<u64, c_int> {
    let mut value: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as socklen_t;
    // SAFETY: value is a writable u64 and len its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut value as *mut u64).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOTSOCK));
    }
    Ok(value)
}

/// The socket's type (`SOCK_STREAM`, `SOCK_DGRAM`, ...).
pub fn kind(fd: BorrowedFd<'_>) -> Option<c_int> {
    option(fd, libc::SOL_SOCKET, libc::SO_TYPE)
}

/// True when the open file is non-blocking (`O_NONBLOCK`, shared with the program's descriptor).
pub fn non_blocking(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: plain fcntl.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

fn ask(
    fd: BorrowedFd<'_>,
    query: unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut socklen_t) -> c_int,
) -> Option<(SocketAddr, Vec<u8>)> {
    let mut buf = [0u8; 128];
    let mut len = buf.len() as socklen_t;
    // SAFETY: buf is writable for len bytes.
    if unsafe { query(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) } != 0 {
        return None;
    }
    let bytes = &buf[..(len as usize).min(buf.len())];
    decode(bytes).map(|a| (a, bytes.to_vec()))
}

/// The socket's local address, when IPv4 or IPv6.
pub fn local(fd: BorrowedFd<'_>) -> Option<SocketAddr> {
    ask(fd, libc::getsockname).map(|(a, _)| a)
}

/// The local address of a TCP socket the program bound itself and has not connected (state
/// CLOSE with a local address): what `bind(client:)` rules judge at `connect`.
pub fn explicit_client_bind(fd: BorrowedFd<'_>) -> Option<SocketAddr> {
    let local = local(fd)?;
    if local.port() == 0 && local.ip().is_unspecified() {
        return None;
    }
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as socklen_t;
    const TCP_CLOSE: u8 = 7;
    // SAFETY: info is writable for len bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0 && info.tcpi_state == TCP_CLOSE).then_some(local)
}

/// How the address reaches the kernel.
/// Where a connect or datagram to the unspecified `address` goes from `fd`, as the kernel
/// decides it (`armr::address::of_unspecified`, as under the preload library).
pub fn of_unspecified(fd: BorrowedFd<'_>, address: SocketAddr, via: Via) -> SocketAddr {
    armr::address::of_unspecified(address, via, || local(fd))
}
