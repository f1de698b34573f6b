//! The receive calls (`recvfrom`, `recvmsg`, `recvmmsg`), in the filter only when the rules have
//! `accept` rules: a datagram an unconnected UDP socket receives is accepted from its sender, and
//! a refused sender's datagram is discarded, never reaching the program (the preload library's
//! `receive`). The receive is made on the program's behalf on the supervisor's copy of the
//! socket, into the supervisor's buffers, and what the kernel would have written (data, sender,
//! control data, flags, lengths) is written into the program's memory: a refused datagram is
//! never there. A blocking call waits (`calls::perform`) and goes on waiting after a refused datagram;
//! a non-blocking one (`O_NONBLOCK`, `MSG_DONTWAIT`) gets `EAGAIN` when nothing allowed is left.
//! Stream sockets and connected UDP sockets are received on behalf too, unjudged (the socket a
//! number names is the one the supervisor took, whatever another thread does to the number).
//!
//! `read` is in the filter with them: an IP socket's is a `recvfrom` without a sender's buffer,
//! made the same way; any other descriptor's is the kernel's (`CONTINUE`: every file read then
//! pays the round trip, under `accept` rules only). `readv` and the other calls that read a
//! socket without a sender are not (docs/engines.md).

use crate::address;
use crate::calls::{ADDRESS_MAX, CONTROL_MAX, Ctx, io_errno, last_errno, perform};
use crate::notify::Answer;
use armr::policy::EventKind;
use armr::verdict::Call;
use libc::{c_int, c_void};
use std::os::fd::{AsFd, AsRawFd};

/// The most messages one `recvmmsg` receives on a judged socket (the preload library's limit).
const MMSG_MAX: usize = 64;
/// The largest buffer a datagram needs (an IP datagram's payload is under 64 KiB).
const DATAGRAM_MAX: usize = 1 << 16;
/// The largest buffer of one receive on a stream socket: a stream receive may return less than
/// asked, and the supervisor's buffers stay small.
const STREAM_MAX: usize = 256 << 10;

/// The supervisor's buffer for a receive into `room` bytes of the program's (`MSG_WAITALL` on a
/// stream asks for all of them: up to the most one call copies).
fn buffer_room(ctx: &Ctx<'_>, room: usize, flags: c_int) -> usize {
    if room <= DATAGRAM_MAX {
        // Whatever the socket's type (no SO_TYPE asked).
        room
    } else if ctx.kind() == libc::SOCK_STREAM && flags & libc::MSG_WAITALL != 0 {
        room.min(crate::calls::DATA_MAX)
    } else if ctx.kind() == libc::SOCK_STREAM {
        room.min(STREAM_MAX)
    } else {
        room.min(DATAGRAM_MAX)
    }
}

/// True when the socket's datagrams are judged: an unconnected datagram socket, under `accept`
/// rules.
fn judged(ctx: &Ctx<'_>) -> bool {
    if !ctx.has_rules(EventKind::Accept) || ctx.kind() != libc::SOCK_DGRAM {
        return false;
    }
    let mut buf = [0u8; ADDRESS_MAX];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is writable for len bytes.
    unsafe { libc::getpeername(ctx.socket.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) != 0 }
}

fn blocking(ctx: &Ctx<'_>, flags: c_int) -> bool {
    flags & libc::MSG_DONTWAIT == 0 && !ctx.non_blocking()
}

/// One message as received by the supervisor.
struct Received {
    /// The call's result (with `MSG_TRUNC`, the datagram's full length).
    result: isize,
    data: Vec<u8>,
    /// The sender, as many bytes as the kernel gave, and its full length.
    name: Vec<u8>,
    name_len: usize,
    control: Vec<u8>,
    flags: c_int,
}

/// Receives one message allowed by the rules into buffers of `room` data and `control_room`
/// control bytes: a refused sender's datagram is discarded (consumed, even when peeking) and
/// the next one received.
fn receive_one(
    ctx: &Ctx<'_>,
    room: usize,
    control_room: usize,
    flags: c_int,
    judged: bool,
) -> Result<Received, c_int> {
    loop {
        let mut data = vec![0u8; room];
        let mut name = [0u8; ADDRESS_MAX];
        let mut control = vec![0u8; control_room];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast::<c_void>(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero msghdr is valid; the buffers outlive the call.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = name.as_mut_ptr().cast();
        hdr.msg_namelen = name.len() as libc::socklen_t;
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        if control_room > 0 {
            hdr.msg_control = control.as_mut_ptr().cast();
            hdr.msg_controllen = control_room;
        }
        // SAFETY: hdr describes buffers of the supervisor's.
        let r = unsafe { libc::recvmsg(ctx.socket.as_raw_fd(), &mut hdr, flags) };
        if r < 0 {
            return Err(last_errno());
        }
        let name_len = hdr.msg_namelen as usize;
        let name = name[..name_len.min(ADDRESS_MAX)].to_vec();
        if judged
            && let Some(sender) = address::decode(&name)
            && ctx.judge(Call::Datagram, sender).is_some()
        {
            if flags & libc::MSG_PEEK != 0 {
                // Peeked: take it off the queue.
                // SAFETY: a zero-length receive on the supervisor's copy.
                unsafe {
                    libc::recv(
                        ctx.socket.as_raw_fd(),
                        std::ptr::null_mut(),
                        0,
                        libc::MSG_DONTWAIT,
                    )
                };
            }
            continue;
        }
        control.truncate(hdr.msg_controllen);
        data.truncate((r as usize).min(room));
        return Ok(Received {
            result: r,
            data,
            name,
            name_len,
            control,
            flags: hdr.msg_flags,
        });
    }
}

/// Writes `bytes` into the program's buffers (`iovecs`, in order).
fn scatter(ctx: &Ctx<'_>, iovecs: &[(u64, usize)], mut bytes: &[u8]) -> Result<(), c_int> {
    for &(base, len) in iovecs {
        if bytes.is_empty() {
            break;
        }
        let n = len.min(bytes.len());
        ctx.target
            .write(base, &bytes[..n])
            .map_err(|e| io_errno(&e))?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// `recvfrom(fd, buf, len, flags, src_addr, addrlen)`.
pub(crate) fn recvfrom(ctx: Ctx<'_>) -> Option<Answer> {
    let [_, buf, len, flags, src, lenp] = ctx.n.args;
    let flags = flags as c_int;
    let room = buffer_room(&ctx, len as usize, flags);
    // The room for the sender: read now, checked after the receive (the kernel takes the
    // datagram, then fails on a bad length).
    let name_room = if src == 0 {
        None
    } else if lenp == 0 {
        Some(Err(libc::EFAULT))
    } else {
        Some(match ctx.target.read_value::<i32>(lenp) {
            Ok(n) if n < 0 => Err(libc::EINVAL),
            Ok(n) => Ok(n as usize),
            Err(e) => Err(io_errno(&e)),
        })
    };
    if !ctx.valid() {
        return None;
    }
    let judged = judged(&ctx);
    let blocking = blocking(&ctx, flags);
    perform(ctx, blocking, move |ctx| {
        let received = match receive_one(ctx, room, 0, flags, judged) {
            Ok(received) => received,
            Err(errno) => return Answer::Error(errno),
        };
        if let Err(errno) = scatter(ctx, &[(buf, room)], &received.data) {
            return Answer::Error(errno);
        }
        match name_room {
            None => {}
            Some(Err(errno)) => return Answer::Error(errno),
            Some(Ok(name_room)) => {
                let name = &received.name[..received.name.len().min(name_room)];
                let written = ctx
                    .target
                    .write(src, name)
                    .and_then(|()| ctx.target.write_value(lenp, &(received.name_len as i32)));
                if written.is_err() {
                    return Answer::Error(libc::EFAULT);
                }
            }
        }
        Answer::Value(received.result as i64)
    })
}

/// The program's `msghdr` for a receive: where its data, sender and control data go.
#[derive(Clone)]
struct Slots {
    at: u64,
    name: u64,
    name_room: usize,
    iovecs: Vec<(u64, usize)>,
    room: usize,
    control: u64,
    control_room: usize,
}

impl Slots {
    fn read(ctx: &Ctx<'_>, at: u64, flags: c_int) -> Result<Slots, c_int> {
        let hdr: libc::msghdr = ctx.target.read_value(at).map_err(|e| io_errno(&e))?;
        let name_room = hdr.msg_namelen as i32;
        if name_room < 0 {
            return Err(libc::EINVAL);
        }
        if hdr.msg_iovlen > crate::calls::UIO_MAXIOV {
            return Err(libc::EMSGSIZE);
        }
        let iovecs: Vec<(u64, usize)> = if hdr.msg_iovlen == 0 {
            Vec::new()
        } else {
            let size = std::mem::size_of::<libc::iovec>();
            ctx.read(hdr.msg_iov as u64, hdr.msg_iovlen * size)?
                .chunks_exact(size)
                .map(|c| {
                    // SAFETY: c holds one iovec's bytes.
                    let v = unsafe { c.as_ptr().cast::<libc::iovec>().read_unaligned() };
                    (v.iov_base as u64, v.iov_len)
                })
                .collect()
        };
        let room = buffer_room(
            ctx,
            iovecs
                .iter()
                .fold(0usize, |sum, &(_, len)| sum.saturating_add(len)),
            flags,
        );
        Ok(Slots {
            at,
            name: if hdr.msg_name.is_null() {
                0
            } else {
                hdr.msg_name as u64
            },
            name_room: name_room as usize,
            iovecs,
            room,
            control: if hdr.msg_control.is_null() {
                0
            } else {
                hdr.msg_control as u64
            },
            control_room: if hdr.msg_control.is_null() {
                0
            } else {
                hdr.msg_controllen.min(CONTROL_MAX)
            },
        })
    }

    /// Writes what the kernel writes of a received message into the program's `msghdr`.
    fn write(&self, ctx: &Ctx<'_>, received: &Received) -> Result<(), c_int> {
        scatter(ctx, &self.iovecs, &received.data)?;
        let field = |offset: usize| self.at + offset as u64;
        let t = &ctx.target;
        let fault = |_| libc::EFAULT;
        if self.name != 0 {
            let name = &received.name[..received.name.len().min(self.name_room)];
            t.write(self.name, name).map_err(fault)?;
            t.write_value(
                field(std::mem::offset_of!(libc::msghdr, msg_namelen)),
                &(received.name_len as libc::socklen_t),
            )
            .map_err(fault)?;
        } else {
            t.write_value(
                field(std::mem::offset_of!(libc::msghdr, msg_namelen)),
                &(0 as libc::socklen_t),
            )
            .map_err(fault)?;
        }
        if self.control != 0 {
            t.write(self.control, &received.control).map_err(fault)?;
        }
        t.write_value(
            field(std::mem::offset_of!(libc::msghdr, msg_controllen)),
            &received.control.len(),
        )
        .map_err(fault)?;
        t.write_value(
            field(std::mem::offset_of!(libc::msghdr, msg_flags)),
            &received.flags,
        )
        .map_err(fault)?;
        Ok(())
    }
}

/// `recvmsg(fd, msg, flags)`.
pub(crate) fn recvmsg(ctx: Ctx<'_>) -> Option<Answer> {
    let flags = ctx.n.args[2] as c_int;
    let into = match Slots::read(&ctx, ctx.n.args[1], flags) {
        Ok(into) => into,
        Err(errno) => return Some(Answer::Error(errno)),
    };
    if !ctx.valid() {
        return None;
    }
    let judged = judged(&ctx);
    let blocking = blocking(&ctx, flags);
    perform(ctx, blocking, move |ctx| {
        match receive_one(ctx, into.room, into.control_room, flags, judged) {
            Ok(received) => match into.write(ctx, &received) {
                Ok(()) => Answer::Value(received.result as i64),
                Err(errno) => Answer::Error(errno),
            },
            Err(errno) => Answer::Error(errno),
        }
    })
}

/// `recvmmsg(fd, msgvec, vlen, flags, timeout)`: the first message as `recvmsg` receives it
/// (waiting unless non-blocking), then, with `MSG_WAITFORONE`, the ones already there; without
/// it, the rest waiting until `vlen` messages or the timeout, as the kernel does (the timeout
/// is checked between messages). At most 64 messages per call; each with its `msg_len`.
pub(crate) fn recvmmsg(ctx: Ctx<'_>) -> Option<Answer> {
    let [_, at, vlen, flags, timeout, _] = ctx.n.args;
    let flags = flags as c_int;
    const MMSG: usize = std::mem::size_of::<libc::mmsghdr>();
    let count = (vlen as u32 as usize).min(MMSG_MAX);
    let mut intos = Vec::with_capacity(count);
    for i in 0..count {
        match Slots::read(&ctx, at + (i * MMSG) as u64, flags) {
            Ok(into) => intos.push(into),
            Err(errno) if i == 0 => return Some(Answer::Error(errno)),
            Err(_) => break,
        }
    }
    let deadline = if timeout == 0 {
        None
    } else {
        match ctx.target.read_value::<libc::timespec>(timeout) {
            Ok(t) if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) => {
                return Some(Answer::Error(libc::EINVAL));
            }
            Ok(t) => Some(
                std::time::Instant::now()
                    + std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32),
            ),
            Err(e) => return Some(Answer::Error(io_errno(&e))),
        }
    };
    if !ctx.valid() {
        return None;
    }
    if intos.is_empty() {
        return Some(Answer::Value(0));
    }
    let judged = judged(&ctx);
    let blocking = blocking(&ctx, flags);
    let first_flags = flags & !libc::MSG_WAITFORONE;
    perform(ctx, blocking, move |ctx| {
        let mut done = 0usize;
        for (i, into) in intos.iter().enumerate() {
            let mut this = first_flags;
            if i > 0 {
                if flags & libc::MSG_WAITFORONE != 0 || !blocking {
                    this |= libc::MSG_DONTWAIT;
                } else if let Some(deadline) = deadline {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    let mut p = libc::pollfd {
                        fd: ctx.socket.as_fd().as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: p is a valid pollfd.
                    if left.is_zero()
                        || unsafe { libc::poll(&mut p, 1, left.as_millis() as c_int) } <= 0
                    {
                        break;
                    }
                }
            }
            let received = match receive_one(ctx, into.room, into.control_room, this, judged) {
                Ok(received) => received,
                Err(errno) if i == 0 => return Answer::Error(errno),
                Err(_) => break,
            };
            if let Err(errno) = into.write(ctx, &received) {
                if i == 0 {
                    return Answer::Error(errno);
                }
                break;
            }
            let len_at = at + (i * MMSG + std::mem::offset_of!(libc::mmsghdr, msg_len)) as u64;
            let _ = ctx.target.write_value(len_at, &(received.result as u32));
            done += 1;
        }
        Answer::Value(done as i64)
    })
}
