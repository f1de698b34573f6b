//! The real libc functions behind the hooks, found once with `dlsym(RTLD_NEXT)`.
//!
//! Each address is looked up on first use and kept in an atomic: no lock, no allocation, and it
//! works in a hook that runs before armr's constructor. Two threads may race to look one up; both
//! find the same address. The functions themselves are declared once, in the table of `hooks`,
//! which makes a slot here (`real_functions!`) for each: `real::bind` is libc's `bind`.

pub use crate::hooks::slots::*;
use libc::{FILE, c_int, c_long, c_void, ssize_t};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Looks up `name` in the libraries loaded after this one.
pub fn resolve(slot: &AtomicUsize, name: &std::ffi::CStr) -> usize {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other precondition.
    let found = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    slot.store(found, Ordering::Release);
    found
}

/// What a call returns when the real function could not be found (no libc after armr): a
/// failure with errno ENOSYS.
pub trait Missing {
    fn missing() -> Self;
}

impl Missing for c_int {
    fn missing() -> c_int {
        crate::errno::set(libc::ENOSYS);
        -1
    }
}

impl Missing for ssize_t {
    fn missing() -> ssize_t {
        crate::errno::set(libc::ENOSYS);
        -1
    }
}

impl Missing for *mut c_void {
    fn missing() -> *mut c_void {
        crate::errno::set(libc::ENOSYS);
        std::ptr::null_mut()
    }
}

impl Missing for () {
    fn missing() {}
}

impl Missing for c_long {
    fn missing() -> c_long {
        crate::errno::set(libc::ENOSYS);
        0
    }
}

impl Missing for *mut FILE {
    fn missing() -> *mut FILE {
        crate::errno::set(libc::ENOSYS);
        std::ptr::null_mut()
    }
}

/// The slot of each real function: `name(args) -> ret;` makes `pub unsafe fn name(args) -> ret`,
/// which calls libc's function of that name.
macro_rules! real_functions {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        $(
            /// The real libc function.
            ///
            /// # Safety
            /// The caller's arguments must satisfy the libc function's contract.
            #[inline(always)]
            #[allow(non_snake_case, clippy::too_many_arguments)] // __recv_chk; getnameinfo
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                static SLOT: ::std::sync::atomic::AtomicUsize = ::std::sync::atomic::AtomicUsize::new(0);
                /// The first call: looks the function up. Out of line, so that every later call
                /// is a load, a test and a jump. (It makes the call itself too: a lookup-only
                /// helper keeps the arguments live across a call, and every forward then saves
                /// registers, 10 instructions more per call under callgrind.)
                #[cold]
                #[inline(never)]
                #[allow(non_snake_case, clippy::too_many_arguments)]
                unsafe fn first_call($($arg: $ty),*) -> $ret {
                    let name = const { match std::ffi::CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                        Ok(name) => name,
                        Err(_) => panic!("symbol name"),
                    } };
                    let address = $crate::real::resolve(&SLOT, name);
                    if address == 0 {
                        return <$ret as $crate::real::Missing>::missing();
                    }
                    // SAFETY: the symbol is libc's function of this exact signature.
                    let real: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(address) };
                    unsafe { real($($arg),*) }
                }
                let address = SLOT.load(::std::sync::atomic::Ordering::Acquire);
                if address == 0 {
                    return unsafe { first_call($($arg),*) };
                }
                // SAFETY: the symbol is libc's function of this exact signature.
                let real: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(address) };
                unsafe { real($($arg),*) }
            }
        )*
    };
}

pub(crate) use real_functions;
