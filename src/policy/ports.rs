//! The port axis cut into segments, each knowing the best rule that covers it.
//!
//! Built once by a sweep over the rules' port intervals; a lookup is one binary search.

use super::rank::Rank;
use std::collections::BTreeSet;

/// Sorted segments of the port range 0..=65535: segment `i` covers ports from `starts[i]` up to
/// the next start, and `best[i]` is the best rank among the rules covering it.
#[derive(Debug, Clone, Default)]
pub struct PortSegments {
    starts: Vec<u16>,
    best: Vec<Rank>,
    /// For many segments (an any-address rule per port): `buckets[k]` is how many segments start
    /// below port `k * 256`, so that a lookup searches one bucket's segments. Empty otherwise.
    buckets: Vec<u32>,
}

/// Segments from which a lookup narrows its search with buckets.
const BUCKETED: usize = 32;

impl PortSegments {
    /// From `(first port, last port, rank)` intervals, in any order.
    pub fn build(intervals: &[(u16, u16, Rank)]) -> PortSegments {
        let mut segments = PortSegments::default();
        append_segments(intervals, &mut segments.starts, &mut segments.best);
        segments.starts.shrink_to_fit();
        segments.best.shrink_to_fit();
        if segments.starts.len() >= BUCKETED {
            segments.buckets = (0..=256u32)
                .map(|k| segments.starts.partition_point(|&s| u32::from(s) < k << 8) as u32)
                .collect();
        }
        segments
    }

    /// The best rank of the rules covering `port` ([`Rank::NONE`] when none does).
    #[inline]
    pub fn best(&self, port: u16) -> Rank {
        let bucket = usize::from(port >> 8);
        let (lo, hi) = match self.buckets.get(bucket..bucket + 2) {
            Some(&[lo, hi]) => (lo as usize, hi as usize),
            _ => (0, self.starts.len()),
        };
        let i = lo + self.starts[lo..hi].partition_point(|&s| s <= port);
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
    // Sweep over interval boundaries; `end` is exclusive, so it may be 65536.
    let mut events: Vec<(u32, bool, Rank)> = Vec::with_capacity(intervals.len() * 2);
    for &(lo, hi, rank) in intervals {
        events.push((u32::from(lo), true, rank));
        events.push((u32::from(hi) + 1, false, rank));
    }
    events.sort_unstable_by_key(|&(pos, _, _)| pos);
    let mut active: BTreeSet<Rank> = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let pos = events[i].0;
        while i < events.len() && events[i].0 == pos {
            let (_, start, rank) = events[i];
            if start {
                active.insert(rank);
            } else {
                active.remove(&rank);
            }
            i += 1;
        }
        if pos > u32::from(u16::MAX) {
            break;
        }
        let now = active.first().copied().unwrap_or(Rank::NONE);
        let last = best.len() - 1;
        if starts[last] == pos as u16 {
            best[last] = now;
        } else if best[last] != now {
            starts.push(pos as u16);
            best.push(now);
        }
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
    fn uncovered_ports_have_no_rank() {
        let s = PortSegments::build(&[(443, 443, r(1)), (65535, 65535, r(2))]);
        assert_eq!(s.best(442), Rank::NONE);
        assert_eq!(s.best(443), r(1));
        assert_eq!(s.best(444), Rank::NONE);
        assert_eq!(s.best(65535), r(2));
        assert_eq!(PortSegments::build(&[]).best(80), Rank::NONE);
    }
}
