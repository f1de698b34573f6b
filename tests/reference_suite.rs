//! Fidelity with the vendor's own parser: the cases of the JUnit suite of Waratek's open Java
//! reference parser (security-as-code/rampart-api, commit edb3a31: its socket, grammar, metadata,
//! target-OS and validator tests), each a rules file in `tests/reference_suite/`, loaded by armr's
//! loader (as `ARMR_RULES` loads it) and checked to be accepted or rejected as the reference does.
//!
//! `cases.tsv` lists every case with the reference's outcome and the JUnit file it comes from.
//! Integration tests give their text as written; a unit test that builds the parser's objects by
//! hand is written as the smallest rules file that holds those objects (a socket rule around the
//! statement under test). Where armr decides otherwise on purpose, the case is in [`DIFFERENCES`]
//! with the reason, and docs/rules.md ("Where armr differs from the reference parser") says why.

use armr::language;
use std::collections::BTreeMap;
use std::path::Path;

/// The cases on which armr deliberately decides otherwise than the reference parser, with why.
/// One place: docs/rules.md explains each reason at more length.
const DIFFERENCES: &[(&str, &str)] = &[];

fn suite() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference_suite"))
}

/// (case, reference accepts it) in the order of cases.tsv.
fn cases() -> Vec<(String, bool)> {
    let manifest = std::fs::read_to_string(suite().join("cases.tsv")).expect("cases.tsv");
    manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let case = fields.next().expect("case").to_string();
            let accepted = match fields.next() {
                Some("accepted") => true,
                Some("rejected") => false,
                other => panic!("{case}: outcome {other:?}"),
            };
            (case, accepted)
        })
        .collect()
}

/// True when armr's loader accepts the case's file, and what it said.
fn armr_accepts(case: &str) -> (bool, String) {
    let path = suite().join(format!("{case}.armr"));
    let load = language::load_paths(&[&path]);
    let said = load.files.iter().map(|f| f.render()).collect::<String>();
    (load.is_ok(), said)
}

#[test]
fn armr_agrees_with_the_reference_parser_except_where_documented() {
    let differences: BTreeMap<&str, &str> = DIFFERENCES.iter().copied().collect();
    let cases = cases();
    let mut agree = 0;
    let mut failures = Vec::new();
    for (case, reference) in &cases {
        let (armr, said) = armr_accepts(case);
        let verdict = |accepts: bool| if accepts { "accepts" } else { "rejects" };
        match (armr == *reference, differences.get(case.as_str())) {
            (true, None) => agree += 1,
            (false, Some(_)) => {}
            (true, Some(_)) => failures.push(format!(
                "{case}: listed as a difference, but armr now agrees with the reference (it {}); \
                 remove it from DIFFERENCES",
                verdict(armr)
            )),
            (false, None) => failures.push(format!(
                "{case}: the reference {} it, armr {}:\n{said}",
                verdict(*reference),
                verdict(armr)
            )),
        }
    }
    eprintln!(
        "armr agrees with the reference parser on {agree} of {} cases; {} documented differences",
        cases.len(),
        differences.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_listed_difference_is_a_case_of_the_suite() {
    let cases: Vec<String> = cases().into_iter().map(|(case, _)| case).collect();
    for (case, reason) in DIFFERENCES {
        assert!(cases.iter().any(|c| c == case), "{case} is not in cases.tsv");
        assert!(!reason.is_empty(), "{case} has no reason");
    }
}

#[test]
fn every_case_file_is_listed() {
    let cases: Vec<String> = cases().into_iter().map(|(case, _)| case).collect();
    for group in std::fs::read_dir(suite()).unwrap() {
        let group = group.unwrap().path();
        if !group.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&group).unwrap() {
            let file = file.unwrap().path();
            let case = format!(
                "{}/{}",
                group.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            assert!(cases.contains(&case), "{case} is not in cases.tsv");
        }
    }
}
