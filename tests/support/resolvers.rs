//! Fake resolvers for policies built in a test (`Policy::with_resolver`): a fixed table, or one
//! answer for every name, counting the questions. (A fake DNS server for programs: [`super::dns`].)

use armr::policy::Resolve;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Names and what they resolve to; any other name does not resolve. Clones share the count.
#[derive(Clone, Default)]
pub struct Table {
    entries: Vec<(String, Vec<IpAddr>)>,
    /// The answer to a name the table does not hold (a hostile resolver's), if any.
    otherwise: Option<Vec<IpAddr>>,
    asked: Arc<AtomicUsize>,
}

fn ips(addresses: &[&str]) -> Vec<IpAddr> {
    addresses
        .iter()
        .map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}")))
        .collect()
}

impl Table {
    /// `entries`: `(name, addresses)`.
    pub fn new(entries: &[(&str, &[&str])]) -> Table {
        Table {
            entries: entries
                .iter()
                .map(|(name, addresses)| (name.to_string(), ips(addresses)))
                .collect(),
            ..Table::default()
        }
    }

    /// A resolver that answers `addresses` for every name.
    pub fn answering_all(addresses: &[&str]) -> Table {
        Table {
            otherwise: Some(ips(addresses)),
            ..Table::default()
        }
    }

    /// What `name` resolves to, without counting a question.
    pub fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ips)| ips.clone())
            .or_else(|| self.otherwise.clone())
    }

    /// How many names were asked so far.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

impl Resolve for Table {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.lookup(name)
            .ok_or_else(|| format!("{name}: not in the fake table"))
    }

    fn unresolved(&self, _name: &str, _reason: &str) {}
}
