//! Where an index keeps its arrays: owned boxes when built from rules, or slices of a compiled
//! policy file mapped read-only (`compiled`). The lookups are the same code for both, compiled
//! once per storage, so a policy built from source and the same policy mapped from a file answer
//! through identical instructions.

use std::fmt::Debug;
use std::ops::Deref;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A value that can be read from, and written to, a compiled file as it is: plain bytes, no
/// padding, every bit pattern valid.
pub trait Pod:
    FromBytes + IntoBytes + Immutable + KnownLayout + Copy + Debug + Send + Sync + 'static
{
}
impl<T: FromBytes + IntoBytes + Immutable + KnownLayout + Copy + Debug + Send + Sync + 'static> Pod
    for T
{
}

/// A kind of storage for the index's arrays.
pub trait Store: 'static {
    type Slice<T: Pod>: Deref<Target = [T]> + Debug + Default + Send + Sync;
}

/// Arrays owned by the index (a policy built from rules).
#[derive(Debug)]
pub struct Owned;

impl Store for Owned {
    type Slice<T: Pod> = Box<[T]>;
}

/// Arrays borrowed from a compiled file that stays mapped for the life of the process.
#[derive(Debug)]
pub struct Mapped;

impl Store for Mapped {
    type Slice<T: Pod> = &'static [T];
}
