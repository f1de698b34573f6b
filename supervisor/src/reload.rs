//! Live reload in the supervisor: a thread looks at the rules once a second and puts a good
//! change in force for the calls judged from then on; a change that does not load is refused,
//! the policy in force kept, and `Syntax Error` logged, as the preload library does
//! (docs/reload.md). The supervisor is a normal process: a thread costs the program nothing.

use crate::calls::Supervisor;
use armr::config;
use armr::event::Lifecycle;
use armr::policy::compiled;
use armr::policy::{Mode, Policy, SystemResolver};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the policy was built from, and what was seen of it.
pub struct Watch {
    path: PathBuf,
    mode: Mode,
    lifecycle: bool,
    seen: Vec<u64>,
    /// Each rules file with its SHA-256, of the policy in force (once a reload has read them).
    applied: Option<Vec<(String, String)>>,
}

impl Watch {
    /// Before the rules are read: a change made meanwhile is seen at the first look.
    pub fn new(path: &Path, mode: Mode, lifecycle: bool) -> Watch {
        Watch {
            path: path.to_path_buf(),
            mode,
            lifecycle,
            seen: fingerprint(path),
            applied: None,
        }
    }
}

/// Looks at the rules every second, for as long as the supervisor runs.
pub fn watch(supervisor: &Supervisor, mut watch: Watch) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = fingerprint(&watch.path);
        if now == watch.seen {
            continue;
        }
        watch.seen = now;
        reload(supervisor, &mut watch);
    }
}

/// The stat of `path` and, for a directory, of each of its rules files.
fn fingerprint(path: &Path) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut stat = |path: &Path| match std::fs::metadata(path) {
        Ok(m) => seen.extend([
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as u64,
            m.mtime_nsec() as u64,
            m.ctime() as u64,
            m.ctime_nsec() as u64,
        ]),
        Err(_) => seen.push(u64::MAX),
    };
    stat(path);
    if path.is_dir()
        && let Ok(files) = config::rule_files(path)
    {
        for file in files {
            stat(&file);
        }
    }
    seen
}

fn reload(supervisor: &Supervisor, watch: &mut Watch) {
    let resolver = || Box::new(SystemResolver::default());
    if compiled::is_compiled(&watch.path) {
        let loaded = compiled::read_file(&watch.path).and_then(|bytes| {
            compiled::verify(bytes)?;
            Policy::from_compiled(bytes, watch.mode, resolver())
        });
        return match loaded {
            Ok(policy) => applied(supervisor, watch, policy),
            Err(e) => refused(
                supervisor,
                &format!("{}: compiled policy: {e}", watch.path.display()),
            ),
        };
    }
    let (load, digests) = match compiled::reread(&watch.path, watch.applied.as_deref()) {
        compiled::Reread::Unchanged => return,
        compiled::Reread::Refused(first) => return refused(supervisor, &first),
        compiled::Reread::Loaded(load, digests) => (load, digests),
    };
    for rule in load.skipped_for_os() {
        supervisor.events.lifecycle(&Lifecycle::Skipped {
            rule,
            reason: armr::event::NOT_THIS_OS,
        });
    }
    watch.applied = Some(digests);
    let policy = Policy::with_resolver(load.rules, watch.mode, resolver());
    applied(supervisor, watch, policy);
}

fn applied(supervisor: &Supervisor, watch: &Watch, policy: Policy) {
    supervisor.publish(policy);
    if watch.lifecycle {
        supervisor.events.lifecycle(&Lifecycle::Reloaded {
            success: true,
            msg: "New ARMR policy has been applied",
        });
    }
}

/// A change that does not load: the policy in force is kept; always logged.
fn refused(supervisor: &Supervisor, why: &str) {
    supervisor
        .events
        .lifecycle(&Lifecycle::SyntaxError { msg: why });
    supervisor.events.lifecycle(&Lifecycle::Reloaded {
        success: false,
        msg: "the changed rules do not load: the policy in force is kept",
    });
}
