//! The native call stack of an intercepted call, for rules with `stacktrace: "full"`.
//!
//! Frames are `function (module+offset)`, innermost first, with the symbol name where the module
//! exports one (`??` otherwise); frames inside armr itself are left out.

use armr_core::event::LineBuffer;
use libc::{c_int, c_void};
use std::fmt::Write;

unsafe extern "C" {
    /// glibc's `backtrace(3)`.
    fn backtrace(buffer: *mut *mut c_void, size: c_int) -> c_int;
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

/// Writes the caller's stack into `out`, one frame per line; returns the bytes written.
pub fn capture(out: &mut [u8]) -> usize {
    let mut frames = [std::ptr::null_mut::<c_void>(); MAX_FRAMES];
    // SAFETY: frames has room for MAX_FRAMES entries.
    let n = unsafe { backtrace(frames.as_mut_ptr(), MAX_FRAMES as c_int) }.max(0) as usize;
    let own_base = lookup(capture as *const c_void).map(|i| i.dli_fbase);
    let mut text = LineBuffer::new(out);
    let mut first = true;
    for &pc in &frames[..n] {
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
