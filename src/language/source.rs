//! A rules file's text, with the line index that turns byte offsets into lines and columns.

use super::diagnostic::{Diagnostic, DiagnosticKind, Level};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The text of one rules file. A leading UTF-8 byte order mark is removed, so that offsets and
/// columns count from the first visible character.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name used in diagnostics and rule locations: the path as the user gave it.
    pub name: Arc<str>,
    pub text: String,
    /// Built on first use: a file without diagnostics never needs it (see [`Lines`]).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<String>) -> SourceFile {
        let mut text = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        SourceFile {
            name: name.into(),
            text,
            line_starts: OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(
                    self.text
                        .bytes()
                        .enumerate()
                        .filter(|&(_, b)| b == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .collect()
        })
    }

    /// Reads a file. A file that cannot be read, is not a regular file, is larger than
    /// [`MAX_RULES_FILE`] or is not UTF-8 gives the diagnostic to report.
    ///
    /// Only a regular file is read: a FIFO would wait for a writer (before the program's `main`,
    /// for ARMR_RULES), `/dev/zero` would never end. The path is checked before it is opened (so
    /// that no device is even opened), and the open file again (the path may have changed).
    pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let name = path.display().to_string();
        let unreadable = |e: std::io::Error| {
            error(DiagnosticKind::Unreadable {
                reason: io_reason(&e),
            })
        };
        regular_within_limit(&std::fs::metadata(path).map_err(unreadable)?)?;
        // O_NONBLOCK: a FIFO put in the file's place meanwhile opens without waiting (and fails
        // the check below); a regular file ignores it.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(unreadable)?;
        let metadata = file.metadata().map_err(unreadable)?;
        regular_within_limit(&metadata)?;
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        (&mut file)
            .take(MAX_RULES_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_RULES_FILE {
            // It grew while read.
            return Err(error(DiagnosticKind::TooLarge {
                bytes: bytes.len() as u64,
            }));
        }
        SourceFile::from_bytes(name, bytes)
    }

    /// Checks that `bytes` are UTF-8 and makes a source file of them.
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<SourceFile, Diagnostic> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(name, text)),
            Err(e) => {
                let bytes = e.as_bytes();
                let good = e.utf8_error().valid_up_to();
                // valid_up_to() is a char boundary, so this prefix is valid text.
                let prefix = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
                let line = prefix.matches('\n').count() as u32 + 1;
                let column = prefix.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
                Err(Diagnostic {
                    level: Level::Error,
                    kind: DiagnosticKind::NotUtf8 { line, column },
                    span: None,
                })
            }
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line_starts = self.line_starts();
        let line_index = line_starts.partition_point(|&start| start <= offset) - 1;
        let start = line_starts[line_index];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line_index as u32 + 1, column as u32 + 1)
    }

    /// Byte offset of a 1-based line and column (in characters), as [`SourceFile::line_column`]
    /// gives them; the end of the line for a column past it.
    pub fn offset_of(&self, line: u32, column: u32) -> usize {
        let start = self.line_start(line);
        let text = self.line_text(line);
        start
            + text
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map_or(text.len(), |(k, _)| k)
    }

    /// Byte offset where a 1-based line starts.
    pub fn line_start(&self, line: u32) -> usize {
        let line_starts = self.line_starts();
        line_starts[(line as usize - 1).min(line_starts.len() - 1)]
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: u32) -> &str {
        let start = self.line_start(line);
        let rest = &self.text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].strip_suffix('\r').unwrap_or(&rest[..end])
    }
}

/// Lines and columns of offsets that mostly come in increasing order (the apps and rules of a
/// file, as validation meets them): each call counts the newlines since the previous one, so a
/// file that loads cleanly is scanned once and its line index is never built.
#[derive(Debug, Default)]
pub struct Lines {
    offset: usize,
    /// 0-based line of `offset`, and where that line starts.
    line: usize,
    line_start: usize,
}

impl Lines {
    /// The same as [`SourceFile::line_column`].
    pub fn line_column(&mut self, file: &SourceFile, offset: usize) -> (u32, u32) {
        let offset = offset.min(file.text.len());
        if offset < self.offset {
            return file.line_column(offset);
        }
        let between = &file.text.as_bytes()[self.offset..offset];
        let newlines = count_newlines(between);
        if newlines > 0 {
            self.line += newlines;
            self.line_start =
                self.offset + between.iter().rposition(|&b| b == b'\n').unwrap_or(0) + 1;
        }
        self.offset = offset;
        let column = file
            .text
            .get(self.line_start..offset)
            .map_or(0, |s| s.chars().count());
        (self.line as u32 + 1, column as u32 + 1)
    }
}

/// Counts newlines in blocks of 32 bytes, a loop the compiler turns into vector code.
fn count_newlines(bytes: &[u8]) -> usize {
    let mut blocks = bytes.chunks_exact(32);
    let mut n = 0;
    for block in &mut blocks {
        let block: &[u8; 32] = block.try_into().unwrap_or(&[0; 32]);
        let mut in_block = 0u8;
        for &b in block {
            in_block += u8::from(b == b'\n');
        }
        n += usize::from(in_block);
    }
    n + blocks.remainder().iter().filter(|&&b| b == b'\n').count()
}

/// The largest rules file armr reads: far above any real rule set (a 10 MB file loads in well
/// under a second), far below what would strain a program's memory.
pub const MAX_RULES_FILE: u64 = 64 << 20;

fn error(kind: DiagnosticKind) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        kind,
        span: None,
    }
}

/// A regular file of at most [`MAX_RULES_FILE`] bytes, or the diagnostic saying what it is.
fn regular_within_limit(metadata: &std::fs::Metadata) -> Result<(), Diagnostic> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        if metadata.len() > MAX_RULES_FILE {
            return Err(error(DiagnosticKind::TooLarge {
                bytes: metadata.len(),
            }));
        }
        return Ok(());
    } else if kind.is_dir() {
        return Err(error(DiagnosticKind::Unreadable {
            reason: "it is a directory".into(),
        }));
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(error(DiagnosticKind::NotRegularFile { what }))
}

/// An I/O error as a short phrase without the "(os error N)" tail.
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "it is a directory".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let f = SourceFile::new("f", "ab\r\nçd\n\tx");
        assert_eq!(f.line_column(0), (1, 1));
        assert_eq!(f.line_column(4), (2, 1));
        assert_eq!(f.line_column(6), (2, 2)); // after the two-byte ç
        assert_eq!(f.line_column(9), (3, 2));
        assert_eq!(f.line_text(1), "ab");
        assert_eq!(f.line_text(3), "\tx");
    }

    #[test]
    fn incremental_lines_agree_with_the_index() {
        let f = SourceFile::new("f", "ab\r\nçd\n\tx\n\ny");
        let mut lines = Lines::default();
        for offset in (0..=f.text.len() + 2).chain([3, 0, 9, 12]) {
            if f.text.is_char_boundary(offset.min(f.text.len())) {
                assert_eq!(
                    lines.line_column(&f, offset),
                    f.line_column(offset),
                    "{offset}"
                );
            }
        }
    }

    #[test]
    fn byte_order_mark_is_removed() {
        let f = SourceFile::new("f", "\u{feff}app");
        assert_eq!(f.text, "app");
        assert_eq!(f.line_column(0), (1, 1));
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let err = SourceFile::from_bytes("f".into(), b"ab\ncd\xff".to_vec()).unwrap_err();
        assert_eq!(err.kind, DiagnosticKind::NotUtf8 { line: 2, column: 3 });
    }
}
