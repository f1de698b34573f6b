//! Policy engine: `Policy::decide` latency against rule sets of N socket rules, and the cost of
//! compiling the index (`Policy::new`).
//!
//! Run with `cargo bench --bench policy`. Targets: the median lookup at 100,000 rules within 2x of
//! the one at 100 rules and under 100 ns; building the index of 10,000 rules under 5 ms.
//!
//! The rule sets are ARMR text generated here and loaded with `armr::language::load` (so every
//! rule is one the language accepts), then compiled. Rule `i` has shape `SHAPES[i % 20]` and
//! serial `k = i / 20`; each shape puts its `k`th rule in its own address space, so a query built
//! from a shape and a serial hits exactly that rule and the expected winner is known (and
//! checked before timing). No hostnames: they would need DNS. Actions cycle protect, allow,
//! detect.
//!
//! `connect` has no `0.0.0.0:0` rule, so an address outside every space on a port no
//! any-address rule names matches nothing: that is the miss case.

use armr::language::{RuleSet, SourceFile, load};
use armr::policy::{EventKind, Mode, Policy};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// Rule shapes, one per residue of `i % 20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    // connect: 13 of 20 rules.
    /// `10.1.x.y:PORT`
    ExactV4,
    /// `[fd00::x:y]:PORT`
    ExactV6,
    /// `172.16-31.x.y:LO-HI`
    RangeV4,
    /// `[fd01::x:y]:LO-HI`
    RangeV6,
    /// `N.0.0.0/8:PORT`, N in 30..90 (many rules share a block, each on its own port)
    Cidr8,
    /// `N.x.0.0/16:5000-5100`, N in 100..150
    Cidr16,
    /// `12.x.y.0/24:443`, or port 0 for odd serials
    Cidr24,
    /// `[fd10:x:y::/48]:443`
    Cidr48V6,
    /// `[fd20:x::/32]:0`
    Cidr32V6,
    /// `0.0.0.0:PORT`, PORT in 20000..30000
    AnyHostV4,
    /// `[::]:PORT`, PORT in 40000..50000
    AnyHostV6,
    /// `0.0.0.0:LO-HI`, inside 30000..40000
    AnyHostRange,
    /// `10.2.x.y:0`
    AnyPort,
    // accept: 4 of 20.
    AcceptExact,
    AcceptCidr16,
    AcceptCidr48V6,
    AcceptAny,
    // bind: 3 of 20.
    BindServerExact,
    BindServerAny,
    BindClientAnyPort,
}

const SHAPES: [Shape; 20] = [
    Shape::ExactV4,
    Shape::ExactV6,
    Shape::RangeV4,
    Shape::RangeV6,
    Shape::Cidr8,
    Shape::Cidr16,
    Shape::Cidr24,
    Shape::Cidr48V6,
    Shape::Cidr32V6,
    Shape::AnyHostV4,
    Shape::AnyHostV6,
    Shape::AnyHostRange,
    Shape::AnyPort,
    Shape::AcceptExact,
    Shape::AcceptCidr16,
    Shape::AcceptCidr48V6,
    Shape::AcceptAny,
    Shape::BindServerExact,
    Shape::BindServerAny,
    Shape::BindClientAnyPort,
];

fn shape_index(shape: Shape) -> usize {
    SHAPES.iter().position(|&s| s == shape).unwrap()
}

fn v4(a: u8, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(a, (k >> 16) as u8, (k >> 8) as u8, k as u8)
}

fn v6(first: u16, k: usize) -> Ipv6Addr {
    Ipv6Addr::new(first, 0, 0, 0, 0, 0, (k >> 16) as u16, k as u16)
}

fn exact_port(k: usize) -> u16 {
    1 + (k * 7919 % 19_000) as u16
}

fn range_lo(k: usize) -> u16 {
    1 + (k * 104_729 % 60_000) as u16
}

/// The condition of the `k`th rule of `shape`, as written in a rules file.
fn condition(shape: Shape, k: usize) -> String {
    let any_port = 20_000 + (k % 10_000) as u16;
    match shape {
        Shape::ExactV4 => format!(r#"connect("{}:{}")"#, v4(10, k | 0x01_0000), exact_port(k)),
        Shape::ExactV6 => format!(r#"connect("[{}]:{}")"#, v6(0xfd00, k), exact_port(k)),
        Shape::RangeV4 => {
            let ip = Ipv4Addr::new(172, 16 + ((k >> 16) & 15) as u8, (k >> 8) as u8, k as u8);
            format!(r#"connect("{ip}:{}-{}")"#, range_lo(k), range_lo(k) + 100)
        }
        Shape::RangeV6 => format!(
            r#"connect("[{}]:{}-{}")"#,
            v6(0xfd01, k),
            range_lo(k),
            range_lo(k) + 100
        ),
        Shape::Cidr8 => format!(r#"connect("{}.0.0.0/8:{}")"#, 30 + k % 60, 1000 + k),
        Shape::Cidr16 => format!(
            r#"connect("{}.{}.0.0/16:5000-5100")"#,
            100 + (k >> 8) % 50,
            k & 0xff
        ),
        Shape::Cidr24 => {
            let port = if k.is_multiple_of(2) { 443 } else { 0 };
            format!(
                r#"connect("12.{}.{}.0/24:{port}")"#,
                (k >> 8) & 0xff,
                k & 0xff
            )
        }
        Shape::Cidr48V6 => {
            let net = Ipv6Addr::new(0xfd10, (k >> 16) as u16, k as u16, 0, 0, 0, 0, 0);
            format!(r#"connect("[{net}/48]:443")"#)
        }
        Shape::Cidr32V6 => {
            let net = Ipv6Addr::new(0xfd20, k as u16, 0, 0, 0, 0, 0, 0);
            format!(r#"connect("[{net}/32]:0")"#)
        }
        Shape::AnyHostV4 => format!(r#"connect("0.0.0.0:{any_port}")"#),
        Shape::AnyHostV6 => format!(r#"connect("[::]:{}")"#, 40_000 + k % 10_000),
        Shape::AnyHostRange => {
            let lo = 30_000 + (k % 1000) * 10;
            format!(r#"connect("0.0.0.0:{lo}-{}")"#, lo + 5)
        }
        Shape::AnyPort => format!(r#"connect("{}:0")"#, v4(10, k | 0x02_0000)),
        Shape::AcceptExact => format!(r#"accept("{}:{}")"#, v4(192, k | 0xa8_0000), exact_port(k)),
        Shape::AcceptCidr16 => {
            format!(r#"accept("{}.{}.0.0/16:0")"#, 150 + (k >> 8) % 50, k & 0xff)
        }
        Shape::AcceptCidr48V6 => {
            let net = Ipv6Addr::new(0xfd30, (k >> 16) as u16, k as u16, 0, 0, 0, 0, 0);
            format!(r#"accept("[{net}/48]:0")"#)
        }
        Shape::AcceptAny => format!(r#"accept("0.0.0.0:{any_port}")"#),
        Shape::BindServerExact => format!(
            r#"bind(server: "{}:{}")"#,
            v4(127, k | 0x01_0000),
            8000 + k % 1000
        ),
        Shape::BindServerAny => format!(r#"bind(server: "0.0.0.0:{any_port}")"#),
        Shape::BindClientAnyPort => format!(r#"bind(client: "{}:0")"#, v4(10, k | 0x03_0000)),
    }
}

fn action(i: usize) -> String {
    match i % 3 {
        0 => format!(r#"protect(message: "rule {i}", severity: High)"#),
        1 => "allow()".to_string(),
        _ => format!(r#"detect(message: "rule {i}")"#),
    }
}

const RULES_PER_APP: usize = 100;

/// A rules file of `n` socket rules (apps of [`RULES_PER_APP`]).
fn rules_text(n: usize) -> String {
    let mut out = String::with_capacity(n * 120);
    for a in 0..n.div_ceil(RULES_PER_APP) {
        writeln!(
            out,
            "app(\"policy bench {a}\"):\n    requires(version: ARMR/2.11)"
        )
        .unwrap();
        for i in a * RULES_PER_APP..n.min((a + 1) * RULES_PER_APP) {
            let shape = SHAPES[i % SHAPES.len()];
            let k = i / SHAPES.len();
            writeln!(
                out,
                "    socket(\"r{i}\"):\n        {}\n        {}\n    endsocket",
                condition(shape, k),
                action(i)
            )
            .unwrap();
        }
        out.push_str("endapp\n");
    }
    out
}

fn rule_set(n: usize) -> RuleSet {
    let loaded = load(vec![SourceFile::new("policy-bench.armr", rules_text(n))]);
    assert!(
        loaded.is_ok(),
        "generated rules have errors:\n{}",
        loaded.files[0].render()
    );
    let count: usize = loaded.rules.apps.iter().map(|a| a.rules.len()).sum();
    assert_eq!(count, n);
    loaded.rules
}

/// One timed lookup: an event, and the rule expected to decide it (`None`: no rule matches).
struct Case {
    name: &'static str,
    kind: EventKind,
    addr: SocketAddr,
    expect: Option<u32>,
}

/// The middle serial of `shape` in a set of `n` rules (`n` a multiple of 20), and that rule's
/// global index.
fn middle(shape: Shape, n: usize) -> (usize, u32) {
    let k = n / SHAPES.len() / 2;
    (k, (k * SHAPES.len() + shape_index(shape)) as u32)
}

fn sa(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

/// A query that hits the `k`th rule of `shape` (connect shapes only), and the port it uses.
fn hit(shape: Shape, k: usize) -> SocketAddr {
    match shape {
        Shape::ExactV4 => sa(v4(10, k | 0x01_0000), exact_port(k)),
        Shape::ExactV6 => sa(v6(0xfd00, k), exact_port(k)),
        Shape::RangeV4 => sa(
            Ipv4Addr::new(172, 16 + ((k >> 16) & 15) as u8, (k >> 8) as u8, k as u8),
            range_lo(k) + 50,
        ),
        Shape::RangeV6 => sa(v6(0xfd01, k), range_lo(k) + 50),
        Shape::Cidr24 => sa(Ipv4Addr::new(12, (k >> 8) as u8, k as u8, 77), 443),
        Shape::Cidr48V6 => sa(
            Ipv6Addr::new(0xfd10, (k >> 16) as u16, k as u16, 0x1234, 0, 0, 0, 9),
            443,
        ),
        Shape::AnyHostV4 => sa(Ipv4Addr::new(198, 51, 100, 7), 20_000 + (k % 10_000) as u16),
        other => unreachable!("no query for {other:?}"),
    }
}

fn cases(n: usize) -> Vec<Case> {
    let mut out = Vec::new();
    for (name, shape) in [
        ("exact_v4", Shape::ExactV4),
        ("exact_v6", Shape::ExactV6),
        ("range_v4", Shape::RangeV4),
        ("cidr24_v4", Shape::Cidr24),
        ("cidr48_v6", Shape::Cidr48V6),
        ("wildcard_only", Shape::AnyHostV4),
    ] {
        let (k, i) = middle(shape, n);
        out.push(Case {
            name,
            kind: EventKind::Connect,
            addr: hit(shape, k),
            expect: Some(i),
        });
    }
    out.push(Case {
        name: "miss_v4",
        kind: EventKind::Connect,
        addr: sa(Ipv4Addr::new(203, 0, 113, 5), 65_000),
        expect: None,
    });
    out.push(Case {
        name: "miss_v6",
        kind: EventKind::Connect,
        addr: sa(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5), 65_000),
        expect: None,
    });
    out
}

/// 1024 queries spread over the whole rule set (hits of every connect shape at serials across
/// the set, and misses), so that consecutive lookups touch different parts of the index.
fn spread(n: usize) -> Vec<(SocketAddr, Option<u32>)> {
    let shapes = [
        Shape::ExactV4,
        Shape::ExactV6,
        Shape::RangeV4,
        Shape::Cidr24,
        Shape::Cidr48V6,
        Shape::AnyHostV4,
    ];
    let per_shape = n / SHAPES.len();
    (0..1024)
        .map(|q| {
            let k = (q * 7_919 + q / 7) % per_shape;
            match q % 7 {
                6 => (sa(Ipv4Addr::new(203, 0, 113, q as u8), 65_000), None),
                s => {
                    let shape = shapes[s];
                    (
                        hit(shape, k),
                        Some((k * SHAPES.len() + shape_index(shape)) as u32),
                    )
                }
            }
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(100);
    for n in SIZES {
        let policy = Policy::new(rule_set(n), Mode::Enforce);
        for case in cases(n) {
            let got = policy.decide(case.kind, case.addr).map(|d| d.rule);
            assert_eq!(
                got, case.expect,
                "{} at {n} rules decided by the wrong rule",
                case.name
            );
            group.bench_with_input(BenchmarkId::new(case.name, n), &case, |b, case| {
                b.iter(|| policy.decide(black_box(case.kind), black_box(case.addr)))
            });
        }
        let queries = spread(n);
        for (addr, expect) in &queries {
            assert_eq!(
                policy.decide(EventKind::Connect, *addr).map(|d| d.rule),
                *expect,
                "spread query {addr}"
            );
        }
        // One lookup per iteration, walking the 1024 queries in turn.
        group.bench_with_input(
            BenchmarkId::new("spread_1024", n),
            &queries,
            |b, queries| {
                let mut q = 0usize;
                b.iter(|| {
                    let (addr, _) = queries[q & 1023];
                    q = q.wrapping_add(1);
                    policy.decide(EventKind::Connect, black_box(addr))
                })
            },
        );
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    let n = 10_000;
    let rules = rule_set(n);
    group.bench_with_input(BenchmarkId::from_parameter(n), &rules, |b, rules| {
        // The clone is setup; the policy is dropped outside the timed section.
        b.iter_batched(
            || rules.clone(),
            |rules| Policy::new(black_box(rules), Mode::Enforce),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, decide, build);
criterion_main!(benches);
