//! armr: ARMR socket rules, read, judged and logged in safe Rust.
//!
//! This crate is the part of armr that needs no libc: the rule [`language`] (parser, validation,
//! diagnostics and the typed model), the [`policy`] engine that picks the rule for each event, and
//! the [`verdict`] every enforcer carries out (forward or refuse, and the event to log). The `armr`
//! command and the preload library are built on it.

#![forbid(unsafe_code)]

pub mod address;
pub mod check;
pub mod config;
pub mod digest;
pub mod event;
pub mod hash;
pub mod language;
pub mod policy;
pub mod verdict;
