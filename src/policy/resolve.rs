//! Hostnames in rules, resolved when first needed: all the names of a kind at once, in bounded
//! time.
//!
//! - `localhost` and the names under it (`*.localhost`) are never resolved: RFC 6761 makes them
//!   the loopback addresses whatever the hosts file or the resolver say (see `index`).
//! - Names in `/etc/hosts` are answered from one reading of the file, when `/etc/nsswitch.conf`
//!   asks the hosts file first (`hosts: files ...`): glibc would read the whole file again for
//!   each name, which made a policy of 10,000 names cost 10,000 readings of a 10,000-line file.
//! - The other names are looked up with `getaddrinfo` on helper threads, concurrently, within one
//!   deadline: the time the resolver gives one name ([`lookup_deadline`]). A name not answered
//!   by then counts as not resolving, and is reported.

use super::EventKind;
use crate::hash::FxMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// A name that did not resolve, as reported: the rules of `kind` naming it match nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unresolved<'a> {
    pub kind: EventKind,
    pub name: &'a str,
    pub reason: &'a str,
    /// How many rules of the kind name it.
    pub rules: usize,
}

/// Turns a rule's hostname into addresses. Called once per kind and policy, on the first
/// decision that needs it, so that a process which never opens a network socket never resolves.
pub trait Resolve: Send + Sync {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;

    /// Every name of a kind, answered in the same order. By default one after another.
    fn resolve_all(&self, names: &[&str]) -> Vec<Result<Vec<IpAddr>, String>> {
        names.iter().map(|name| self.resolve(name)).collect()
    }

    /// Told once per kind about each name that did not resolve. By default [`Resolve::unresolved`].
    fn report_unresolved(&self, report: &Unresolved<'_>) {
        self.unresolved(report.name, report.reason);
    }

    /// The warning on standard error for a name that did not resolve.
    fn unresolved(&self, name: &str, reason: &str) {
        eprintln!("{}", warning(name, reason));
    }
}

/// `armr: warning: hostname `NAME` in the rules does not resolve (REASON): its rules match nothing`
pub fn warning(name: &str, reason: &str) -> String {
    format!(
        "armr: warning: hostname `{}` in the rules does not resolve ({reason}): its rules match nothing",
        name.escape_debug()
    )
}

/// At most this many helper threads look names up at once.
const HELPERS: usize = 8;

/// The system resolver: `/etc/hosts` read once when NSS asks it first, then `getaddrinfo` (DNS
/// and whatever NSS is configured) for the rest, concurrently, within one deadline.
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver {
    /// Runs each helper thread's work. The preload wraps it in its reentrancy guard, so that the
    /// resolver's own socket calls (DNS queries) pass through its hooks unjudged.
    pub helper: fn(&mut dyn FnMut()),
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver {
            helper: |work| work(),
        }
    }
}

/// One name through `getaddrinfo`: its addresses, sorted, without repeats.
fn lookup(name: &str) -> Result<Vec<IpAddr>, String> {
    let addrs = (name, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    ips.sort_unstable();
    ips.dedup();
    if ips.is_empty() {
        return Err("no addresses".into());
    }
    Ok(ips)
}

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.resolve_all(&[name])
            .pop()
            .unwrap_or_else(|| lookup(name))
    }

    fn resolve_all(&self, names: &[&str]) -> Vec<Result<Vec<IpAddr>, String>> {
        let deadline = lookup_deadline(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            std::env::var("RES_OPTIONS").ok().as_deref(),
        );
        let mut answers: Vec<Option<Result<Vec<IpAddr>, String>>> = vec![None; names.len()];
        let files_first =
            std::fs::read_to_string("/etc/nsswitch.conf").is_ok_and(|text| hosts_file_first(&text));
        if files_first {
            let wanted: Vec<&str> = names.iter().copied().filter(|n| !numeric_form(n)).collect();
            if !wanted.is_empty()
                && let Ok(bytes) = std::fs::read("/etc/hosts")
            {
                // A comment in another encoding must not cost the whole file.
                let found = hosts_file(&String::from_utf8_lossy(&bytes), &wanted);
                for (answer, name) in answers.iter_mut().zip(names) {
                    if let Some(ips) = found.get(*name) {
                        *answer = Some(Ok(ips.clone()));
                    }
                }
            }
        }
        let rest: Vec<usize> = (0..names.len()).filter(|&i| answers[i].is_none()).collect();
        if !rest.is_empty() {
            let looked_up = concurrently(
                rest.iter().map(|&i| names[i].to_string()).collect(),
                deadline,
                self.helper,
            );
            for (i, answer) in rest.into_iter().zip(looked_up) {
                answers[i] = Some(answer.unwrap_or_else(|| {
                    Err(format!(
                        "no answer within {} s, the resolver's timeout",
                        deadline.as_secs()
                    ))
                }));
            }
        }
        answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err("not looked up".into())))
            .collect()
    }
}

/// Looks `names` up on up to [`HELPERS`] threads, each running under `helper`; `None` for a name
/// not answered within `timeout`. A thread still waiting for the resolver then finishes on its
/// own, its answer dropped. When no thread can be started, the names are looked up here, one
/// after another, until the deadline.
fn concurrently(
    names: Vec<String>,
    timeout: Duration,
    helper: fn(&mut dyn FnMut()),
) -> Vec<Option<Result<Vec<IpAddr>, String>>> {
    let deadline = Instant::now() + timeout;
    let count = names.len();
    let work = Arc::new((names, AtomicUsize::new(0)));
    let (tx, rx) = mpsc::channel();
    let run = move |work: &(Vec<String>, AtomicUsize),
                    tx: &mpsc::Sender<(usize, Result<Vec<IpAddr>, String>)>| {
        loop {
            let i = work.1.fetch_add(1, Ordering::Relaxed);
            let Some(name) = work.0.get(i) else { break };
            if Instant::now() >= deadline || tx.send((i, lookup(name))).is_err() {
                break;
            }
        }
    };
    let mut started = 0;
    for _ in 0..count.min(HELPERS) {
        let (work, tx) = (work.clone(), tx.clone());
        let spawned = std::thread::Builder::new()
            .name("armr-resolve".into())
            .spawn(move || helper(&mut || run(&work, &tx)));
        if spawned.is_err() {
            break;
        }
        started += 1;
    }
    if started == 0 {
        run(&work, &tx);
    }
    drop(tx);
    let mut answers = vec![None; count];
    let mut answered = 0;
    while answered < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, answer)) => {
                answers[i] = Some(answer);
                answered += 1;
            }
            Err(_) => break,
        }
    }
    answers
}

/// The time one name may take: glibc's `timeout` × `attempts` (5 s × 2 by default), from
/// `/etc/resolv.conf`'s `options` lines then `RES_OPTIONS`, as glibc reads them; what
/// `getaddrinfo` takes for one name whose nameserver does not answer.
pub fn lookup_deadline(resolv_conf: &str, res_options: Option<&str>) -> Duration {
    let (mut timeout, mut attempts) = (5u64, 2u64);
    let mut apply = |options: &str| {
        for option in options.split_ascii_whitespace() {
            let value = |key: &str| option.strip_prefix(key)?.parse::<u64>().ok();
            if let Some(t) = value("timeout:") {
                timeout = t.clamp(1, 30);
            } else if let Some(a) = value("attempts:") {
                attempts = a.clamp(1, 5);
            }
        }
    };
    for line in resolv_conf.lines() {
        if let Some(options) = line.strip_prefix("options")
            && options.starts_with([' ', '\t'])
        {
            apply(options);
        }
    }
    if let Some(options) = res_options {
        apply(options);
    }
    Duration::from_secs(timeout * attempts)
}

/// True when NSS asks the hosts file first, and stops there when it finds the name (`hosts:
/// files ...`, `files` without an action): then a name the file holds is answered by the file
/// alone, as glibc does. Anything else (no `hosts` line, another service first, an action after
/// `files`) leaves every name to `getaddrinfo`.
pub fn hosts_file_first(nsswitch: &str) -> bool {
    let mut lines = nsswitch.lines().filter_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim_start();
        line.strip_prefix("hosts:")
    });
    let (Some(services), None) = (lines.next(), lines.next()) else {
        return false;
    };
    let mut words = services.split_ascii_whitespace();
    words.next() == Some("files") && !words.next().is_some_and(|w| w.starts_with('['))
}

/// True for a name `getaddrinfo` reads as a numeric IPv4 address (`inet_aton`: `127.1`,
/// `0x7f.1`): never looked up in the hosts file.
fn numeric_form(name: &str) -> bool {
    name.split('.').all(|part| {
        let digits = part
            .strip_prefix("0x")
            .or_else(|| part.strip_prefix("0X"))
            .unwrap_or(part);
        !part.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())
    }) && name.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// The addresses the hosts file gives each of `names` (lower-case), as glibc's `files` service
/// answers `getaddrinfo`: every line naming it (first name or alias, without regard to case), in
/// file order, IPv4 and IPv6; `#` starts a comment; a line whose address does not parse is
/// ignored. Names the file does not hold are absent. One pass over the file.
pub fn hosts_file(text: &str, names: &[&str]) -> FxMap<String, Vec<IpAddr>> {
    let mut found: FxMap<String, Vec<IpAddr>> = FxMap::default();
    let wanted: FxMap<&str, ()> = names.iter().map(|n| (*n, ())).collect();
    let mut lower = String::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        // glibc's isspace: space, \t, \n, \v, \f, \r.
        let mut fields = line
            .split(|c: char| c.is_ascii_whitespace() || c == '\x0b')
            .filter(|f| !f.is_empty());
        let Some(address) = fields.next() else {
            continue;
        };
        let ip = match address.parse::<Ipv4Addr>() {
            Ok(v4) => IpAddr::V4(v4),
            Err(_) => match address.parse::<Ipv6Addr>() {
                Ok(v6) => IpAddr::V6(v6),
                Err(_) => continue,
            },
        };
        for host in fields {
            lower.clear();
            lower.extend(host.chars().map(|c| c.to_ascii_lowercase()));
            if let Some((name, ())) = wanted.get_key_value(lower.as_str()) {
                let ips = found.entry((*name).to_string()).or_default();
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
    }
    for ips in found.values_mut() {
        ips.sort_unstable();
    }
    found
}

/// True for `localhost` and the names under it: RFC 6761 makes them the loopback addresses,
/// whatever the hosts file or the resolver say. Names are lower-case, without a final dot.
pub fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_hosts_file_is_read_as_glibc_reads_it() {
        let text = "127.0.0.1\tlocalhost\n\
                    # 10.0.0.9 db.test (a comment)\n\
                    10.0.0.5 Db.Test db  # the first line naming it\n\
                    fd00::5 other.test DB.TEST\n\
                    10.0.0.5 db.test\n\
                    10.0.0.300 db.test\n\
                    fe80::1%eth0 db.test\n\
                    \x0b10.0.0.7\x0bweb.test\n\
                    10.0.0.8\n";
        let found = hosts_file(text, &["db.test", "db", "web.test", "gone.test"]);
        assert_eq!(found["db.test"], [ip("10.0.0.5"), ip("fd00::5")]);
        assert_eq!(found["db"], [ip("10.0.0.5")]);
        assert_eq!(found["web.test"], [ip("10.0.0.7")]);
        assert!(!found.contains_key("gone.test"));
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn the_hosts_file_answers_only_when_nss_asks_it_first_and_stops_there() {
        assert!(hosts_file_first(
            "passwd: files\nhosts:          files dns\n"
        ));
        assert!(hosts_file_first("hosts: files\n"));
        assert!(hosts_file_first(
            "# hosts: dns\nhosts: files mdns4_minimal [NOTFOUND=return] dns"
        ));
        assert!(!hosts_file_first(""), "glibc's default asks DNS first");
        assert!(!hosts_file_first("hosts: dns files\n"));
        assert!(!hosts_file_first(
            "hosts: mymachines resolve [!UNAVAIL=return] files myhostname dns\n"
        ));
        assert!(!hosts_file_first("hosts: files [SUCCESS=continue] dns\n"));
        assert!(!hosts_file_first("hosts: files dns\nhosts: dns\n"));
    }

    #[test]
    fn numeric_forms_are_left_to_getaddrinfo() {
        for name in ["127.1", "10.0.0.1", "0x7f.1", "2130706433"] {
            assert!(numeric_form(name), "{name}");
        }
        for name in ["db.test", "1.example", "deadbeef", "a1"] {
            assert!(!numeric_form(name), "{name}");
        }
    }

    #[test]
    fn the_deadline_is_one_names_timeout_as_glibc_configures_it() {
        assert_eq!(lookup_deadline("", None), Duration::from_secs(10));
        assert_eq!(
            lookup_deadline("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n", None),
            Duration::from_secs(2)
        );
        assert_eq!(
            lookup_deadline("options timeout:3\noptions\tattempts:3 rotate\n", None),
            Duration::from_secs(9)
        );
        assert_eq!(
            lookup_deadline("options timeout:3\n", Some("timeout:1 attempts:1")),
            Duration::from_secs(1)
        );
        assert_eq!(
            lookup_deadline("options timeout:99 attempts:99\noptionsx timeout:1\n", None),
            Duration::from_secs(150),
            "glibc's limits: 30 s, 5 attempts"
        );
    }

    #[test]
    fn localhost_names() {
        assert!(is_localhost("localhost") && is_localhost("db.localhost"));
        assert!(!is_localhost("localhost.example") && !is_localhost("notlocalhost"));
    }

    #[test]
    fn names_not_answered_by_the_deadline_count_as_not_resolving() {
        fn slow(work: &mut dyn FnMut()) {
            // Stands for a resolver that does not answer: the thread starts late.
            std::thread::sleep(Duration::from_millis(400));
            work();
        }
        let start = Instant::now();
        let answers = concurrently(
            vec!["a.invalid".into(), "b.invalid".into()],
            Duration::from_millis(100),
            slow,
        );
        assert_eq!(answers, [None, None]);
        assert!(start.elapsed() < Duration::from_millis(350));
    }
}
