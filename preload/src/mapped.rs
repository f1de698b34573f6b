//! Maps a compiled policy file read-only for the life of the process: its pages are the page
//! cache's, shared by every process that maps the same file (docs/compiled.md).

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// The file's bytes, mapped; never unmapped (the policy borrows them until the process ends).
pub fn map(path: &Path) -> Result<&'static [u8], String> {
    // Non-blocking: a FIFO put in the file's place does not hold the program at its start.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    map_fd(file.as_raw_fd())
}

fn map_fd(fd: libc::c_int) -> Result<&'static [u8], String> {
    // SAFETY: st is a writable stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is writable.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err("not a regular file".into());
    }
    let len = usize::try_from(st.st_size).map_err(|_| "an impossible size".to_string())?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: a new read-only shared mapping of `len` bytes of an open regular file.
    let pages = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if pages == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: `len` readable bytes, never unmapped nor written through this mapping. The file is
    // replaced by rename, never changed in place (docs/compiled.md), so the bytes do not change.
    Ok(unsafe { std::slice::from_raw_parts(pages.cast::<u8>(), len) })
}
