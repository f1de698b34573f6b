//! The port axis cut into segments, each knowing the best rule that covers it.
//!
//! Built once by a sweep over the rules' port intervals; a lookup is one binary search.

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

/// Segments from which a lookup narrows its search with buckets.
const BUCKETED: usize = 32;

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
    #[inline]
    pub fn best(&self, port: u16) -> Rank {
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
