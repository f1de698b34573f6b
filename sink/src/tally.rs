//! The count of events this process's destinations lost, where `armr status` reads it: an
//! 8-byte page of a memfd named `armr-dropped-PID`, made at the first loss (a process that loses
//! nothing has none) and updated in place afterwards, with no system call. `armr status` opens
//! it through `/proc/PID/fd` (which the kernel allows the process's own user and root).

use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// The name's prefix; the process's pid follows it.
pub const NAME_PREFIX: &str = "armr-dropped-";

static PAGE: AtomicPtr<AtomicU64> = AtomicPtr::new(null_mut());
static MAKING: AtomicBool = AtomicBool::new(false);

/// Counts `n` lost events. The first loss makes the page (a loss while another thread makes it
/// is not counted).
pub fn count(n: u64) {
    let mut page = PAGE.load(Ordering::Acquire);
    if page.is_null() {
        page = make();
        if page.is_null() {
            return;
        }
    }
    // SAFETY: a live mapping of 8 bytes, never unmapped.
    unsafe { (*page).fetch_add(n, Ordering::Relaxed) };
}

/// In a forked child: the parent's page (named with the parent's pid) is not the child's.
pub fn after_fork() {
    PAGE.store(null_mut(), Ordering::Relaxed);
    MAKING.store(false, Ordering::Relaxed);
}

#[cold]
fn make() -> *mut AtomicU64 {
    if MAKING.swap(true, Ordering::AcqRel) {
        return null_mut();
    }
    // The name without allocating: this may run in a signal handler.
    let mut name = [0u8; 40];
    let prefix = NAME_PREFIX.as_bytes();
    name[..prefix.len()].copy_from_slice(prefix);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut rest = pid;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    name[prefix.len()..prefix.len() + digits.len() - i].copy_from_slice(&digits[i..]);
    // SAFETY: name ends in a NUL; the calls make, size and map a new file of armr's own.
    let page = unsafe {
        let fd = libc::memfd_create(name.as_ptr().cast(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return null_mut();
        }
        if libc::ftruncate(fd, 8) != 0 {
            libc::close(fd);
            return null_mut();
        }
        let page = libc::mmap(
            null_mut(),
            8,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        // The descriptor stays open: `armr status` finds the page through it.
        if page == libc::MAP_FAILED {
            libc::close(fd);
            return null_mut();
        }
        page.cast::<AtomicU64>()
    };
    PAGE.store(page, Ordering::Release);
    page
}
