//! The address blocks of one family (single addresses and CIDR blocks) flattened for lookup: one
//! binary search finds the innermost block holding an address, and one port search in that
//! block's table (or a few, for a long chain of many rules) gives the best rule of every block
//! that holds it.
//!
//! CIDR blocks are nested or disjoint, never overlapping otherwise; a single address is a block
//! of one. So the blocks holding an address form a chain, innermost to outermost, and the address
//! line cuts into intervals each held by the same chain. `starts` keeps where each interval
//! starts and `intervals` the innermost block of its chain; each block has a port table merged
//! over the blocks around it (see `Block` and `build_within`). An interval whose chain has one
//! port interval and rank (most of them: one address or one CIDR block, one rule) keeps them
//! itself, so that its lookup reads nothing more.
//!
//! For IPv4 a table of 4,096 buckets (one per value of the top 12 bits of the address) narrows
//! the binary search to the intervals of one bucket, so a lookup costs a few comparisons however
//! many blocks there are.

use super::compiled::{Reader, Writer};
use super::ports::{append_segments, bucket, port_index};
use super::rank::Rank;
use super::store::{Mapped, Owned, Pod, Store};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// An address as a number: `u32` for IPv4, `u128` for IPv6.
pub trait Address: Pod + Ord + std::hash::Hash + Default {
    /// Lookups read a bucket table (IPv4); without one (IPv6), no code asks for it.
    const BUCKETED: bool;
    fn next(self) -> Option<Self>;
    /// The top 12 bits.
    fn bucket(self) -> usize;
    /// The last address of the block of `len` bits starting at `self`.
    fn last_of_block(self, len: u8) -> Self;
}

impl Address for u32 {
    const BUCKETED: bool = true;
    fn next(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn bucket(self) -> usize {
        (self >> 20) as usize
    }
    fn last_of_block(self, len: u8) -> u32 {
        self | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
}

impl Address for u128 {
    const BUCKETED: bool = false;
    fn next(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn bucket(self) -> usize {
        (self >> 116) as usize
    }
    fn last_of_block(self, len: u8) -> u128 {
        self | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
}

/// How many of the sorted `starts` are at or below `x` (`partition_point(|s| s <= x)`), always
/// in line: std's became a call in the largest hooks (the `u128` search of an IPv6 `accept`,
/// over every interval: IPv6 has no buckets). Halves a slice, so that no index needs a bounds
/// check.
#[inline(always)]
fn at_or_below<A: Address>(starts: &[A], x: A) -> usize {
    let mut base = 0;
    let mut rest = starts;
    while rest.len() > 1 {
        let half = rest.len() / 2;
        let (low, high) = rest.split_at(half);
        if high[0] <= x {
            base += half;
            rest = high;
        } else {
            rest = low;
        }
    }
    base + usize::from(rest.first().is_some_and(|&s| s <= x))
}

const NO_BLOCK: u32 = u32::MAX;
const BUCKETS: usize = 4096;

/// A block's port table: `port_starts[first..first + len]`, the lower envelope (by rank) of the
/// rules of the block and of the blocks around it up to, not including, `skip` (whose table a
/// lookup searches next; `NO_BLOCK`: none, the table covers the whole chain). A table of many
/// segments has a first-level index (`ports::port_index`) at `port_index[index..]`, so that its
/// search is a few steps however many rules the chain has (`NO_BLOCK`: none).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Block {
    skip: u32,
    first: u32,
    len: u32,
    index: u32,
}

/// The addresses of one interval: the ports `lo..=hi` have `rank` (no port for `lo > hi`).
/// An interval held by a chain of blocks to search (or a block of several rules) covers every
/// port with a [`Rank::resume`] at its innermost block: the lookup has no test of its own for
/// it, and one test after it tells the rare answer to finish from the common ones.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Interval {
    lo: u16,
    hi: u16,
    /// Zero: keeps `rank` aligned without padding bytes.
    reserved: u32,
    rank: Rank,
}

/// The address line while it is cut into intervals: where each starts, and its innermost block.
struct Line<A> {
    starts: Vec<A>,
    innermost: Vec<u32>,
}

impl<A: Address> Line<A> {
    /// Starts an interval at `start` held by `block` (replacing one that starts there too).
    fn open(&mut self, start: A, block: u32) {
        if self.starts.last() == Some(&start)
            && let Some(innermost) = self.innermost.last_mut()
        {
            *innermost = block;
        } else {
            self.starts.push(start);
            self.innermost.push(block);
        }
    }

    /// Closes the open blocks that end before `next` (all of them for `None`): after each, the
    /// addresses belong to the block around it again.
    fn close_until(&mut self, stack: &mut Vec<u32>, lasts: &[A], next: Option<A>) {
        while let Some(&top) = stack.last() {
            let last = lasts[top as usize];
            if next.is_some_and(|n| n <= last) {
                break;
            }
            stack.pop();
            if let Some(after) = last.next() {
                self.open(after, stack.last().copied().unwrap_or(NO_BLOCK));
            }
        }
    }
}

#[derive(Debug)]
pub struct Blocks<A: Address, S: Store = Owned> {
    starts: S::Slice<A>,
    intervals: S::Slice<Interval>,
    blocks: S::Slice<Block>,
    port_starts: S::Slice<u16>,
    port_best: S::Slice<Rank>,
    /// The port tables' first-level indexes, one after the other.
    port_index: S::Slice<u32>,
    /// `buckets[k]`: how many intervals start below bucket `k` (empty when not used; cut short
    /// after the last interval's bucket when that interval holds no block).
    buckets: S::Slice<u32>,
}

/// The longest chain of nested blocks: one per prefix length of an IPv6 address. A walk stops
/// there, so that a corrupt compiled file whose skips loop cannot hold a call forever.
const LONGEST_CHAIN: usize = 129;

/// A chain of at most this many rules gets one table per block for the whole chain: one search.
const WHOLE_CHAIN: usize = 64;

/// The blocks while they are built.
#[derive(Default)]
struct Building<A> {
    starts: Vec<A>,
    intervals: Vec<Interval>,
    blocks: Vec<Block>,
    port_starts: Vec<u16>,
    port_best: Vec<Rank>,
    port_index: Vec<u32>,
    buckets: Vec<u32>,
}

impl<A: Address> Blocks<A, Owned> {
    /// From `(network, prefix length, port interval)` entries in any order, networks masked to
    /// their prefix. `bucketed`: build the bucket table (worth it for IPv4 only, where the top
    /// bits spread addresses; IPv6 addresses share their first bits).
    pub fn build(entries: Vec<(A, u8, (u16, u16, Rank))>, bucketed: bool) -> Blocks<A> {
        let budget = 32 * entries.len() + 65_536;
        Self::build_within(entries, bucketed, budget)
    }

    /// [`Blocks::build`] with at most about `budget` port segments copied into tables.
    fn build_within(
        mut entries: Vec<(A, u8, (u16, u16, Rank))>,
        bucketed: bool,
        budget: usize,
    ) -> Blocks<A> {
        let mut out = Building::<A>::default();
        let mut line = Line {
            starts: vec![A::default()],
            innermost: vec![NO_BLOCK],
        };
        // Outer blocks before the blocks they hold: by start, then widest first.
        entries.sort_unstable_by_key(|(network, len, _)| (*network, *len));
        let mut lasts: Vec<A> = Vec::new();
        let mut stack: Vec<u32> = Vec::new();
        // Per block while building: its rules (a range of `entries`), the block around it, its
        // depth (1 for a block in no other) and how many rules its whole chain has.
        let mut own: Vec<(usize, usize)> = Vec::new();
        let mut parents: Vec<u32> = Vec::new();
        let mut depths: Vec<u32> = Vec::new();
        let mut chain_rules: Vec<usize> = Vec::new();
        let mut at = 0;
        for run in entries.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (network, len) = (run[0].0, run[0].1);
            let id = own.len() as u32;
            line.close_until(&mut stack, &lasts, Some(network));
            let parent = stack.last().copied().unwrap_or(NO_BLOCK);
            let (depth, above) = match parent {
                NO_BLOCK => (1, 0),
                p => (depths[p as usize] + 1, chain_rules[p as usize]),
            };
            own.push((at, at + run.len()));
            at += run.len();
            parents.push(parent);
            depths.push(depth);
            chain_rules.push(above + run.len());
            lasts.push(network.last_of_block(len));
            line.open(network, id);
            stack.push(id);
        }
        line.close_until(&mut stack, &lasts, None);
        // The port tables. A table for a block's whole chain would copy every rule of a block
        // into the table of every block inside it: with many rules on each of 129 nested IPv6
        // blocks, that grows with the square of the depth. So a chain of few rules gets whole
        // tables (one search), and a longer one is cut as a Fenwick tree over the depth: the
        // block at depth `d` covers depths `d - lowbit(d) + 1..=d` and skips to the block at
        // `d - lowbit(d)`. A lookup then searches one table per bit set in the depth (at most 7;
        // 2 for the innermost /32 or /128 of a full chain), and each rule is copied into about
        // log2(depth) tables of a chain.
        //
        // An innermost block (one no other block lies in: the /32 or /128 of a chain of nested
        // blocks) gets a table for its whole chain while the budget allows: its addresses are the
        // ones a lookup lands on in the chain, and one table is one search instead of two.
        let mut inner = vec![true; own.len()];
        for &parent in &parents {
            if let Some(p) = inner.get_mut(parent as usize) {
                *p = false;
            }
        }
        let mut gathered: Vec<(u16, u16, Rank)> = Vec::new();
        for id in 0..own.len() {
            let depth = depths[id];
            let mut span = if chain_rules[id] <= WHOLE_CHAIN {
                depth
            } else {
                1 << depth.trailing_zeros()
            };
            if inner[id] && span < depth && out.port_starts.len() + 2 * chain_rules[id] < budget {
                span = depth;
            }
            let (mut skip, mut count) = (id as u32, 0);
            for _ in 0..span {
                let (from, to) = own[skip as usize];
                count += to - from;
                skip = parents[skip as usize];
            }
            // Past the budget (a block of many rules around many blocks, each with a table of
            // its own: copying it into each grows with their product), a block's table holds its
            // own rules only, and the lookup goes on to the block around it.
            let span = if out.port_starts.len() + 2 * count + 1 > budget {
                skip = parents[id];
                1
            } else {
                span
            };
            gathered.clear();
            let mut b = id as u32;
            for _ in 0..span {
                let (from, to) = own[b as usize];
                gathered.extend(entries[from..to].iter().map(|e| e.2));
                b = parents[b as usize];
            }
            let first = out.port_starts.len() as u32;
            append_segments(&gathered, &mut out.port_starts, &mut out.port_best);
            let index = port_index(&out.port_starts[first as usize..], 0);
            out.blocks.push(Block {
                skip,
                first,
                len: out.port_starts.len() as u32 - first,
                index: if index.is_empty() {
                    NO_BLOCK
                } else {
                    out.port_index.len() as u32
                },
            });
            out.port_index.extend_from_slice(&index);
        }
        out.starts = line.starts;
        out.intervals = line
            .innermost
            .into_iter()
            .map(|id| {
                let Some(b) = out.blocks.get(id as usize) else {
                    return Interval {
                        lo: 1,
                        hi: 0,
                        reserved: 0,
                        rank: Rank::NONE,
                    };
                };
                let (first, end) = (b.first as usize, (b.first + b.len) as usize);
                // A whole-chain table of one port interval (most blocks: one address, one rule,
                // in no other block) is kept in the interval: its lookup reads nothing more.
                match one_interval(&out.port_starts[first..end], &out.port_best[first..end]) {
                    Some((lo, hi, rank)) if b.skip == NO_BLOCK => Interval {
                        lo,
                        hi,
                        reserved: 0,
                        rank,
                    },
                    _ => Interval {
                        lo: 0,
                        hi: u16::MAX,
                        reserved: 0,
                        rank: Rank::resume(id),
                    },
                }
            })
            .collect();
        if bucketed && A::BUCKETED && out.starts.len() > 1 {
            // One pass over the sorted starts fills every bucket. When the last interval holds
            // no block, the table stops after the bucket it starts in: an address above it is
            // in that interval, in no block, and its lookup ends at the table's bound.
            let last = match (out.starts.last(), out.intervals.last()) {
                (Some(start), Some(gap)) if gap.lo > gap.hi => start.bucket() + 1,
                _ => BUCKETS,
            };
            out.buckets = Vec::with_capacity(last + 1);
            let mut i = 0;
            for k in 0..=last {
                while i < out.starts.len() && out.starts[i].bucket() < k {
                    i += 1;
                }
                out.buckets.push(i as u32);
            }
        }
        Blocks {
            starts: out.starts.into(),
            intervals: out.intervals.into(),
            blocks: out.blocks.into(),
            port_starts: out.port_starts.into(),
            port_best: out.port_best.into(),
            port_index: out.port_index.into(),
            buckets: out.buckets.into(),
        }
    }

    /// Writes the arrays as sections of a compiled file.
    pub(super) fn write(&self, out: &mut Writer) {
        out.section(&self.starts);
        out.section(&self.intervals);
        out.section(&self.blocks);
        out.section(&self.port_starts);
        out.section(&self.port_best);
        out.section(&self.port_index);
        out.section(&self.buckets);
    }
}

impl<A: Address> Blocks<A, Mapped> {
    /// Reads the sections [`Blocks::write`] wrote, checking that their sizes agree (the values
    /// are not checked: every lookup is bounded whatever they are).
    pub(super) fn read(input: &mut Reader) -> Result<Self, String> {
        let blocks = Self {
            starts: input.section()?,
            intervals: input.section()?,
            blocks: input.section()?,
            port_starts: input.section()?,
            port_best: input.section()?,
            port_index: input.section()?,
            buckets: input.section()?,
        };
        if blocks.intervals.len() != blocks.starts.len()
            || blocks.port_best.len() != blocks.port_starts.len()
            || blocks.buckets.len() > BUCKETS + 1
            || blocks.buckets.len() == 1
        {
            return Err("address blocks of inconsistent sizes".into());
        }
        Ok(blocks)
    }
}

impl<A: Address, S: Store> Blocks<A, S> {
    /// The best rank among the blocks holding `address`, for `port`.
    #[inline]
    pub fn best(&self, address: A, port: u16) -> Rank {
        let rank = self.lookup(address, port);
        match rank.resumes() {
            Some(block) => self.walk(block, port),
            None => rank,
        }
    }

    /// [`Blocks::best`] when no chain needs walking (the address is in no block, or in a lone
    /// block of one rule). `None`: use `best`.
    #[cfg(test)]
    fn quick(&self, address: A, port: u16) -> Option<Rank> {
        let rank = self.lookup(address, port);
        rank.resumes().is_none().then_some(rank)
    }

    /// The rank, or a [`Rank::resume`] at the innermost block whose chain must be walked
    /// ([`Blocks::walk`]). No call, so that a caller stays a leaf; cannot panic (every access
    /// is checked), so that the hooks may call it without `catch_unwind`.
    #[inline(always)]
    pub fn lookup(&self, address: A, port: u16) -> Rank {
        let (lo, hi) = if A::BUCKETED {
            match self.buckets.get(address.bucket()..address.bucket() + 2) {
                Some(&[lo, hi]) => (lo as usize, hi as usize),
                // Above a table cut short: in the last interval, which holds no block.
                _ if !self.buckets.is_empty() => return Rank::NONE,
                _ => (0, self.starts.len()),
            }
        } else {
            (0, self.starts.len())
        };
        let Some(starts) = self.starts.get(lo..hi) else {
            return Rank::NONE;
        };
        // The intervals starting at or below the address, within the bucket; starts[0] is the
        // lowest address, so there is always one.
        let i = lo
            + if A::BUCKETED {
                // A bucket's few intervals: std's search is the shorter there.
                starts.partition_point(|&s| s <= address)
            } else {
                at_or_below(starts, address)
            };
        let Some(interval) = self.intervals.get(i.wrapping_sub(1)) else {
            return Rank::NONE;
        };
        if interval.lo <= port && port <= interval.hi {
            interval.rank
        } else {
            Rank::NONE
        }
    }

    /// [`Blocks::best`] with the walk in line: for a caller that is itself out of line and
    /// called for this lookup alone (`Policy::quick_rank_v6`), so that the walk costs no call.
    #[inline(always)]
    pub fn best_in_line(&self, address: A, port: u16) -> Rank {
        let rank = self.lookup(address, port);
        match rank.resumes() {
            Some(block) => self.walk_in_line(block, port),
            None => rank,
        }
    }

    /// The best rank for `port` in the tables of `block` and of the blocks it skips to (nested
    /// blocks, or a block of several rules; none for `NO_BLOCK`).
    #[inline(never)]
    pub fn walk(&self, block: u32, port: u16) -> Rank {
        self.walk_in_line(block, port)
    }

    /// [`Blocks::walk`] in line (for [`Blocks::best_in_line`]). Not for the IPv4 finishing
    /// path: in line there, it cost its callers more registers to save than the call (+3 to +11
    /// instructions per IPv4 call under callgrind).
    #[inline(always)]
    pub fn walk_in_line(&self, block: u32, port: u16) -> Rank {
        // The first table in line: most chains have one (a whole-chain table, or one block of
        // many rules), and a loop's setup would cost it half as much again.
        let Some(b) = self.blocks.get(block as usize) else {
            return Rank::NONE;
        };
        let best = self.search_ports(b, port);
        if b.skip == NO_BLOCK {
            return best;
        }
        best.min(self.walk_on(b.skip, port))
    }

    /// The second table of [`Blocks::walk`] in line too (the innermost block of a long chain
    /// cut by depth has two), then the rest.
    #[inline(never)]
    fn walk_on(&self, block: u32, port: u16) -> Rank {
        let Some(b) = self.blocks.get(block as usize) else {
            return Rank::NONE;
        };
        let best = self.search_ports(b, port);
        if b.skip == NO_BLOCK {
            return best;
        }
        best.min(self.walk_rest(b.skip, port))
    }

    /// The rest of [`Blocks::walk`] past two tables: the tables of a chain cut by depth, or of
    /// blocks past the budget of copied segments.
    #[inline(never)]
    fn walk_rest(&self, mut block: u32, port: u16) -> Rank {
        let mut best = Rank::NONE;
        for _ in 2..LONGEST_CHAIN {
            let Some(b) = self.blocks.get(block as usize) else {
                break;
            };
            best = best.min(self.search_ports(b, port));
            block = b.skip;
        }
        best
    }

    /// The rank for `port` in a block's port table. The index is read up to its own length (a
    /// corrupt compiled file's may run into the next: a wrong rank, never an access outside).
    #[inline(always)]
    fn search_ports(&self, b: &Block, port: u16) -> Rank {
        let first = b.first as usize;
        let (lo, hi) = match self.port_index.get(b.index as usize..) {
            Some(index) => match bucket(index, port) {
                Some((lo, hi)) => (first + lo, first + hi),
                None => return Rank::NONE,
            },
            None => (first, first.saturating_add(b.len as usize)),
        };
        let Some(starts) = self.port_starts.get(lo..hi) else {
            return Rank::NONE;
        };
        // The table's first start is 0, so i > first (in a file this armr wrote).
        let i = lo + starts.partition_point(|&s| s <= port);
        self.port_best
            .get(i.wrapping_sub(1))
            .copied()
            .unwrap_or(Rank::NONE)
    }
}

/// The one port interval and rank of a table when it has no more (`None` otherwise).
fn one_interval(starts: &[u16], best: &[Rank]) -> Option<(u16, u16, Rank)> {
    let none = Rank::NONE;
    match (starts, best) {
        ([_], [r]) => Some((0, u16::MAX, *r)),
        ([_, x], [r, n]) if *n == none => Some((0, x - 1, *r)),
        ([_, x], [n, r]) if *n == none => Some((*x, u16::MAX, *r)),
        ([_, x, y], [n, r, m]) if *n == none && *m == none => Some((*x, y - 1, *r)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Action;

    fn r(order: u32) -> Rank {
        Rank::new(false, Action::Protect, order)
    }

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    fn all_ports(rank: Rank) -> Vec<(u16, u16, Rank)> {
        vec![(0, u16::MAX, rank)]
    }

    /// Port intervals with their rank.
    type Ports = Vec<(u16, u16, Rank)>;

    fn flat<A: Copy>(groups: &[(A, u8, Ports)]) -> Vec<(A, u8, (u16, u16, Rank))> {
        groups
            .iter()
            .flat_map(|(n, len, iv)| iv.iter().map(move |i| (*n, *len, *i)))
            .collect()
    }

    /// Every block holding the address takes part, innermost or not.
    fn reference(blocks: &[(u32, u8, Ports)], a: u32, port: u16) -> Rank {
        blocks
            .iter()
            .filter(|(n, len, _)| a >= *n && a <= n.last_of_block(*len))
            .flat_map(|(_, _, iv)| iv.iter())
            .filter(|(lo, hi, _)| (*lo..=*hi).contains(&port))
            .map(|(_, _, rank)| *rank)
            .min()
            .unwrap_or(Rank::NONE)
    }

    #[test]
    fn nested_blocks_all_count_and_the_space_around_them_is_empty() {
        let groups = vec![
            (v4("10.0.0.0"), 8, all_ports(r(9))),
            (v4("10.1.0.0"), 16, vec![(80, 80, r(3))]),
            (v4("10.1.2.3"), 32, vec![(443, 443, r(1))]),
            (v4("10.1.2.3"), 32, vec![(80, 80, r(7))]),
            (v4("10.255.255.255"), 32, all_ports(r(2))),
            (v4("192.168.0.0"), 24, all_ports(r(4))),
            (v4("0.0.0.0"), 32, all_ports(r(5))),
            (v4("255.255.255.255"), 32, all_ports(r(6))),
        ];
        for bucketed in [false, true] {
            let blocks = Blocks::build(flat(&groups), bucketed);
            for a in [
                "0.0.0.0",
                "0.0.0.1",
                "9.255.255.255",
                "10.0.0.0",
                "10.1.0.0",
                "10.1.2.2",
                "10.1.2.3",
                "10.1.2.4",
                "10.1.255.255",
                "10.2.0.0",
                "10.255.255.254",
                "10.255.255.255",
                "11.0.0.0",
                "192.168.0.9",
                "192.168.1.0",
                "255.255.255.254",
                "255.255.255.255",
            ] {
                for port in [0, 79, 80, 81, 443, 65535] {
                    assert_eq!(
                        blocks.best(v4(a), port),
                        reference(&groups, v4(a), port),
                        "{a}:{port} bucketed={bucketed}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_blocks_agree_with_a_scan_of_every_block() {
        // A small linear congruential generator: the test is repeatable.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as u32
        };
        for round in 0..40 {
            let mut groups = Vec::new();
            for i in 0..(round * 5 + 1) {
                // Addresses from a small space, so that blocks nest and collide.
                let len = [0u8, 4, 8, 12, 16, 20, 24, 28, 30, 31, 32][next() as usize % 11];
                let a = ((next() % 64) << 26) | ((next() % 4) << 20) | (next() % 16);
                let network = a & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                let lo = (next() % 100) as u16;
                groups.push((network, len, vec![(lo, lo + (next() % 20) as u16, r(i))]));
            }
            let blocks = Blocks::build(flat(&groups), round % 2 == 0);
            for _ in 0..500 {
                let a = ((next() % 64) << 26) | ((next() % 4) << 20) | (next() % 16);
                let port = (next() % 130) as u16;
                let want = reference(&groups, a, port);
                assert_eq!(blocks.best(a, port), want, "round {round}");
                // The quick answer, when there is one, is the same.
                if let Some(quick) = blocks.quick(a, port) {
                    assert_eq!(quick, want, "round {round}, quick");
                }
                // An address held by exactly one block of one rule is answered quickly.
                let holders: Vec<_> = groups
                    .iter()
                    .filter(|(n, len, _)| a >= *n && a <= n.last_of_block(*len))
                    .collect();
                if let [(_, _, ports)] = holders.as_slice()
                    && ports.len() == 1
                    && groups
                        .iter()
                        .filter(|g| (g.0, g.1) == (holders[0].0, holders[0].1))
                        .count()
                        == 1
                {
                    assert!(blocks.quick(a, port).is_some(), "round {round}, lone block");
                }
            }
        }
    }

    #[test]
    fn deep_chains_of_many_rules_agree_with_a_scan_of_every_block() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as u32
        };
        let around = v4("10.1.2.3");
        for round in 0..12u32 {
            // Every prefix length around one address (a chain of 33 blocks), each block with
            // 1 to 9 rules of different port intervals: past `WHOLE_CHAIN` rules, so that the
            // tables are cut by depth; and a few blocks beside the chain.
            let mut groups = Vec::new();
            let mut order = 0;
            for len in 0..=32u8 {
                let network = around & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                if round % 3 == 2 && next() % 3 == 0 {
                    continue;
                }
                for _ in 0..1 + next() % 9 {
                    let lo = (next() % 120) as u16;
                    order += 1;
                    groups.push((
                        network,
                        len,
                        vec![(lo, lo + (next() % 30) as u16, r(order))],
                    ));
                }
            }
            for _ in 0..20 {
                let len = 16 + (next() % 17) as u8;
                let a = around ^ (next() % 0x1_0000);
                let network = a & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                let lo = (next() % 120) as u16;
                order += 1;
                groups.push((network, len, vec![(lo, lo + 5, r(order))]));
            }
            // A whole budget, none (every table holds its own block's rules) and a small one.
            for budget in [usize::MAX, 0, 150] {
                let blocks = Blocks::build_within(flat(&groups), round % 2 == 0, budget);
                for _ in 0..2000 {
                    let a = around ^ (next() % 0x1_0000) & !(1 << (next() % 32));
                    let a = if next() % 4 == 0 { around } else { a };
                    let port = (next() % 160) as u16;
                    assert_eq!(
                        blocks.best(a, port),
                        reference(&groups, a, port),
                        "round {round} budget {budget}"
                    );
                }
            }
            if round == 0 {
                // The innermost block of the full chain (depth 33): one table for the whole
                // chain, not 33 (nor the two of a chain cut by depth).
                let blocks = Blocks::build(flat(&groups), true);
                let Some(mut b) = blocks.lookup(around, 80).resumes() else {
                    panic!("a chain to walk");
                };
                let mut tables = 0;
                while let Some(block) = blocks.blocks.get(b as usize) {
                    tables += 1;
                    b = block.skip;
                }
                assert!(order as usize > WHOLE_CHAIN);
                assert_eq!(tables, 1);
                // The block around it (depth 32) is not innermost: cut by depth, one table
                // (32 is a power of two).
                let outer = blocks.lookup(around ^ 1, 80).resumes();
                assert_ne!(outer, blocks.lookup(around, 80).resumes());
                // A budget too small for the whole chain: the innermost block's table is cut by
                // depth again (two tables), and every lookup still agrees with the scan above.
                let count = blocks.port_starts.len();
                let small = Blocks::build_within(flat(&groups), true, count / 2);
                let Some(mut b) = small.lookup(around, 80).resumes() else {
                    panic!("a chain to walk");
                };
                let mut tables = 0;
                while let Some(block) = small.blocks.get(b as usize) {
                    tables += 1;
                    b = block.skip;
                }
                assert!(tables > 1, "{tables} tables within a small budget");
            }
        }
    }

    #[test]
    fn a_block_of_many_rules_is_searched_through_its_index() {
        // One address with a rule per port range around a port (the benchmark's "ranges"),
        // another with a crowd of single ports, and a chain of blocks around them.
        let a = v4("127.0.0.1");
        let mut groups = Vec::new();
        for w in 0..3000u16 {
            let ports = if w % 2 == 0 {
                (40_000 - w / 2, 40_000)
            } else {
                (40_002, 40_002 + w / 2)
            };
            groups.push((a, 32, vec![(ports.0, ports.1, r(u32::from(w)))]));
        }
        for p in 0..2000u16 {
            groups.push((
                v4("127.0.0.2"),
                32,
                vec![(p * 3, p * 3, r(10_000 + u32::from(p)))],
            ));
        }
        groups.push((
            v4("127.0.0.0"),
            8,
            vec![(0, 0, r(20_000)), (65535, 65535, r(20_001))],
        ));
        groups.push((v4("127.0.0.0"), 30, vec![(250, 260, r(20_002))]));
        let blocks = Blocks::build(flat(&groups), true);
        assert!(blocks.blocks.iter().any(|b| b.index != NO_BLOCK));
        for address in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.1.0.0"] {
            for port in (0..=65535u16)
                .step_by(7)
                .chain([0, 1, 255, 256, 39_999, 40_001, 65535])
            {
                assert_eq!(
                    blocks.best(v4(address), port),
                    reference(&groups, v4(address), port),
                    "{address}:{port}"
                );
            }
        }
    }

    #[test]
    fn a_bucket_table_stops_after_the_last_block_unless_a_block_reaches_the_end() {
        // The last interval holds no block: the table stops after its bucket, and every
        // address above it finds nothing, as the full table would have it.
        let low = vec![
            (v4("10.0.0.0"), 8, all_ports(r(1))),
            (v4("10.1.2.3"), 32, vec![(80, 80, r(0))]),
        ];
        let blocks = Blocks::build(flat(&low), true);
        assert_eq!(blocks.buckets.len(), v4("11.0.0.0").bucket() + 2);
        // A block ending at the last address: the table is whole, and the block is found.
        let mut high = low.clone();
        high.push((v4("240.0.0.0"), 4, all_ports(r(2))));
        let whole = Blocks::build(flat(&high), true);
        assert_eq!(whole.buckets.len(), BUCKETS + 1);
        for (blocks, groups) in [(&blocks, &low), (&whole, &high)] {
            for a in [
                "0.0.0.0",
                "9.255.255.255",
                "10.1.2.3",
                "10.255.255.255",
                "11.0.0.0",
                "11.0.0.1",
                "127.0.0.1",
                "239.255.255.255",
                "240.0.0.0",
                "255.255.255.255",
            ] {
                for port in [0, 80, 65535] {
                    assert_eq!(
                        blocks.best(v4(a), port),
                        reference(groups, v4(a), port),
                        "{a}:{port}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_blocks_match_nothing() {
        let blocks = Blocks::<u128>::build(Vec::new(), false);
        assert_eq!(blocks.best(1, 80), Rank::NONE);
        assert_eq!(blocks.best(u128::MAX, 80), Rank::NONE);
    }
}
