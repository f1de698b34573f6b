//! The seccomp filter, as data: which system calls the kernel settles by itself and which it sends
//! to the supervisor (`SECCOMP_RET_USER_NOTIF`).
//!
//! The program is a list of classic BPF instructions over `struct seccomp_data`, built by
//! [`program`] and checked by running it through [`run`], a tiny interpreter of the few
//! instructions it uses (tests).

use libc::sock_filter;

/// `AUDIT_ARCH_X86_64`: the native ABI.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `__X32_SYSCALL_BIT`: the x32 ABI's system calls, on the x86-64 architecture.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg_low(n: u32) -> u32 {
    16 + 8 * n
}
const fn arg_high(n: u32) -> u32 {
    16 + 8 * n + 4
}

/// The x86-64 system calls the supervisor judges.
pub mod nr {
    pub const READ: u32 = 0;
    pub const RECVFROM: u32 = 45;
    pub const CONNECT: u32 = 42;
    pub const ACCEPT: u32 = 43;
    pub const SENDTO: u32 = 44;
    pub const SENDMSG: u32 = 46;
    pub const RECVMSG: u32 = 47;
    pub const BIND: u32 = 49;
    pub const LISTEN: u32 = 50;
    pub const ACCEPT4: u32 = 288;
    pub const RECVMMSG: u32 = 299;
    pub const SENDMMSG: u32 = 307;
    pub const IO_URING_SETUP: u32 = 425;
    pub const IO_URING_ENTER: u32 = 426;
    pub const IO_URING_REGISTER: u32 = 427;
}

/// The i386 system calls a 64-bit program can make with `int 0x80` that reach sockets:
/// `socketcall` (102), `recvmmsg` (337), `sendmmsg` (345), `socket` to `shutdown` (359 to 373),
/// and io_uring (425 to 427).
pub const I386_SOCKETCALL: u32 = 102;
const I386_RANGES: [(u32, u32); 5] = [
    (I386_SOCKETCALL, I386_SOCKETCALL),
    (337, 337),
    (345, 345),
    (359, 373),
    (425, 427),
];

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;

/// What the filter does with a call the supervisor cannot judge safely (io_uring, the i386 and
/// x32 ABIs): fails with `ENOSYS`, as on a kernel without the call, so that libraries and
/// runtimes that probe for them (liburing, Go, tokio) fall back to the ordinary calls.
pub const RET_ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

/// Which calls are sent to the supervisor.
#[derive(Clone, Copy, Debug, Default)]
pub struct Judged {
    /// The receive calls (`recvfrom`, `recvmsg`, `recvmmsg`, and `read`, which a program may
    /// call on a UDP socket): only when UDP accept rules need them.
    pub receives: bool,
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// `seccomp(2)` itself is not in the filter: a program's own listener
/// (`SECCOMP_FILTER_FLAG_NEW_LISTENER`) could otherwise answer `CONTINUE` ahead of armr's (among
/// equal actions, the filter installed last decides), but the kernel already refuses a second
/// listener in a filter tree with `EBUSY` (`seccomp(2)`, ERRORS; `has_duplicate_listener`), and
/// a filter without a listener cannot weaken armr's (`USER_NOTIF` outranks `ALLOW`, `LOG` and
/// `TRACE`; `ERRNO`, `TRAP` and `KILL` only fail the program's own call).
///
/// The filter program. Layout (each block ends in a return, so jumps only go forward):
///
/// 1. arch: x86-64 goes on; anything else (i386 `int 0x80`) to the i386 block.
/// 2. x86-64: an x32 call fails with ENOSYS; each judged call returns USER_NOTIF; `sendto`
///    without an address (args[4] == 0) is allowed; io_uring fails with ENOSYS; the rest is
///    allowed.
/// 3. i386: the socket calls and io_uring fail with ENOSYS; the rest is allowed.
pub fn program(judged: Judged) -> Vec<sock_filter> {
    let mut notified = vec![
        nr::CONNECT,
        nr::BIND,
        nr::LISTEN,
        nr::ACCEPT,
        nr::ACCEPT4,
        nr::SENDMSG,
        nr::SENDMMSG,
    ];
    if judged.receives {
        notified.extend([nr::RECVFROM, nr::RECVMSG, nr::RECVMMSG, nr::READ]);
    }
    let mut p = Vec::new();
    // The i386 block is at a distance known once the x86-64 block is built: patched below.
    p.push(stmt(LD_W_ABS, ARCH));
    let arch_jump = p.len();
    p.push(jump(JEQ_K, AUDIT_ARCH_X86_64, 0, 0));
    p.push(stmt(LD_W_ABS, NR));
    // x32: ENOSYS.
    p.push(jump(JSET_K, X32_SYSCALL_BIT, 0, 1));
    p.push(stmt(RET_K, RET_ENOSYS));
    for call in &notified {
        p.push(jump(JEQ_K, *call, 0, 1));
        p.push(stmt(RET_K, RET_USER_NOTIF));
    }
    // io_uring_setup, _enter, _register: ENOSYS.
    p.push(jump(JGE_K, nr::IO_URING_SETUP, 0, 2));
    p.push(jump(JGT_K, nr::IO_URING_REGISTER, 1, 0));
    p.push(stmt(RET_K, RET_ENOSYS));
    // sendto: judged only with an address (args[4], both halves).
    p.push(jump(JEQ_K, nr::SENDTO, 0, 5));
    p.push(stmt(LD_W_ABS, arg_low(4)));
    p.push(jump(JEQ_K, 0, 0, 2));
    p.push(stmt(LD_W_ABS, arg_high(4)));
    p.push(jump(JEQ_K, 0, 1, 0));
    p.push(stmt(RET_K, RET_USER_NOTIF));
    p.push(stmt(RET_K, RET_ALLOW));
    // i386.
    let i386 = p.len();
    p[arch_jump].jf = (i386 - arch_jump - 1) as u8;
    p.push(stmt(LD_W_ABS, NR));
    for (first, last) in I386_RANGES {
        if first == last {
            p.push(jump(JEQ_K, first, 0, 1));
        } else {
            p.push(jump(JGE_K, first, 0, 2));
            p.push(jump(JGT_K, last, 1, 0));
        }
        p.push(stmt(RET_K, RET_ENOSYS));
    }
    p.push(stmt(RET_K, RET_ALLOW));
    p
}

/// Runs `program` on a call as the kernel would (only the instructions [`program`] uses): the
/// filter's return value.
pub fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |offset: u32| -> u32 {
        match offset {
            NR => nr,
            ARCH => arch,
            o if (16..64).contains(&o) => {
                let arg = args[((o - 16) / 8) as usize];
                if o % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("offset {offset} not in seccomp_data"),
        }
    };
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = program[pc];
        pc += 1;
        let taken = match i.code {
            LD_W_ABS => {
                a = word(i.k);
                continue;
            }
            RET_K => return i.k,
            JA => {
                pc += i.k as usize;
                continue;
            }
            JEQ_K => a == i.k,
            JGE_K => a >= i.k,
            JGT_K => a > i.k,
            JSET_K => a & i.k != 0,
            code => panic!("instruction {code:#x} not interpreted"),
        };
        pc += usize::from(if taken { i.jt } else { i.jf });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I386: u32 = 0x4000_0003;

    #[test]
    fn judged_calls_notify_the_others_stay_in_the_kernel() {
        let p = program(Judged::default());
        let x64 = |nr, args| run(&p, AUDIT_ARCH_X86_64, nr, args);
        for call in [
            nr::CONNECT,
            nr::BIND,
            nr::LISTEN,
            nr::ACCEPT,
            nr::ACCEPT4,
            nr::SENDMSG,
            nr::SENDMMSG,
        ] {
            assert_eq!(x64(call, [0; 6]), RET_USER_NOTIF, "{call}");
        }
        // sendto: only with an address, whichever half of the pointer is set.
        assert_eq!(x64(nr::SENDTO, [3, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            x64(nr::SENDTO, [3, 0, 0, 0, 0x7ff0_1000, 16]),
            RET_USER_NOTIF
        );
        assert_eq!(x64(nr::SENDTO, [3, 0, 0, 0, 1 << 40, 16]), RET_USER_NOTIF);
        // Receives: only when asked.
        for call in [nr::RECVFROM, nr::RECVMSG, nr::RECVMMSG, nr::READ] {
            assert_eq!(x64(call, [0; 6]), RET_ALLOW);
            let with = program(Judged { receives: true });
            assert_eq!(run(&with, AUDIT_ARCH_X86_64, call, [0; 6]), RET_USER_NOTIF);
        }
        // io_uring: ENOSYS; its neighbours are allowed.
        for call in 425..=427 {
            assert_eq!(x64(call, [0; 6]), RET_ENOSYS, "{call}");
        }
        for call in [1, 41, 424, 428, 435, 317] {
            assert_eq!(x64(call, [0; 6]), RET_ALLOW, "{call}");
        }
        // x32: ENOSYS, connect or not.
        assert_eq!(x64(X32_SYSCALL_BIT | nr::CONNECT, [0; 6]), RET_ENOSYS);
        assert_eq!(x64(X32_SYSCALL_BIT | 1, [0; 6]), RET_ENOSYS);
    }

    #[test]
    fn the_i386_socket_calls_fail_with_enosys() {
        let p = program(Judged::default());
        for call in [102, 337, 345, 359, 362, 369, 373, 425, 427] {
            assert_eq!(run(&p, I386, call, [0; 6]), RET_ENOSYS, "{call}");
        }
        for call in [
            1, 3, 4, 11, 101, 103, 336, 338, 344, 346, 358, 374, 424, 428,
        ] {
            assert_eq!(run(&p, I386, call, [0; 6]), RET_ALLOW, "{call}");
        }
    }
}
