//! ARMR's rule selection as one number: the lower a rule's rank, the more it wins.

use crate::language::{Action, AddressPattern};

/// `wildcard << 40 | action priority << 32 | definition order`: comparing ranks is comparing by
/// (1) no wildcard before wildcard, (2) allow, protect, detect, (3) defined first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank(u64);

impl Rank {
    /// No rule: worse than every rule.
    pub const NONE: Rank = Rank(u64::MAX);

    pub fn new(wildcard: bool, action: Action, order: u32) -> Rank {
        Rank(
            (u64::from(wildcard) << 40)
                | (u64::from(action_priority(action)) << 32)
                | u64::from(order),
        )
    }

    pub fn of(address: &AddressPattern, action: Action, order: u32) -> Rank {
        Rank::new(address.has_wildcard(), action, order)
    }

    /// The rule's place in definition order: its index in the policy.
    pub fn order(self) -> Option<u32> {
        (self != Rank::NONE).then_some(self.0 as u32)
    }

    pub fn wildcard(self) -> bool {
        self.0 >> 40 & 1 == 1
    }

    /// The action of the ranked rule.
    pub fn action(self) -> Action {
        match (self.0 >> 32) & 0xff {
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
