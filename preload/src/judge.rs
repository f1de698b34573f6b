//! Asks the decision core (`armr_core::verdict`) about a decoded call and carries the verdict out:
//! the event it names is logged, and its refusal is handed back for the hook to enforce.
//!
//! What is the process's own stays here: ranking the rules under the process's constraints (the
//! common IPv4 lookup in line and without `catch_unwind`; a kind's hostnames resolved once, under
//! the guard with signals held, while a fork waits) and writing the event. What to do with a call
//! is the core's.

use crate::state::{self, State};
use crate::{errno, log};
use armr_core::policy::{EventKind, Rank};
use armr_core::verdict::{self, Call, Logged, Refusal, Transport, Verdict};
use libc::c_int;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

/// Says once per process that armr failed inside a call, and what it did about it.
pub(crate) fn internal_error(what: &str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        state::say(&format!(
            "armr: internal error while {what}; the program goes on (reported once)\n"
        ));
    }
}

/// The policy, when armr is active and this call is not armr's own (the guard is taken only
/// around armr's own work: see `guard`).
pub(crate) fn active() -> Option<&'static State> {
    if crate::guard::inside() {
        return None;
    }
    // A second since the last look at the rules: looked at again, out of line (`reload`).
    if crate::reload::due() {
        crate::reload::check();
    }
    state::get()
}

/// The rank of the rule deciding an event ([`Rank::NONE`]: no rule), or an IPv4 lookup to
/// finish ([`Rank::resumes`]: see [`rank_v4`]). An internal failure (a panic) decides nothing:
/// the call proceeds. No guard, so that a signal handler interrupting this is judged too, except
/// while a kind's hostnames resolve (see `rank_resolving`). IPv4, the common case, and IPv6 are
/// passed to the policy as numbers.
#[inline(always)]
fn rank(state: &State, kind: EventKind, address: SocketAddr) -> Rank {
    if state.policy.has_hostnames(kind) {
        return rank_resolving(state, kind, address);
    }
    match address {
        SocketAddr::V4(a) => rank_v4(state, kind, a.ip().to_bits(), a.port()),
        SocketAddr::V6(_) => rank_v6(state, kind, &address),
    }
}

/// An IPv6 address neither IPv4-mapped nor unspecified goes to the policy as a number, without
/// `catch_unwind` (its lookup, without hostnames, cannot panic); the others are normalised by
/// `best_rank`. Out of line, as `rank_other` was, so that IPv4's callers keep their size.
#[inline(never)]
fn rank_v6(state: &State, kind: EventKind, address: &SocketAddr) -> Rank {
    let SocketAddr::V6(a) = address else {
        return rank_other(state, kind, address);
    };
    let ip = a.ip().to_bits();
    if ip >> 32 == 0xffff || ip == 0 {
        return rank_other(state, kind, address);
    }
    state.policy.best_rank_v6(kind, ip, a.port())
}

/// The rank a [`rank`] stands for: the IPv4 lookup it left finished, if any. Called where the
/// rank is not silent: a lookup to finish never is.
#[inline(always)]
fn finished(state: &State, kind: EventKind, rank: Rank, port: u16) -> Rank {
    state.policy.finish_rank_v4(kind, rank, port)
}

/// The common lookup cannot panic and is taken in line; the rest is out of line. For an
/// address in a chain of blocks it answers a lookup to finish ([`Rank::resumes`]), which is
/// not silent: callers finish it ([`finished`]) after their test for a silent rank, so that
/// the common path does not pay for it.
#[inline(always)]
pub(crate) fn rank_v4(state: &State, kind: EventKind, ip: u32, port: u16) -> Rank {
    match state.policy.quick_rank_v4(kind, ip, port) {
        Some(rank) => rank,
        None => rank_v4_in_full(state, kind, ip, port),
    }
}

#[inline(never)]
fn rank_v4_in_full(state: &State, kind: EventKind, ip: u32, port: u16) -> Rank {
    catch_unwind(AssertUnwindSafe(|| {
        state.policy.best_rank_v4(kind, ip, port)
    }))
    .unwrap_or_else(|_| judging_failed())
}

#[inline(never)]
fn rank_other(state: &State, kind: EventKind, address: &SocketAddr) -> Rank {
    catch_unwind(AssertUnwindSafe(|| state.policy.best_rank(kind, *address)))
        .unwrap_or_else(|_| judging_failed())
}

#[cold]
fn judging_failed() -> Rank {
    internal_error("judging a socket call: the call was forwarded");
    Rank::NONE
}

/// `rank` for a kind whose rules name hosts (other than `localhost`, never resolved). Its first
/// decision resolves all the kind's names (once per process and kind; the policy keeps them)
/// under [`Held`](crate::guard::Held), the guard with this thread's signals held: armr's own
/// socket calls pass through the hooks, and no handler runs meanwhile; one that arrives runs when
/// the resolving ends, and is judged. The resolving ends within one resolver timeout however many
/// names there are (`resolving`: the hosts file read once, helper threads inside the guard for
/// the rest, one deadline). A fork waits for it to end (`forking`). Once the names are resolved,
/// a decision makes no system call and is taken without the guard, like any other.
#[cold]
#[inline(never)]
fn rank_resolving(state: &State, kind: EventKind, address: SocketAddr) -> Rank {
    if state.policy.hostnames_resolved(kind) {
        return rank_other(state, kind, &address);
    }
    let Some(_held) = crate::guard::Held::enter() else {
        return Rank::NONE;
    };
    let _resolving = crate::forking::Resolving::enter();
    let saved = errno::get();
    let rank = rank_other(state, kind, &address);
    // Every name of the kind, whatever this address needed (a bind to the unspecified address
    // looks up no name): later decisions resolve nothing.
    let _ = catch_unwind(AssertUnwindSafe(|| state.policy.resolved_names(kind).len()));
    errno::set(saved);
    rank
}

/// The verdict on `call` at `address`, not yet carried out (for a caller that logs later, or
/// only when the call goes on: see [`carry_out`]).
#[inline(always)]
pub(crate) fn verdict(state: &State, call: Call, address: SocketAddr) -> Verdict {
    let kind = call.kind(address.port());
    let rank = finished(state, kind, rank(state, kind, address), address.port());
    Verdict::of(&state.policy, call, rank, address)
}

/// Logs the event the verdict names, and hands back its refusal. A failure to log never turns
/// a refusal into a forward.
pub(crate) fn carry_out(state: &State, verdict: &Verdict) -> Option<Refusal> {
    if let Some(event) = &verdict.event {
        log_event(state, event);
    }
    verdict.refusal()
}

/// Writes an event (errno kept; a panic loses the event, never the decision).
#[cold]
#[inline(never)]
pub(crate) fn log_event(state: &State, event: &Logged) {
    let saved = errno::get();
    if catch_unwind(AssertUnwindSafe(|| log::write(state, event))).is_err() {
        internal_error("logging an event: the event was lost, the decision stands");
    }
    errno::set(saved);
}

/// The refusal of `call` at `address`, the verdict carried out (its event logged). The common
/// answers, no matching rule and a silent `allow()`, take the fewest steps; any other rule is
/// handled out of line.
#[inline(always)]
pub(crate) fn refusal(state: &State, call: Call, address: SocketAddr) -> Option<Refusal> {
    refusal_of(state, call, call.kind(address.port()), address)
}

/// [`refusal`] of a call on the socket `fd`, whose type an event names when the call does not
/// imply it (`connect`: TCP or UDP).
#[inline(always)]
pub(crate) fn refusal_on(
    state: &State,
    fd: c_int,
    call: Call,
    address: SocketAddr,
) -> Option<Refusal> {
    refusal_in(state, fd, call, call.kind(address.port()), address)
}

/// [`refusal`] for a caller that has the call's kind at hand (`call.kind(address.port())`).
#[inline(always)]
pub(crate) fn refusal_of(
    state: &State,
    call: Call,
    kind: EventKind,
    address: SocketAddr,
) -> Option<Refusal> {
    refusal_in(state, -1, call, kind, address)
}

/// [`refusal_of`] of a call on `fd` (-1: none the event needs).
#[inline(always)]
fn refusal_in(
    state: &State,
    fd: c_int,
    call: Call,
    kind: EventKind,
    address: SocketAddr,
) -> Option<Refusal> {
    debug_assert_eq!(kind, call.kind(address.port()));
    let rank = rank(state, kind, address);
    if verdict::is_silent(rank) {
        return None;
    }
    decided(state, fd, call, kind, rank, address)
}

/// [`refusal`] for an IPv4 address given as numbers, ranked by the caller: the address is built
/// only for a rule that has something to do (not for no rule, nor for a silent `allow()`), and
/// out of line, so that the caller's frame lends nothing to another function and its last call,
/// forwarding to libc, stays a tail call.
#[inline(always)]
pub(crate) fn refusal_v4(
    state: &State,
    fd: c_int,
    call: Call,
    rank: Rank,
    ip: u32,
    port: u16,
) -> Option<Refusal> {
    if verdict::is_silent(rank) {
        return None;
    }
    // A lookup to finish, finished here: one that ends silent costs no frame.
    let rank = finished(state, call.kind(port), rank, port);
    if verdict::is_silent(rank) {
        return None;
    }
    decided_v4(state, fd, call, rank, ip, port)
}

/// A rank that is not silent: its verdict, carried out.
#[inline(never)]
fn decided_v4(
    state: &State,
    fd: c_int,
    call: Call,
    rank: Rank,
    ip: u32,
    port: u16,
) -> Option<Refusal> {
    carried_out(
        state,
        fd,
        call,
        rank,
        SocketAddr::from((ip.to_be_bytes(), port)),
    )
}

/// [`decided_v4`] for an address of any family.
#[inline(never)]
fn decided(
    state: &State,
    fd: c_int,
    call: Call,
    kind: EventKind,
    rank: Rank,
    address: SocketAddr,
) -> Option<Refusal> {
    let rank = finished(state, kind, rank, address.port());
    if verdict::is_silent(rank) {
        return None;
    }
    carried_out(state, fd, call, rank, address)
}

/// The verdict of a rule that has something to do, carried out.
#[inline(never)]
fn carried_out(
    state: &State,
    fd: c_int,
    call: Call,
    rank: Rank,
    address: SocketAddr,
) -> Option<Refusal> {
    let mut verdict = Verdict::of(&state.policy, call, rank, address);
    on_socket(&mut verdict, fd);
    carry_out(state, &verdict)
}

/// The event of a verdict on a call on `fd` (-1: none) names the socket's transport when the
/// call does not imply it: the type armr's table holds, or the kernel's answer (once).
pub(crate) fn on_socket(verdict: &mut Verdict, fd: c_int) {
    if let Some(event) = &mut verdict.event
        && event.transport.is_none()
        && fd >= 0
    {
        event.transport = crate::receive::socket_type(fd).and_then(Transport::of_socket_type);
    }
}
