//! The port axis cut into segments, each knowing the best rule that covers it.
//!
//! Built once by a sweep over the rules' port intervals; a lookup is one binary search, narrowed
//! for a table of many segments by a first-level index ([`port_index`], [`search`]) to the few
//! segments of one bucket of ports.

use super::compiled::{Reader, Writer};
use super::rank::Rank;
use super::store::{Mapped, Owned, Store};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Sorted segments of the port range 0..=65535: segment `i` covers ports from `starts[i]` up to
/// the next start, and `best[i]` is the best rank among the rules covering it.
#[derive(Debug)]
pub struct PortSegments<S: Store = Owned> {
    starts: S::Slice<u16>,
    best: S::Slice<Rank>,
    /// For many segments (an any-address rule per port): `buckets[k]` is how many segments start
    /// below port `k * 256`, so that a lookup searches one bucket's segments. Empty otherwise.
    /// (Fixed at 256 buckets rather than a [`port_index`]: these few tables are searched by most
    /// calls, and a fixed shift is the fewest instructions.)
    buckets: S::Slice<u32>,
}

impl<S: Store> Default for PortSegments<S> {
    fn default() -> Self {
        PortSegments {
            starts: Default::default(),
            best: Default::default(),
            buckets: Default::default(),
        }
    }
}

/// Segments from which a table gets a first-level index: below, a binary search of the whole
/// table takes at most four steps.
const INDEXED: usize = 16;

/// Segments from which a [`PortSegments`] narrows its search with buckets.
const BUCKETED: usize = 32;

/// How many segments a bucket of the index should hold at most (a search of two steps), when
/// at most eight buckets per segment achieve it.
const PER_BUCKET: usize = 4;

/// The first-level index of a table of port starts (sorted, `starts[0] == 0`), empty for a small
/// table: `index[0]` is `16 - bits`, and `index[1 + k]` how many starts lie below the first port
/// of bucket `k`, a bucket being the ports that share their top `bits` bits (`1 << bits`
/// buckets; `index[1 + (1 << bits)]` is the table's length). `bits` is at least `least_bits`,
/// and about log2 of the segments, more when they crowd into a few buckets (many ports in a
/// row), up to eight buckets per segment: so beyond `1 << least_bits` the index is at most about
/// 32 bytes per segment, linear in the table.
pub fn port_index(starts: &[u16], least_bits: u32) -> Vec<u32> {
    if starts.len() < INDEXED {
        return Vec::new();
    }
    let log = usize::BITS - 1 - starts.len().leading_zeros();
    let least = log.max(least_bits).min(16);
    let most = (log + 3).max(least).min(16);
    let mut bits = least;
    while bits < most && crowded(starts, bits) > PER_BUCKET {
        bits += 1;
    }
    let shift = 16 - bits;
    let mut index = Vec::with_capacity((1 << bits) + 2);
    index.push(shift);
    let mut i = 0;
    for k in 0..=(1u32 << bits) {
        while i < starts.len() && u32::from(starts[i]) >> shift < k {
            i += 1;
        }
        index.push(i as u32);
    }
    index
}

/// The most starts that share a bucket of `bits` bits.
fn crowded(starts: &[u16], bits: u32) -> usize {
    starts
        .chunk_by(|a, b| a >> (16 - bits) == b >> (16 - bits))
        .map(<[u16]>::len)
        .max()
        .unwrap_or(0)
}

/// The segments of the bucket of `port` in a table's [`port_index`] (a longer slice is read up
/// to the index's own length): `(lo, hi)` such that the segment holding `port` is the last of
/// `lo..hi` starting at or below it, or the one before `lo`. `None` for an index too short (a
/// corrupt compiled file's; its shift may also pick a wrong bucket, still inside the index).
#[inline(always)]
pub fn bucket(index: &[u32], port: u16) -> Option<(usize, usize)> {
    let shift = *index.first()?;
    let k = u32::from(port).wrapping_shr(shift) as usize;
    match index.get(k + 1..k + 3) {
        Some(&[lo, hi]) => Some((lo as usize, hi as usize)),
        _ => None,
    }
}

impl PortSegments<Owned> {
    /// From `(first port, last port, rank)` intervals, in any order.
    pub fn build(intervals: &[(u16, u16, Rank)]) -> PortSegments {
        let (mut starts, mut best) = (Vec::new(), Vec::new());
        append_segments(intervals, &mut starts, &mut best);
        let buckets = if starts.len() >= BUCKETED {
            (0..=256u32)
                .map(|k| starts.partition_point(|&s| u32::from(s) < k << 8) as u32)
                .collect()
        } else {
            Vec::new()
        };
        PortSegments {
            starts: starts.into(),
            best: best.into(),
            buckets: buckets.into(),
        }
    }

    /// Writes the arrays as sections of a compiled file.
    pub(super) fn write(&self, out: &mut Writer) {
        out.section(&self.starts);
        out.section(&self.best);
        out.section(&self.buckets);
    }
}

impl PortSegments<Mapped> {
    /// Reads the sections [`PortSegments::write`] wrote, checking that their sizes agree.
    pub(super) fn read(input: &mut Reader) -> Result<Self, String> {
        let segments = Self {
            starts: input.section()?,
            best: input.section()?,
            buckets: input.section()?,
        };
        if segments.best.len() != segments.starts.len()
            || !matches!(segments.buckets.len(), 0 | 257)
        {
            return Err("port segments of inconsistent sizes".into());
        }
        Ok(segments)
    }
}

impl<S: Store> PortSegments<S> {
    /// The best rank of the rules covering `port` ([`Rank::NONE`] when none does). Cannot panic
    /// (every access is checked).
    #[inline(always)]
    pub fn best(&self, port: u16) -> Rank {
        // One segment, all ports (no rule, or one covering every port: the any-address tables
        // of most policies): no search.
        if let [rank] = *self.best {
            return rank;
        }
        let bucket = usize::from(port >> 8);
        let (lo, hi) = match self.buckets.get(bucket..bucket + 2) {
            Some(&[lo, hi]) => (lo as usize, hi as usize),
            _ => (0, self.starts.len()),
        };
        let Some(starts) = self.starts.get(lo..hi) else {
            return Rank::NONE;
        };
        let i = lo + starts.partition_point(|&s| s <= port);
        // starts[0] == 0, so i >= 1.
        self.best
            .get(i.wrapping_sub(1))
            .copied()
            .unwrap_or(Rank::NONE)
    }
}

/// Appends the segments of `intervals` (`(first port, last port, rank)`, in any order) to
/// `starts` and `best`: the first starts at port 0. Lets many small sets of segments share two
/// vectors.
pub fn append_segments(
    intervals: &[(u16, u16, Rank)],
    starts: &mut Vec<u16>,
    best: &mut Vec<Rank>,
) {
    let base = starts.len();
    starts.push(0);
    best.push(Rank::NONE);
    // One interval (most addresses have one rule): no sweep needed.
    if let [(lo, hi, rank)] = *intervals {
        if lo == 0 {
            best[base] = rank;
        } else {
            starts.push(lo);
            best.push(rank);
        }
        if hi < u16::MAX {
            starts.push(hi + 1);
            best.push(Rank::NONE);
        }
        return;
    }
    // Sweep over the interval starts in port order, keeping the covering intervals in a min-heap
    // of (rank, end); an interval whose end has passed is dropped when it reaches the top.
    let mut by_start: Vec<(u16, u16, Rank)> = intervals.to_vec();
    by_start.sort_unstable_by_key(|&(lo, _, _)| lo);
    let mut covering: BinaryHeap<Reverse<(Rank, u32)>> = BinaryHeap::with_capacity(by_start.len());
    let mut next = 0;
    let mut pos: u32 = 0;
    while pos <= u32::from(u16::MAX) {
        while next < by_start.len() && u32::from(by_start[next].0) <= pos {
            let (_, hi, rank) = by_start[next];
            covering.push(Reverse((rank, u32::from(hi) + 1)));
            next += 1;
        }
        while covering.peek().is_some_and(|Reverse((_, end))| *end <= pos) {
            covering.pop();
        }
        let now = covering
            .peek()
            .map_or(Rank::NONE, |Reverse((rank, _))| *rank);
        let last = best.len() - 1;
        if u32::from(starts[last]) == pos {
            best[last] = now;
        } else if best[last] != now {
            starts.push(pos as u16);
            best.push(now);
        }
        // The next place the answer can change: the next start, or the end of the best interval
        // (ends of worse intervals change nothing while it covers them).
        let next_start = by_start
            .get(next)
            .map_or(u32::MAX, |&(lo, _, _)| u32::from(lo));
        let best_end = covering.peek().map_or(u32::MAX, |Reverse((_, end))| *end);
        pos = next_start.min(best_end);
    }
    // Merge a first segment that ended up equal to its successor.
    if best.len() > base + 1 && best[base] == best[base + 1] {
        starts.remove(base + 1);
        best.remove(base + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(order: u32) -> Rank {
        Rank::new(false, crate::language::Action::Protect, order)
    }

    #[test]
    fn overlapping_intervals_keep_the_best_rank_per_port() {
        let s = PortSegments::build(&[
            (0, 65535, r(5)),
            (80, 90, r(2)),
            (85, 100, r(1)),
            (443, 443, r(9)),
        ]);
        assert_eq!(s.best(0), r(5));
        assert_eq!(s.best(79), r(5));
        assert_eq!(s.best(80), r(2));
        assert_eq!(s.best(85), r(1));
        assert_eq!(s.best(100), r(1));
        assert_eq!(s.best(101), r(5));
        assert_eq!(s.best(443), r(5));
        assert_eq!(s.best(65535), r(5));
    }

    #[test]
    fn one_interval_without_a_sweep() {
        for (lo, hi) in [(0, 65535), (0, 10), (10, 65535), (443, 443)] {
            let one = PortSegments::build(&[(lo, hi, r(3))]);
            for port in [0, 9, 10, 11, 442, 443, 444, 65534, 65535] {
                let want = if (lo..=hi).contains(&port) {
                    r(3)
                } else {
                    Rank::NONE
                };
                assert_eq!(one.best(port), want, "{lo}-{hi} at {port}");
            }
        }
    }

    #[test]
    fn many_segments_are_found_through_their_bucket() {
        // A rule per port at 0, 7, 14, ... and one wide rule under them.
        let mut intervals: Vec<(u16, u16, Rank)> = (0..=65535u32)
            .step_by(7)
            .map(|p| (p as u16, p as u16, r(p + 10)))
            .collect();
        intervals.push((1000, 60000, r(1_000_000)));
        let s = PortSegments::build(&intervals);
        assert!(!s.buckets.is_empty());
        for port in 0..=65535u32 {
            let want = if port % 7 == 0 {
                r(port + 10)
            } else if (1000..=60000).contains(&port) {
                r(1_000_000)
            } else {
                Rank::NONE
            };
            assert_eq!(s.best(port as u16), want, "port {port}");
        }
    }

    #[test]
    fn random_intervals_agree_with_a_scan_of_every_interval() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u32| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as u32 % n
        };
        for round in 0..200 {
            let intervals: Vec<(u16, u16, Rank)> = (0..next(12) + 1)
                .map(|_| {
                    let lo = if next(4) == 0 { 65530 } else { next(300) } as u16;
                    let hi = lo.saturating_add(next(60) as u16);
                    (lo, hi, r(next(20)))
                })
                .collect();
            let s = PortSegments::build(&intervals);
            for port in (0..400u32).chain(65520..=65535) {
                let want = intervals
                    .iter()
                    .filter(|(lo, hi, _)| (u32::from(*lo)..=u32::from(*hi)).contains(&port))
                    .map(|(_, _, rank)| *rank)
                    .min()
                    .unwrap_or(Rank::NONE);
                assert_eq!(s.best(port as u16), want, "round {round}, port {port}");
            }
        }
    }

    /// The rank at `port` through the table's index, as a block's lookup reads it.
    fn indexed(starts: &[u16], best: &[Rank], index: &[u32], port: u16) -> Rank {
        let (lo, hi) = if index.is_empty() {
            (0, starts.len())
        } else {
            bucket(index, port).expect("a whole index")
        };
        let i = lo + starts[lo..hi].partition_point(|&s| s <= port);
        best[i - 1]
    }

    fn scan(intervals: &[(u16, u16, Rank)], port: u16) -> Rank {
        intervals
            .iter()
            .filter(|(lo, hi, _)| (*lo..=*hi).contains(&port))
            .map(|(_, _, rank)| *rank)
            .min()
            .unwrap_or(Rank::NONE)
    }

    #[test]
    fn the_port_index_finds_every_port_at_the_edges_and_across_buckets() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u32| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as u32 % n
        };
        for round in 0..24u32 {
            // Ports 0 and 65535, intervals across the edges of 256-port (and smaller) buckets,
            // and a crowd of single ports in a row, in every mix.
            let mut intervals = vec![(0, 0, r(1)), (65535, 65535, r(2))];
            for i in 0..(16 << (round % 8)) {
                let lo = match next(4) {
                    0 => (next(256) << 8) as u16 + 250,
                    1 => 40_000 + next(3000) as u16,
                    _ => next(65536) as u16,
                };
                let hi = lo.saturating_add(next(if round % 2 == 0 { 20 } else { 600 }) as u16);
                intervals.push((lo, hi, r(10 + i)));
            }
            if round % 3 == 0 {
                intervals.push((0, 65535, r(1_000_000)));
            }
            let (mut starts, mut best) = (Vec::new(), Vec::new());
            append_segments(&intervals, &mut starts, &mut best);
            let index = port_index(&starts, 0);
            assert!(
                !index.is_empty(),
                "round {round}: {} segments",
                starts.len()
            );
            let shift = index[0];
            assert_eq!(index.len(), (1 << (16 - shift)) + 2);
            assert_eq!(*index.last().unwrap() as usize, starts.len());
            for port in 0..=65535u16 {
                assert_eq!(
                    indexed(&starts, &best, &index, port),
                    scan(&intervals, port),
                    "round {round}, port {port}"
                );
            }
        }
    }

    #[test]
    fn small_and_empty_tables_have_no_index() {
        assert!(port_index(&[], 0).is_empty());
        assert!(port_index(&[0], 0).is_empty());
        let (mut starts, mut best) = (Vec::new(), Vec::new());
        append_segments(&[(5, 5, r(1)), (9, 700, r(2))], &mut starts, &mut best);
        assert!(port_index(&starts, 0).is_empty());
        for port in [0, 4, 5, 6, 9, 700, 701, 65535] {
            assert_eq!(
                indexed(&starts, &best, &[], port),
                scan(&[(5, 5, r(1)), (9, 700, r(2))], port)
            );
        }
        // An index too short (a corrupt file's) finds no bucket, and never reads past it.
        assert_eq!(bucket(&[8, 0], 65535), None);
        assert_eq!(bucket(&[], 0), None);
    }

    #[test]
    fn a_crowd_of_ports_in_a_row_gets_small_buckets() {
        // 5,000 ports in a row (the benchmark's shapes): about 4 segments a bucket at most.
        let intervals: Vec<_> = (0..5000u32)
            .map(|i| (30_000 + i as u16, 30_000 + i as u16, r(i)))
            .collect();
        let (mut starts, mut best) = (Vec::new(), Vec::new());
        append_segments(&intervals, &mut starts, &mut best);
        let index = port_index(&starts, 0);
        let most = index[1..].windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(most <= PER_BUCKET as u32, "{most} segments in a bucket");
        assert!(index.len() <= 8 * starts.len() + 2);
        for port in [0, 29_999, 30_000, 32_767, 32_768, 34_999, 35_000, 65535] {
            assert_eq!(
                indexed(&starts, &best, &index, port),
                scan(&intervals, port)
            );
        }
    }

    #[test]
    fn uncovered_ports_have_no_rank() {
        let s = PortSegments::build(&[(443, 443, r(1)), (65535, 65535, r(2))]);
        assert_eq!(s.best(442), Rank::NONE);
        assert_eq!(s.best(443), r(1));
        assert_eq!(s.best(444), Rank::NONE);
        assert_eq!(s.best(65535), r(2));
        assert_eq!(PortSegments::build(&[]).best(80), Rank::NONE);
    }
}
