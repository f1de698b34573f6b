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
const DIFFERENCES: &[(&str, &str)] = &[
    ("socket-integration/validRampartRuleWithTwoRules", TLS),
    ("socket-integration/validRampartRuleTlsUpgrade", TLS),
    ("socket-integration/validRampartRuleSecureSockets", TLS),
    (
        "socket-integration/ipv6AddressServerAcceptingConnections",
        TLS,
    ),
    ("socket-integration/validProtectStacktraceField2_5", TLS),
    (
        "socket-action/protectActionHasConnectionTargetWithSecureAttribute",
        TLS,
    ),
    (
        "socket-action/protectActionHasConnectionTargetWithUpgradeTlsAttribute",
        TLS,
    ),
    (
        "socket-cross-validation/acceptOperationWithProtectActionWildcardIpv4AddressAndSinglePort",
        TLS,
    ),
    (
        "socket-cross-validation/acceptOperationWithProtectActionWildcardIpv6AddressAndSinglePort",
        TLS,
    ),
    (
        "socket-cross-validation/acceptOperationWithProtectActionWildcardIpv4AddressAndPort",
        TLS,
    ),
    (
        "socket-cross-validation/acceptOperationWithProtectActionWildcardIpv6AddressAndPort",
        TLS,
    ),
    ("socket-integration/validTaintSourceAttribute2_9", API),
    ("socket-integration/apiFilterAnyClauseIsSupported", API),
    ("socket-integration/apiFilterUrlPatternIsSupported", API),
    ("grammar-common/appNameEndsWithSingleBackslash", BACKSLASH),
    (
        "grammar-common/appNameNotEscapedBackslashesAreEscapedWhenFormatted",
        BACKSLASH,
    ),
    (
        "grammar-common/appNameWithNotEscapedBackslashesAndEscapedBackslash",
        BACKSLASH,
    ),
    ("grammar-common/metadataWithSpecialCharacters", BACKSLASH),
    (
        "grammar-common/ruleWithVersionLessThan1_5ReturnsAnyForTargetOsListWhenNotSet",
        VERSION_1,
    ),
    (
        "grammar-common/appWithMixedRulesAndVersionLessThan1_5IgnoresLibraryRule",
        VERSION_1,
    ),
    (
        "grammar-common/appWithMixedRulesAndVersionLessThan1_5IgnoresProcessRule",
        VERSION_1,
    ),
    ("grammar-common/syntaxErrorToIncludeRuleName", OTHER_KINDS),
    ("grammar-reader/appVersionOverridesFirst", REPLACED_APP),
    ("grammar-reader/appVersionOverridesLast", REPLACED_APP),
    (
        "grammar-reader/appVersionOverrideErrorMessage",
        REPLACED_APP,
    ),
    ("grammar-reader/emptyContentReturnsEmptyRules", EMPTY_FILE),
    ("grammar-reader/textWithCommentsOnly", EMPTY_FILE),
    ("grammar-reader/emptyText", EMPTY_FILE),
    ("grammar-reader/textWithWhitespace", EMPTY_FILE),
    ("grammar-reader/textWithSingleHashComment", EMPTY_FILE),
    (
        "socket-cross-validation/bindOperationWithProtectActionNoTargets",
        "a hostname in `bind` is an error in armr: bind names one of the host's own addresses, and a name would resolve to addresses the host may not have",
    ),
    (
        "socket-operation/acceptOperationWithIncorrectIpv4AddressThatCouldBeDomain",
        "a dotted quad with a number above 255 is a mistyped IPv4 address in armr, not a hostname (a hostname's last label is never all digits, RFC 1123 2.1); the reference reads it as a name to resolve",
    ),
    (
        "target-os/invalidTargetOSTypeThrowsException",
        "a single constant `os: aix` is read as a list of one, as the vendor's language description allows; the reference wants a list",
    ),
    (
        "metadata-validator/singleDescriptiveMetadataCalledLog",
        "`log` must be a dictionary in armr: the reference reads `log: \"bar\"` as a descriptive entry named log that is never logged, silently losing what the author meant",
    ),
];

const TLS: &str = "TLS `connection:` is not supported by armr: an LD_PRELOAD library cannot upgrade a socket to TLS, and reading the rule as a plain protect would misread it";
const API: &str = "the API Protect statements `input()`/`api()` are not supported by armr: it sees sockets, not HTTP requests, and reading the rule without them would widen it";
const BACKSLASH: &str = r#"a backslash that escapes nothing is an error in armr: the only escapes are `\"` and `\\`, and a stray one is most often a mistyped escape"#;
const VERSION_1: &str = "armr reads language versions 2.0 to 2.11 only: socket rules need 2.1, and the 1.x dialect's rules differ";
const EMPTY_FILE: &str = "a rules file without an app is an error in armr: enforcing nothing from a file the user named is never what they meant";
const OTHER_KINDS: &str = "armr does not check the statements of rule kinds it does not enforce (it would need each kind's grammar); it skips the rule with a warning";
const REPLACED_APP: &str = "a lower `version(N)` of an app is ignored with a warning, as the vendor's documentation says; the reference reader throws (and reads the rest on a second call)";

fn suite() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference_suite"
    ))
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
        assert!(
            cases.iter().any(|c| c == case),
            "{case} is not in cases.tsv"
        );
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

#[test]
fn docs_state_the_agreement_as_it_is() {
    let agree = cases()
        .iter()
        .filter(|(case, reference)| armr_accepts(case).0 == *reference)
        .count();
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    let claim = format!(
        "armr agrees with the reference on {agree} and differs on {},",
        cases().len() - agree
    );
    assert!(
        docs.replace('\n', " ").contains(&claim),
        "docs/rules.md should say: {claim}"
    );
}
