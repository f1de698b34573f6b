//! A rules file's text, with the line index that turns byte offsets into lines and columns.

use super::diagnostic::{Diagnostic, DiagnosticKind, Level};
use std::path::Path;
use std::sync::Arc;

/// The text of one rules file. A leading UTF-8 byte order mark is removed, so that offsets and
/// columns count from the first visible character.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name used in diagnostics and rule locations: the path as the user gave it.
    pub name: Arc<str>,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<String>) -> SourceFile {
        let mut text = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Reads a file. A file that cannot be read or is not UTF-8 gives the diagnostic to report.
    pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Diagnostic {
            level: Level::Error,
            kind: DiagnosticKind::Unreadable {
                reason: io_reason(&e),
            },
            span: None,
        })?;
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
        let line_index = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line_index];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line_index as u32 + 1, column as u32 + 1)
    }

    /// Byte offset where a 1-based line starts.
    pub fn line_start(&self, line: u32) -> usize {
        self.line_starts[(line as usize - 1).min(self.line_starts.len() - 1)]
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: u32) -> &str {
        let start = self.line_start(line);
        let rest = &self.text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].strip_suffix('\r').unwrap_or(&rest[..end])
    }
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
