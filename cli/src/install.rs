//! `armr install` and `armr uninstall`: the system-wide policy (docs/system-wide.md). The rules
//! are checked and compiled before anything is replaced, and each file is replaced by rename, so
//! that a process starting at any moment loads the old policy or the new one, and a broken
//! source never reaches one.

use armr::config::{INSTALLED_POLICY, last_good};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    long_about = "Check and compile the rules, then replace the system-wide policy that libarmr.so \
                  enforces when no ARMR_RULES is set (/etc/armr/policy.armrc) and its last good \
                  copy, each atomically (written beside it, synced, renamed). Rules with an error \
                  are reported as `armr check` reports them and change nothing (exit status 1). \
                  The library is not added to /etc/ld.so.preload: docs/system-wide.md shows that \
                  step."
)]
pub struct InstallArgs {
    /// The rules: a file, or a directory of *.armr files [default: /etc/armr/rules under the
    /// prefix]
    #[arg(short, long, value_name = "RULES")]
    rules: Option<PathBuf>,
    /// The root the policy is installed under: a chroot or an image being built
    #[arg(long, value_name = "DIR", default_value = "/")]
    prefix: PathBuf,
}

#[derive(clap::Args)]
#[command(
    long_about = "Remove the system-wide policy and its last good copy: libarmr.so, still \
                  preloaded, then does nothing in processes without ARMR_RULES. The rules \
                  sources are left in place."
)]
pub struct UninstallArgs {
    /// The root the policy was installed under
    #[arg(long, value_name = "DIR", default_value = "/")]
    prefix: PathBuf,
}

/// The installed policy's path under `prefix`.
fn under(prefix: &Path) -> PathBuf {
    prefix.join(INSTALLED_POLICY.trim_start_matches('/'))
}

pub fn install(args: InstallArgs) -> ExitCode {
    let policy = under(&args.prefix);
    let rules = args.rules.unwrap_or_else(|| policy.with_file_name("rules"));
    let (load, errors) = crate::load_reporting(&[&rules]);
    if errors > 0 {
        eprintln!("{}", crate::errors_found(errors));
        eprintln!("armr: nothing installed: {} is unchanged", policy.display());
        return ExitCode::FAILURE;
    }
    let (files, _) = crate::expand_directories(&[&rules]);
    if let Some(dir) = policy.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("armr: error: {}: cannot create: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let written = crate::compile_to(load, &files, &policy).and_then(|count| {
        // The last good copy: the same bytes, read back and checked whole first.
        let bytes = std::fs::read(&policy).map_err(|e| format!("{}: {e}", policy.display()))?;
        armr::policy::compiled::verify(&bytes).map_err(|e| format!("{}: {e}", policy.display()))?;
        let copy = last_good(&policy);
        armr::policy::compiled::write_file(&copy, &bytes)
            .map_err(|e| format!("{}: cannot write: {e}", copy.display()))?;
        Ok(count)
    });
    match written {
        Ok(count) => {
            println!(
                "{}: {count} rule{} installed from {} file{} (last good copy: {})",
                policy.display(),
                if count == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                last_good(&policy).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("armr: error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn uninstall(args: UninstallArgs) -> ExitCode {
    let policy = under(&args.prefix);
    // The copy first: a process starting meanwhile still finds the policy itself.
    let mut removed = 0;
    for path in [last_good(&policy), policy.clone()] {
        match std::fs::remove_file(&path) {
            Ok(()) => {
                println!("{}: removed", path.display());
                removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                eprintln!("armr: error: {}: cannot remove: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if removed == 0 {
        println!("{}: no policy installed", policy.display());
    }
    ExitCode::SUCCESS
}
