//! Shell completions and man pages, generated from armr's argument parser and installed by
//! `make install`: the bash script loads in bash and completes a subcommand, the man pages
//! render.

mod support;

use std::path::Path;
use std::process::Command;

use support::{TempDir, armr_command, library, manifest, text};

/// `make install` into `destdir` (PREFIX=/usr), with the build the tests check is fresh.
fn make(target: &str, destdir: &Path) {
    library();
    armr_command();
    let out = Command::new("make")
        .current_dir(manifest())
        .args(["-s", target, "CARGO=true", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "make {target}: {out:?}");
}

/// What bash completes after `armr WORDS` (the last word being completed), with the script at
/// `script` sourced as bash-completion would.
fn complete(script: &Path, words: &str) -> String {
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(format!(
            "source '{}' || exit 9; complete -p armr >/dev/null || exit 8; \
             COMP_WORDS=(armr {words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _armr armr \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "bash completion: {out:?}");
    text(&out.stdout)
}

#[test]
fn make_install_puts_completions_and_man_pages_in_place_and_they_work() {
    let dir = TempDir::new("completions", "install");
    let dest = dir.join("dest");
    make("install", &dest);
    let bash = dest.join("usr/share/bash-completion/completions/armr");
    let zsh = dest.join("usr/share/zsh/site-functions/_armr");
    let fish = dest.join("usr/share/fish/vendor_completions.d/armr.fish");
    let man1 = dest.join("usr/share/man/man1");

    // bash: the installed script completes subcommands and a subcommand's options.
    assert_eq!(complete(&bash, "le"), "learn\n");
    assert_eq!(complete(&bash, "st"), "status\n");
    let options = complete(&bash, "learn --wid");
    assert_eq!(
        options, "--widen-ports\n--widen-prefix\n--widen-prefix6\n",
        "{options}"
    );
    // zsh and fish: their own formats, naming the subcommands (the shells are not installed).
    let zsh = std::fs::read_to_string(&zsh).unwrap();
    assert!(zsh.starts_with("#compdef armr"), "{zsh}");
    assert!(zsh.contains("'learn:Write a rules file"), "{zsh}");
    let fish = std::fs::read_to_string(&fish).unwrap();
    assert!(
        fish.contains("-a \"status\" -d 'List the processes of this machine running under armr"),
        "{fish}"
    );

    // Man pages: one for armr and one per subcommand, rendered by man (groff).
    for page in [
        "armr",
        "armr-check",
        "armr-run",
        "armr-learn",
        "armr-status",
    ] {
        let file = man1.join(format!("{page}.1"));
        assert!(file.is_file(), "{} not installed", file.display());
    }
    let rendered = Command::new("man")
        .arg("-l")
        .arg(man1.join("armr-learn.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "man -l: {rendered:?}");
    let page = text(&rendered.stdout);
    assert!(page.contains("armr-learn - Write a rules file"), "{page}");
    assert!(page.contains("--widen-ports <N>"), "{page}");

    // `armr man` alone prints armr's page: the subcommands listed.
    let out = Command::new(armr_command()).arg("man").output().unwrap();
    let roff = text(&out.stdout);
    assert!(
        out.status.success() && roff.contains(".TH armr 1"),
        "{roff}"
    );
    assert!(roff.contains("armr\\-learn(1)"), "{roff}");

    make("uninstall", &dest);
    for gone in [
        bash.as_path(),
        &man1.join("armr-learn.1"),
        &man1.join("armr.1"),
    ] {
        assert!(!gone.exists(), "{} left by make uninstall", gone.display());
    }
}
