//! The integration tests run the release build (`target/release/libarmr.so`, `target/release/armr`),
//! which `cargo test` alone does not rebuild: `support` refuses one older than its sources.

mod support;

use std::fs;
use std::path::Path;

/// The tests run the release build; one older than a source it is built from is refused, so
/// that `cargo test` after a change never tests the old library.
#[test]
fn a_build_older_than_a_source_is_found() {
    use std::time::{Duration, SystemTime};
    let dir = support::TempDir::new("layout", "stale-build");
    let sources = dir.join("src");
    fs::create_dir_all(sources.join("inner")).unwrap();
    let source = dir.write("src/inner/a.rs", "// a source\n");
    let output = dir.write("libarmr.so", "a build\n");
    let at = |path: &Path, secs: u64| {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    };
    at(&source, 1_000);
    at(&output, 2_000);
    assert_eq!(
        support::newer_source(&output, std::slice::from_ref(&sources)),
        None
    );
    at(&source, 3_000);
    assert_eq!(
        support::newer_source(&output, std::slice::from_ref(&sources)),
        Some(source.clone())
    );
    // The real build the tests use is as new as its sources (`make test` builds it first).
    support::library();
    support::armr_command();
}
