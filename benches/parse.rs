//! Parse + validate throughput: `armr::language::load` on generated files of N socket rules.
//!
//! Run with `cargo bench --bench parse`. The target is 10,000 rules in under 10 ms on one core.

mod common;

use armr::language::{SourceFile, load};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// The generated text must load cleanly, or the benchmark would time the error paths.
fn check(text: &str, n: usize) {
    let loaded = load(vec![SourceFile::new("bench.armr", text)]);
    assert!(
        loaded.is_ok(),
        "generated file of {n} rules has errors:\n{}",
        loaded.files[0].render()
    );
    assert_eq!(loaded.errors(), 0);
    let rules: usize = loaded.rules.apps.iter().map(|a| a.rules.len()).sum();
    assert_eq!(rules, n, "generated file should hold {n} socket rules");
    assert_eq!(loaded.files[0].socket_rules, n);
    assert_eq!(loaded.rules.apps.len(), n.div_ceil(common::RULES_PER_APP));
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    for n in SIZES {
        let text = common::rules_file(n);
        check(&text, n);
        if n >= 10_000 {
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(10));
        } else {
            group
                .sample_size(100)
                .measurement_time(Duration::from_secs(5));
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            // Building the SourceFile (a copy of the text) is setup; the
            // loaded rule set is dropped outside the timed section.
            b.iter_batched(
                || vec![SourceFile::new("bench.armr", text.as_str())],
                |sources| black_box(load(black_box(sources))),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
