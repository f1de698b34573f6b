//! The native call stack of an intercepted call, for rules with `stacktrace: "full"`.
//!
//! Frames are `function (module+offset)`, innermost first, with the symbol name where the module
//! exports one (`??` otherwise); frames inside armr itself are left out.
//!
//! A stack is taken inside a hook, maybe in a signal handler that landed while the program was in
//! `malloc`: it must neither allocate nor load a library. glibc's `backtrace` loads libgcc_s with
//! `dlopen` (which allocates) on its first call; armr instead calls the unwinder linked into
//! libarmr.so itself (libgcc_eh, see preload/build.rs), which walks the stack from each module's
//! `.eh_frame_hdr` (found with `dl_iterate_phdr`) into a stack array, allocating nothing. Names
//! come from `dladdr`, which allocates nothing either. [`prepare`] runs the unwinder's one-time
//! set-up when the rules are loaded, outside any hook.

use armr_core::event::LineBuffer;
use libc::{c_int, c_void};
use std::fmt::Write;

/// `_Unwind_Reason_Code` values the walk uses.
const URC_NO_REASON: c_int = 0;
const URC_END_OF_STACK: c_int = 5;

type TraceFn = extern "C" fn(context: *mut c_void, arg: *mut c_void) -> c_int;

unsafe extern "C" {
    /// libgcc_eh's unwinder, linked into libarmr.so (its symbols are hidden: the program's own
    /// unwinder is another copy).
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(context: *mut c_void) -> usize;
}

const MAX_FRAMES: usize = 64;

/// The base address of the module holding `address`, and what `dladdr` knows of it.
fn lookup(address: *const c_void) -> Option<libc::Dl_info> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: info is writable; dladdr accepts any address.
    (unsafe { libc::dladdr(address, &mut info) } != 0).then_some(info)
}

fn c_text(p: *const libc::c_char) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: dladdr's strings are NUL-terminated and live as long as the module.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_str().ok()
}

/// The return addresses of a walk, innermost first.
struct Frames {
    pcs: [usize; MAX_FRAMES],
    len: usize,
}

/// Called by the unwinder for each frame: keeps its address, stops when full. Never panics.
extern "C" fn one_frame(context: *mut c_void, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the `Frames` that `walk` passed; context is the unwinder's.
    let frames = unsafe { &mut *arg.cast::<Frames>() };
    let pc = unsafe { _Unwind_GetIP(context) };
    match frames.pcs.get_mut(frames.len) {
        Some(slot) if pc != 0 => {
            *slot = pc;
            frames.len += 1;
            URC_NO_REASON
        }
        _ => URC_END_OF_STACK,
    }
}

/// The caller's stack: no allocation, no library loaded.
///
/// Asynchronous signals are held during the walk: the unwinder's cache of modules is not made
/// for a walk nested in another on the same thread, as a handler whose call is logged with a
/// stack trace would make (another thread's walk waits on the loader's lock instead).
fn walk() -> Frames {
    let mut frames = Frames {
        pcs: [0; MAX_FRAMES],
        len: 0,
    };
    let saved = crate::errno::get();
    // SAFETY: sigset_t is plain data filled in by sigfillset / pthread_sigmask; one_frame only
    // writes into `frames`, which outlives the walk.
    unsafe {
        let mut hold: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut hold);
        for signal in crate::guard::NEVER_HELD {
            libc::sigdelset(&mut hold, signal);
        }
        let blocked = libc::pthread_sigmask(libc::SIG_BLOCK, &hold, &mut previous) == 0;
        _Unwind_Backtrace(one_frame, (&mut frames as *mut Frames).cast());
        if blocked {
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        }
    }
    crate::errno::set(saved);
    frames
}

/// Runs the unwinder's one-time set-up (its register table), so that no stack taken in a hook
/// is the first. Called when the rules are loaded, when a rule asks for stack traces.
pub fn prepare() {
    std::hint::black_box(walk().len);
}

/// Writes the caller's stack into `out`, one frame per line; returns the bytes written.
pub fn capture(out: &mut [u8]) -> usize {
    let frames = walk();
    let own_base = lookup(capture as *const c_void).map(|i| i.dli_fbase);
    let mut text = LineBuffer::new(out);
    let mut first = true;
    for &pc in &frames.pcs[..frames.len] {
        let pc = pc as *const c_void;
        let info = lookup(pc);
        if info.is_some_and(|i| Some(i.dli_fbase) == own_base) {
            continue;
        }
        if !first {
            let _ = text.write_str("\n");
        }
        first = false;
        match info {
            Some(i) => {
                let symbol = c_text(i.dli_sname).unwrap_or("??");
                let module = c_text(i.dli_fname)
                    .map(|p| p.rsplit('/').next().unwrap_or(p))
                    .filter(|m| !m.is_empty());
                let offset = (pc as usize).wrapping_sub(i.dli_fbase as usize);
                let _ = write!(text, "{symbol} ({}+{offset:#x})", module.unwrap_or("??"));
            }
            None => {
                let _ = write!(text, "?? ({pc:p})");
            }
        }
    }
    text.as_bytes().len()
}
