//! ARMR's rule selection as one number: the lower a rule's rank, the more it wins.

use crate::language::{Action, AddressPattern};

/// `wildcard << 41 | action priority << 33 | definition order << 1 | message`: comparing ranks
/// is comparing by (1) no wildcard before wildcard, (2) allow, protect, detect, (3) defined first.
/// The lowest bit (the rule has a message) never decides a comparison, since no two rules share
/// an order; it is there so that a silent decision never has to look at the rule itself.
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
            (u64::from(wildcard) << 41)
                | (u64::from(action_priority(action)) << 33)
                | (u64::from(order) << 1),
        )
    }

    /// The rank of a rule with this address, action, order and (when `message`) a message.
    pub fn of(address: &AddressPattern, action: Action, order: u32, message: bool) -> Rank {
        let rank = Rank::new(address.has_wildcard(), action, order);
        Rank(rank.0 | u64::from(message))
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
}
