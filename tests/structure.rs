//! The dependency rules between armr's modules, read from the sources: the rule language stands
//! alone (the policy engine, the event writer and every engine build on it, never the reverse).

use std::path::Path;

/// The `crate::NAME` modules a source tree refers to, with the file that does.
fn crate_references(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            found.extend(crate_references(&path));
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a source file");
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push((path.display().to_string(), name));
            }
        }
    }
    found
}

#[test]
fn the_rule_language_does_not_depend_on_the_policy_engine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/language");
    let references = crate_references(&dir);
    assert!(
        !references.is_empty(),
        "the scan sees the language's own `crate::` references"
    );
    let outside: Vec<_> = references
        .iter()
        .filter(|(_, name)| !matches!(name.as_str(), "language" | "hash"))
        .collect();
    assert!(
        outside.is_empty(),
        "src/language refers to modules built on it: {outside:?}"
    );
}
