//! ARMR's rule selection as one number: the lower a rule's rank, the more it wins.

use crate::language::{Action, AddressPattern};

/// `1 << 62 | wildcard << 41 | action priority << 33 | definition order << 1 | message`:
/// comparing ranks is comparing by (1) no wildcard before wildcard, (2) allow, protect, detect,
/// (3) defined first. The lowest bit (the rule has a message) never decides a comparison, since
/// no two rules share an order; it is there so that a silent decision never has to look at the
/// rule itself. Bit 62 keeps every rule's rank above the lookups to resume ([`Rank::resume`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::Immutable,
    zerocopy::KnownLayout,
)]
#[repr(transparent)]
pub struct Rank(u64);

impl Rank {
    /// No rule: worse than every rule.
    pub const NONE: Rank = Rank(u64::MAX);

    pub fn new(wildcard: bool, action: Action, order: u32) -> Rank {
        Rank(
            RULE | (u64::from(wildcard) << 41)
                | (u64::from(action_priority(action)) << 33)
                | (u64::from(order) << 1),
        )
    }

    /// The rank of a rule with this address, action, order and (when `message`) a message.
    pub fn of(address: &AddressPattern, action: Action, order: u32, message: bool) -> Rank {
        let rank = Rank::new(address.has_wildcard(), action, order);
        Rank(rank.0 | u64::from(message))
    }

    /// Not a rule's rank: a lookup to finish at the innermost block of a chain (see
    /// [`Rank::resumes`]), which an address interval of [`Blocks`](super::blocks::Blocks) holds
    /// in place of a rank. Below every rule's rank (bit 62 clear), so that it survives taking the
    /// best with other ranks, and with the message bit, so that it is neither no rule nor a
    /// silent `allow()`: a caller that forwards those without more ado finishes the lookup only
    /// on its other path ([`Policy::finish_rank_v4`](super::Policy::finish_rank_v4)).
    #[inline(always)]
    pub(crate) fn resume(block: u32) -> Rank {
        Rank(u64::from(block) << 1 | 1)
    }

    /// The block to resume a lookup at, for a rank made by [`Rank::resume`].
    #[inline(always)]
    pub fn resumes(self) -> Option<u32> {
        (self.0 < RULE).then_some((self.0 >> 1) as u32)
    }

    /// The rule's place in definition order: its index in the policy.
    #[inline]
    pub fn order(self) -> Option<u32> {
        (self != Rank::NONE).then_some((self.0 >> 1) as u32)
    }

    pub fn wildcard(self) -> bool {
        self.0 >> 41 & 1 == 1
    }

    /// True when the ranked rule has a message (so that every event it decides is logged).
    #[inline]
    pub fn has_message(self) -> bool {
        self.0 & 1 == 1
    }

    /// True for an `allow()` without a message: it is neither refused nor logged, in any mode,
    /// so a caller has nothing to do (the common match, decided without building a decision).
    #[inline]
    pub fn is_silent_allow(self) -> bool {
        self.0 & (0xff << 33 | 1) == 0
    }

    /// The action of the ranked rule.
    #[inline]
    pub fn action(self) -> Action {
        match (self.0 >> 33) & 0xff {
            0 => Action::Allow,
            1 => Action::Protect,
            _ => Action::Detect,
        }
    }
}

/// Set in every rule's rank: see [`Rank`].
const RULE: u64 = 1 << 62;

/// allow 0, protect 1, detect 2.
pub fn action_priority(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Protect => 1,
        Action::Detect => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_bit_never_decides_between_two_rules() {
        let address = AddressPattern {
            host: crate::language::HostPattern::Ip([10, 0, 0, 1].into()),
            port: crate::language::PortPattern::Exact(80),
        };
        for (a, b) in [(0, 1), (1, 0), (7, 8)] {
            for (ma, mb) in [(false, true), (true, false)] {
                let ra = Rank::of(&address, Action::Protect, a, ma);
                let rb = Rank::of(&address, Action::Protect, b, mb);
                assert_eq!(ra < rb, a < b);
                assert_eq!(ra.order(), Some(a));
                assert_eq!(ra.has_message(), ma);
                assert_eq!(ra.action(), Action::Protect);
                assert!(!ra.is_silent_allow());
            }
        }
        assert_eq!(Rank::NONE.order(), None);
        assert!(!Rank::NONE.is_silent_allow());
        for (wildcard, message, silent) in [
            (false, false, true),
            (true, false, true),
            (false, true, false),
        ] {
            let rank = Rank::of(
                &AddressPattern {
                    host: crate::language::HostPattern::Ip([10, 0, 0, 1].into()),
                    port: crate::language::PortPattern::Exact(80),
                },
                Action::Allow,
                3,
                message,
            );
            let rank = if wildcard {
                Rank(rank.0 | 1 << 41)
            } else {
                rank
            };
            assert_eq!(rank.is_silent_allow(), silent);
            assert_eq!(rank.action(), Action::Allow);
        }
        let detect = Rank::new(false, Action::Detect, 0);
        assert!(!detect.is_silent_allow());
    }

    #[test]
    fn a_lookup_to_resume_is_neither_a_rule_nor_silent() {
        for block in [0, 1, 7, u32::MAX - 1, u32::MAX] {
            let resume = Rank::resume(block);
            assert_eq!(resume.resumes(), Some(block));
            assert_ne!(resume, Rank::NONE);
            assert!(!resume.is_silent_allow());
            assert!(resume.has_message());
        }
        assert_eq!(Rank::NONE.resumes(), None);
        let last = Rank::new(true, Action::Detect, u32::MAX);
        assert_eq!(Rank(last.0 | 1).resumes(), None);
        let first = Rank::new(false, Action::Allow, 0);
        assert_eq!(first.resumes(), None);
        // Below every rule: the best of a resume and any rule is the resume.
        assert_eq!(Rank::resume(u32::MAX).min(first), Rank::resume(u32::MAX));
    }
}
