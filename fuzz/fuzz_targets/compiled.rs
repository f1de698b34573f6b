//! Fuzz target `compiled`: arbitrary bytes as a compiled policy file (docs/compiled.md), as the
//! library maps one from ARMR_RULES. Seeds: `fuzz/seeds-compiled/` (valid files, so that
//! mutations reach past the header). For every input:
//!
//! - loading (`Policy::from_compiled`) never panics: it accepts the file or says what is wrong;
//! - on a file it accepts, every lookup the hooks make (`quick_rank_v4` and `finish_rank_v4`,
//!   `best_rank_v4`, `best_rank_v6`, `best_rank`, `decide` for each kind, IPv4, IPv6 and the unspecified addresses), the rule of
//!   every decision, the rules and the provenance never panic and never loop: every access is
//!   bounded.
//!
//! Hostnames resolve to nothing here: a mangled name is never sent to a real resolver.

#![no_main]

use armr::policy::{EventKind, Mode, Policy, Resolve};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};

struct NoNames;

impl Resolve for NoNames {
    fn resolve(&self, _: &str) -> Result<Vec<IpAddr>, String> {
        Err("not resolved while fuzzing".into())
    }
    fn unresolved(&self, _: &str, _: &str) {}
}

const ADDRESSES: &[&str] = &[
    "127.0.0.1:80",
    "10.1.2.3:443",
    "0.0.0.0:7000",
    "[::]:7000",
    "[::1]:22",
    "[fd00::1]:5432",
    "[::ffff:10.0.0.1]:53",
    "255.255.255.255:65535",
];

fuzz_target!(|data: &[u8]| {
    // Aligned as a mapping is, freed after the policy that borrows it.
    let mut words = vec![0u128; data.len().div_ceil(16)].into_boxed_slice();
    zerocopy::IntoBytes::as_mut_bytes(&mut words[..])[..data.len()].copy_from_slice(data);
    let raw: *mut [u128] = Box::into_raw(words);
    // SAFETY: `raw` stays allocated until the end of this function, after `policy` is dropped.
    let bytes: &'static [u8] = unsafe { &zerocopy::IntoBytes::as_bytes(&*raw)[..data.len()] };
    if let Ok(policy) = Policy::from_compiled(bytes, Mode::Enforce, Box::new(NoNames)) {
        for kind in EventKind::ALL {
            for address in ADDRESSES {
                let address: SocketAddr = address.parse().unwrap();
                if let Some(d) = policy.decide(kind, address) {
                    let _ = policy.rule(d.rule);
                }
                if let SocketAddr::V4(v4) = address {
                    let ip = v4.ip().to_bits();
                    if let Some(quick) = policy.quick_rank_v4(kind, ip, v4.port()) {
                        let _ = policy.finish_rank_v4(kind, quick, v4.port());
                    }
                    let _ = policy.best_rank_v4(kind, ip, v4.port());
                }
                if let SocketAddr::V6(v6) = address {
                    let _ = policy.best_rank_v6(kind, v6.ip().to_bits(), v6.port());
                }
            }
        }
        let _ = policy.rules();
        let _ = policy.provenance();
        drop(policy);
    }
    // SAFETY: from Box::into_raw above; nothing borrows it any more.
    drop(unsafe { Box::from_raw(raw) });
});
