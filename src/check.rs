//! `armr check`: the rules loaded as the library loads them to enforce, and the warnings that need
//! the rules together or the files themselves, which the library does not pay for when it
//! enforces: rules that can never win ([`crate::policy::shadow`]) and rules files, or the
//! directories holding them, that others may write.

use crate::language::{self, Diagnostic, DiagnosticKind, Level, Load};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Loads `paths` as one policy, as the library does, with `armr check`'s warnings added.
pub fn check_paths<P: AsRef<Path>>(paths: &[P]) -> Load {
    let mut load = language::load_paths(paths);
    writable_by_others(&mut load);
    crate::policy::shadow::warn(&mut load);
    load
}

/// Warns about each rules file its group or others may write, and each directory holding one
/// that they may write without the sticky bit (so may replace the file in it): whoever can write
/// either decides the rules of every program run under them.
fn writable_by_others(load: &mut Load) {
    let mut directories_seen = Vec::new();
    for file in &mut load.files {
        let name = file.source.name.to_string();
        let path = Path::new(&name);
        let mut found = Vec::new();
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_file() && mode & 0o022 != 0 {
                found.push(("rules file", name.clone(), mode));
            }
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !directories_seen.contains(&dir.to_path_buf()) {
            directories_seen.push(dir.to_path_buf());
            if let Ok(meta) = std::fs::metadata(dir) {
                let mode = meta.permissions().mode() & 0o7777;
                if mode & 0o022 != 0 && mode & 0o1000 == 0 {
                    found.push(("directory", dir.display().to_string(), mode));
                }
            }
        }
        let warnings = found.into_iter().map(|(what, path, mode)| Diagnostic {
            level: Level::Warning,
            kind: DiagnosticKind::WritableByOthers { what, path, mode },
            span: None,
        });
        file.diagnostics.splice(0..0, warnings);
    }
}
