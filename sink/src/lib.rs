//! The one event writer of armr's two engines: the preload library inside the program, and the
//! seccomp supervisor beside it. [`sink`] writes a line to the destination of `ARMR_LOG` with one
//! system call, never holding the caller up; [`line`] formats an event into a stack buffer and
//! hands it to the sink, reporting events a destination lost. Both engines write the same lines
//! through the same code; each passes the socket functions the sink uses ([`sink::Calls`]).

pub mod errno;
pub mod limit;
pub mod line;
pub mod sink;
pub mod tally;

pub use sink::{Calls, Destination, Libc, Sent, Sink};
