//! The ARMR rule language: reading rules files into the typed [`model`], with compiler-style
//! diagnostics for everything that is wrong with them.
//!
//! Reading is three steps: [`syntax`] turns text into a tree of nodes (`WORD(args)` with an
//! optional `: ... endWORD` body), [`validate`] gives the nodes their meaning and checks every rule
//! of the language, and [`load`] joins files into one [`RuleSet`], where app names must be unique.
//! See `docs/rules.md` for the language as armr accepts it and every message it can print.

pub mod address;
pub mod diagnostic;
pub mod lookalike;
pub mod model;
pub mod source;
pub mod spelling;
pub mod syntax;
pub mod validate;
pub mod vocabulary;

pub use diagnostic::{Diagnostic, DiagnosticKind, Level, Span};
pub use model::*;
pub use source::SourceFile;

use std::path::Path;

/// What loading one file found.
#[derive(Debug)]
pub struct FileReport {
    pub source: SourceFile,
    /// Errors, warnings and notes, in the order of their place in the file.
    pub diagnostics: Vec<Diagnostic>,
    /// Apps defined in the file (whether or not a later version replaced them).
    pub apps: usize,
    /// Socket rules of this file that are in the loaded rule set.
    pub socket_rules: usize,
    /// Rules of other kinds, and socket rules whose `os` excludes Linux.
    pub skipped_rules: usize,
}

impl FileReport {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// `FILE: 1 app, 3 socket rules, 0 rules skipped`.
    pub fn summary(&self) -> String {
        fn count(n: usize, what: &str) -> String {
            format!("{n} {what}{}", if n == 1 { "" } else { "s" })
        }
        format!(
            "{}: {}, {}, {} skipped",
            self.source.name,
            count(self.apps, "app"),
            count(self.socket_rules, "socket rule"),
            count(self.skipped_rules, "rule"),
        )
    }

    /// Every diagnostic rendered with its source line and hint.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.source))
            .collect()
    }
}

/// The result of loading one or more files as one policy.
#[derive(Debug)]
pub struct Load {
    /// The socket rules of every file. Meaningful only when [`Load::is_ok`].
    pub rules: RuleSet,
    pub files: Vec<FileReport>,
}

impl Load {
    pub fn errors(&self) -> usize {
        self.files.iter().map(FileReport::errors).sum()
    }

    /// True when no file has an error: the rule set is complete and may be enforced.
    pub fn is_ok(&self) -> bool {
        self.errors() == 0
    }

    /// The first error's headline (`FILE:LINE:COL: error: ...`), for a one-line report.
    pub fn first_error(&self) -> Option<String> {
        self.files.iter().find_map(|f| {
            f.diagnostics
                .iter()
                .find(|d| d.is_error())
                .map(|d| d.headline(&f.source))
        })
    }

    /// The names of the rules left out because their `os` list does not include Linux.
    pub fn skipped_for_os(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .flat_map(|f| &f.diagnostics)
            .filter_map(|d| match &d.kind {
                DiagnosticKind::SkippedForOs { rule } => Some(rule.as_str()),
                _ => None,
            })
    }
}

/// Parses and validates one file on its own.
pub fn parse_file(source: SourceFile) -> Load {
    load(vec![source])
}

/// Reads the files at `paths` and loads them as one policy. A file that cannot be read is an error
/// of that file, never a silently empty policy.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Load {
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        match SourceFile::read(path.as_ref()) {
            Ok(source) => sources.push(source),
            Err(diagnostic) => unreadable.push(FileReport {
                source: SourceFile::new(path.as_ref().display().to_string(), ""),
                diagnostics: vec![diagnostic],
                apps: 0,
                socket_rules: 0,
                skipped_rules: 0,
            }),
        }
    }
    let mut loaded = load(sources);
    loaded.files.extend(unreadable);
    loaded
}

/// Loads sources as one policy: each file parsed and validated, then app names checked across
/// all of them (a higher `version(N)` replaces a lower one; equal versions are an error).
pub fn load(sources: Vec<SourceFile>) -> Load {
    let mut files = Vec::new();
    let mut apps = Vec::new(); // (file index, validated app)
    for (index, source) in sources.into_iter().enumerate() {
        let mut validator = validate::Validator::new(&source);
        let mut any_node = false;
        let mut diagnostics = syntax::parse_each(&source.text, |node| {
            any_node = true;
            validator.top_level(&node);
        });
        let contents = validator.finish();
        if !any_node && diagnostics.is_empty() {
            // Not a syntax error: an empty (or comments-only) file. Enforcing nothing from a file
            // the user named is never what they meant.
            diagnostics.push(Diagnostic {
                level: Level::Error,
                kind: DiagnosticKind::NoApps,
                span: None,
            });
        }
        diagnostics.extend(contents.diagnostics);
        files.push(FileReport {
            apps: contents.apps.len(),
            socket_rules: 0,
            skipped_rules: contents.skipped_rules,
            diagnostics,
            source,
        });
        apps.extend(contents.apps.into_iter().map(|app| (index, app)));
    }

    // Same-name apps: keep the highest version; report the others.
    let mut keep = vec![true; apps.len()];
    let mut by_name: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut reports: Vec<(usize, Diagnostic)> = Vec::new();
    for i in 0..apps.len() {
        let (file, ref candidate) = apps[i];
        let Some(&j) = by_name.get(candidate.app.name.as_str()) else {
            by_name.insert(&candidate.app.name, i);
            continue;
        };
        let (kept_file, ref kept) = apps[j];
        let (loser, loser_file, winner_version) = match candidate.app.version.cmp(&kept.app.version)
        {
            std::cmp::Ordering::Equal => {
                let kept_source = &files[kept_file].source;
                let (line, column) = kept_source.line_column(kept.name_span.start);
                let kind = DiagnosticKind::DuplicateApp {
                    app: candidate.app.name.clone(),
                    version: candidate.app.version,
                    first: format!("{}:{line}:{column}", kept_source.name),
                };
                reports.push((file, Diagnostic::error(kind, candidate.name_span)));
                keep[i] = false;
                continue;
            }
            std::cmp::Ordering::Less => (i, file, kept.app.version),
            std::cmp::Ordering::Greater => (j, kept_file, candidate.app.version),
        };
        let lost = &apps[loser];
        let kind = DiagnosticKind::AppReplaced {
            app: lost.1.app.name.clone(),
            version: lost.1.app.version,
            winner: winner_version,
        };
        reports.push((loser_file, Diagnostic::warning(kind, lost.1.name_span)));
        keep[loser] = false;
        if loser == j {
            by_name.insert(&candidate.app.name, i);
        }
    }
    for (file, diagnostic) in reports {
        files[file].diagnostics.push(diagnostic);
    }

    let mut rules = RuleSet::default();
    for ((file, validated), keep) in apps.into_iter().zip(keep) {
        if keep {
            files[file].socket_rules += validated.app.rules.len();
            rules.apps.push(validated.app);
        }
    }
    for file in &mut files {
        file.diagnostics
            .sort_by_key(|d| d.span.map_or(0, |s| s.start));
    }
    Load { rules, files }
}
