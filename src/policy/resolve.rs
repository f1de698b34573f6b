//! Hostnames in rules, resolved when first needed.

use std::net::{IpAddr, ToSocketAddrs};

/// Turns a rule's hostname into addresses. Called at most once per name and policy, on the first
/// decision that needs it, so that a process which never opens a network socket never resolves.
pub trait Resolve: Send + Sync {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;

    /// Told once about each name that did not resolve: the rules naming it match nothing.
    fn unresolved(&self, name: &str, reason: &str) {
        eprintln!(
            "armr: warning: hostname `{}` in the rules does not resolve ({reason}): its rules match nothing",
            name.escape_debug()
        );
    }
}

/// The system resolver (`getaddrinfo`): `/etc/hosts`, DNS, and whatever NSS is configured.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = (name, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
        let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.sort_unstable();
        ips.dedup();
        if ips.is_empty() {
            return Err("no addresses".into());
        }
        Ok(ips)
    }
}
