//! Finds `armr.env` beside the loaded library. LD_PRELOAD (or /etc/ld.so.preload) then carries
//! the settings by itself: a program that rewrites the environment of what it starts, but keeps
//! LD_PRELOAD, cannot drop or weaken its children's rules.
//!
//! Only the edge is here (where the library is, reading the file); the format is
//! `armr_core::config::Sidecar`.

use armr_core::config::{SIDECAR, Sidecar};
use std::ffi::{CStr, OsStr};
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// A sidecar holds four short lines: anything bigger is not one.
const MAX_SIZE: u64 = 64 * 1024;

/// The library's path as the loader opened it: the LD_PRELOAD or /etc/ld.so.preload entry as
/// written (a symlink is not resolved, so armr-run's per-configuration link finds its own file).
fn library_path() -> Option<PathBuf> {
    // SAFETY: Dl_info is plain data; all-zero is a valid value that dladdr overwrites.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let here = library_path as fn() -> Option<PathBuf> as *const libc::c_void;
    // SAFETY: `here` is an address in this library; `info` is writable.
    if unsafe { libc::dladdr(here, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is the loader's NUL-terminated name of this object, alive while it is.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// False when nothing (not even a dangling symlink) is named `armr.env` beside `library`: the
/// common case of every process armr is loaded into, answered with one `lstat` on a path built on
/// the stack, before any of the work of reading a file.
fn exists_beside(library: &std::path::Path) -> bool {
    let dir = library
        .parent()
        .map_or(&b""[..], |d| d.as_os_str().as_bytes());
    let mut path = [0u8; 4096];
    let needed = dir.len() + 1 + SIDECAR.len() + 1;
    if dir.is_empty() || needed > path.len() {
        // Unusual: let the full reader decide.
        return true;
    }
    path[..dir.len()].copy_from_slice(dir);
    path[dir.len()] = b'/';
    path[dir.len() + 1..needed - 1].copy_from_slice(SIDECAR.as_bytes());
    // SAFETY: stat is plain data; path is NUL-terminated (the buffer was zeroed).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::lstat(path.as_ptr().cast(), &mut st) } == 0;
    found || crate::errno::get() != libc::ENOENT
}

/// `Ok(None)`: no sidecar, the environment has the settings. `Ok(Some)`: the sidecar (its
/// `config()` may still hold errors). `Err`: a sidecar is there but cannot be trusted or read;
/// that is an error, never a fallback to the environment.
pub fn read() -> Result<Option<Sidecar>, String> {
    let Some(library) = library_path() else {
        return Ok(None);
    };
    if !exists_beside(&library) {
        return Ok(None);
    }
    let Some(dir) = library.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(None);
    };
    let path = dir.join(SIDECAR);
    let shown = path.display();
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // A dangling symlink means someone meant a sidecar: not a reason to use the
            // environment instead.
            return match std::fs::symlink_metadata(&path) {
                Ok(_) => Err(format!("{shown}: a symlink to a missing file")),
                Err(_) => Ok(None),
            };
        }
        Err(e) => return Err(format!("{shown}: cannot open: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    // Whoever may write the file decides this process's rules and where it writes events.
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(format!(
            "{shown}: owned by uid {}, neither this process's user (uid {euid}) nor root: not \
             trusted; chown it to root or to uid {euid}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{shown}: writable by its group or others (mode {:o}): not trusted; \
             chmod go-w {shown}",
            meta.mode() & 0o7777
        ));
    }
    if meta.len() > MAX_SIZE {
        return Err(format!(
            "{shown}: {} bytes; a sidecar is a few `KEY=VALUE` lines (at most {MAX_SIZE} bytes)",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(format!("{shown}: grew past {MAX_SIZE} bytes while read"));
    }
    Ok(Some(Sidecar::parse(&shown.to_string(), &bytes)))
}
