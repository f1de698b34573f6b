//! The verdict on a socket call: which rules judge it, whether it goes on or is refused (and how
//! the caller sees the refusal), and the event to log.
//!
//! Every enforcer asks this module the same question and carries out the answer: the preload
//! library (`libarmr.so`) inside the program, a supervisor from another process. So it is safe
//! Rust over decoded addresses, with no state of its own and nothing of the process it runs in
//! (no libc, no globals): a [`Call`] says what the program does, the [`Policy`] ranks the rules,
//! and a [`Verdict`] says what to do. The enforcer decodes the call before asking, and after it
//! forwards or refuses, and writes the event the verdict names (docs/enforcement.md has the table
//! of calls, rules and refusals this encodes).

use crate::language::Action;
use crate::policy::{Decision, EventKind, Policy, Rank};
use std::net::SocketAddr;

/// A socket call, as the rules see it: which rules judge it, on which address, and how a
/// refusal reaches the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `bind` of a datagram (UDP) socket, on the local address: to a port, a server's
    /// (`bind(server:)` rules); to port 0, an ephemeral port, a client's (`bind(client:)`).
    DatagramBind,
    /// `listen`, on the socket's local address (`bind(server:)`).
    Listen,
    /// `accept` on a listening socket the enforcer did not see listen (inherited), judged once,
    /// on its local address (`bind(server:)`).
    InheritedListener,
    /// `connect` of a TCP socket the program bound itself, on the local address
    /// (`bind(client:)`).
    ClientBind,
    /// `connect`, on the remote address (`connect` rules).
    Connect,
    /// `connect` of a UDP socket, on the remote address, by `accept` rules too: its receives
    /// are judged no more once it is connected.
    DatagramConnect,
    /// `sendto`, `sendmsg`, `sendmmsg` to a destination (a datagram, TCP Fast Open), on the
    /// destination (`connect`).
    Send,
    /// `accept`, on the peer (`accept` rules).
    Accept,
    /// A datagram received on an unconnected UDP socket, on its sender (`accept` rules).
    Datagram,
    /// A name lookup's connect to a name server, on the server's address (`connect`).
    NameServer,
    /// `rcmd` or `rexec`, judged beforehand as each call libc would make inside it: one of
    /// `kind`.
    Remote(EventKind),
}

/// How a refused call reaches the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The call fails: -1 with errno `EACCES`.
    PermissionDenied,
    /// The call fails: -1 with errno `ECONNREFUSED`.
    ConnectionRefused,
    /// The connection, datagram or name server is passed over and the call goes on with the
    /// next one: a refused connection is reset and never returned by `accept`, a refused
    /// datagram is discarded, a refused name server is not asked.
    Discard,
}

/// What the enforcer does with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call goes on unchanged.
    Forward,
    /// The call is refused, as the [`Refusal`] says.
    Refuse(Refusal),
}

/// The event a verdict asks the enforcer to log: what the event line needs besides the process
/// and the clock (`event::Event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub kind: EventKind,
    /// The address judged: local for binds and listeners, remote otherwise.
    pub address: SocketAddr,
    pub decision: Decision,
    /// Logged at most once a second per rule, the line counting the events it stands for (CEF
    /// `cnt`): received datagrams, which a sender controls. Otherwise one line per event.
    pub counted: bool,
    /// The socket's transport, when the call or the enforcer knows it (CEF `proto`, ECS
    /// `network.transport`).
    pub transport: Option<Transport>,
}

/// A socket's transport protocol, as events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// The transport of a socket of this type (`SO_TYPE`), if it is TCP's or UDP's.
    pub fn of_socket_type(socket_type: i32) -> Option<Transport> {
        match socket_type {
            1 => Some(Transport::Tcp), // SOCK_STREAM
            2 => Some(Transport::Udp), // SOCK_DGRAM
            _ => None,
        }
    }
}

/// The answer for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The event to log, when the rule asks for one (or detect-only mode does).
    pub event: Option<Logged>,
}

impl Call {
    /// Every call, each kind of `Remote`.
    pub const ALL: [Call; 14] = [
        Call::DatagramBind,
        Call::Listen,
        Call::InheritedListener,
        Call::ClientBind,
        Call::Connect,
        Call::DatagramConnect,
        Call::Send,
        Call::Accept,
        Call::Datagram,
        Call::NameServer,
        Call::Remote(EventKind::BindServer),
        Call::Remote(EventKind::BindClient),
        Call::Remote(EventKind::Connect),
        Call::Remote(EventKind::Accept),
    ];

    /// The rules that judge the call on an address with this port (only a datagram socket's
    /// bind depends on it).
    #[inline(always)]
    pub const fn kind(self, port: u16) -> EventKind {
        match self {
            Call::DatagramBind if port == 0 => EventKind::BindClient,
            Call::DatagramBind | Call::Listen | Call::InheritedListener => EventKind::BindServer,
            Call::ClientBind => EventKind::BindClient,
            Call::Connect | Call::Send | Call::NameServer => EventKind::Connect,
            Call::DatagramConnect | Call::Accept | Call::Datagram => EventKind::Accept,
            Call::Remote(kind) => kind,
        }
    }

    /// How the call is refused when a protect rule decides it.
    pub const fn refusal(self) -> Refusal {
        match self {
            Call::DatagramBind
            | Call::Listen
            | Call::InheritedListener
            | Call::ClientBind
            | Call::Send => Refusal::PermissionDenied,
            Call::Connect | Call::DatagramConnect | Call::Remote(_) => Refusal::ConnectionRefused,
            Call::Accept | Call::Datagram | Call::NameServer => Refusal::Discard,
        }
    }

    /// The transport the call implies, when it implies one: a `connect`, a send or a name
    /// server's query may be either (the enforcer asks the socket).
    pub const fn transport(self) -> Option<Transport> {
        match self {
            Call::DatagramBind | Call::DatagramConnect | Call::Datagram => Some(Transport::Udp),
            Call::Listen
            | Call::InheritedListener
            | Call::ClientBind
            | Call::Accept
            | Call::Remote(_) => Some(Transport::Tcp),
            Call::Connect | Call::Send | Call::NameServer => None,
        }
    }

    /// True when the call's events are logged at most once a second per rule ([`Logged`]).
    pub const fn counted(self) -> bool {
        matches!(self, Call::Datagram)
    }
}

/// True when the rank's verdict is to forward the call and log nothing, whatever the call and
/// the mode: no rule, or an `allow()` without a message. The common answers; a caller may skip
/// building the address and the verdict (the hot path of the preload library).
#[inline(always)]
pub fn is_silent(rank: Rank) -> bool {
    rank == Rank::NONE || rank.is_silent_allow()
}

impl Verdict {
    /// Forward, log nothing: no rule decides, or a silent `allow()`.
    pub const FORWARD: Verdict = Verdict {
        outcome: Outcome::Forward,
        event: None,
    };

    /// The verdict on `call` at `address` when the rule of `rank` decides it ([`Rank::NONE`]:
    /// no rule). `rank` is the best rank of `call.kind(address.port())` for `address`, as
    /// [`Policy::best_rank`] (or a faster lookup that agrees with it) gives it.
    #[inline]
    pub fn of(policy: &Policy, call: Call, rank: Rank, address: SocketAddr) -> Verdict {
        match policy.decision(rank) {
            Some(decision) => Verdict::decided(call, address, decision),
            None => Verdict::FORWARD,
        }
    }

    /// The verdict of a decision already taken: refused when its action is protect (detect-only
    /// mode has already made that detect), logged when the decision says so.
    pub fn decided(call: Call, address: SocketAddr, decision: Decision) -> Verdict {
        let outcome = match decision.action {
            Action::Protect => Outcome::Refuse(call.refusal()),
            Action::Allow | Action::Detect => Outcome::Forward,
        };
        let event = decision.logged.then_some(Logged {
            kind: call.kind(address.port()),
            address,
            decision,
            counted: call.counted(),
            transport: call.transport(),
        });
        Verdict { outcome, event }
    }

    /// The refusal, when the call is refused.
    #[inline]
    pub fn refusal(&self) -> Option<Refusal> {
        match self.outcome {
            Outcome::Refuse(refusal) => Some(refusal),
            Outcome::Forward => None,
        }
    }
}

/// The verdict on `call` at `address`, the rules ranked by the policy itself (resolving the
/// rules' hostnames, the first time, through the policy's resolver).
pub fn judge(policy: &Policy, call: Call, address: SocketAddr) -> Verdict {
    let kind = call.kind(address.port());
    Verdict::of(policy, call, policy.best_rank(kind, address), address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::{SourceFile, load};
    use crate::policy::Mode;

    /// One rule of each action for each kind, each on its own address (10.0.0.N, N the
    /// action), with a message when `messages`: port 1 allow, 2 detect (always with one), 3
    /// protect, 4 allow without a message whatever `messages` says.
    fn policy(messages: bool, mode: Mode) -> Policy {
        let mut text = String::from("app(\"t\"):\n    requires(version: ARMR/2.11)\n");
        let conditions = [
            "bind(server: \"10.0.0.{p}:{p}\")",
            "bind(client: \"10.0.0.{p}:0\")",
            "connect(\"10.0.0.{p}:{p}\")",
            "accept(\"10.0.0.{p}:0\")",
        ];
        let mut n = 0;
        for condition in conditions {
            for (port, action) in [(1, "allow"), (2, "detect"), (3, "protect"), (4, "allow")] {
                // detect always has a message (the language requires one).
                let message = if (messages && port != 4) || action == "detect" {
                    "message: \"m\", severity: High"
                } else {
                    ""
                };
                n += 1;
                text.push_str(&format!(
                    "    socket(\"r{n}\"):\n        {}\n        {action}({message})\n    endsocket\n",
                    condition.replace("{p}", &port.to_string()),
                ));
            }
        }
        text.push_str("endapp\n");
        let loaded = load(vec![SourceFile::new("t.armr", text)]);
        assert!(loaded.is_ok(), "{}", loaded.files[0].render());
        Policy::new(loaded.rules, mode)
    }

    /// The address of the rule of `action` (1 allow, 2 detect, 3 protect, 4 silent allow, any
    /// other: no rule), for every call: the port is the action too, which the server and connect
    /// rules name, and a datagram bind to it is a server's.
    fn address(action: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, action as u8], action))
    }

    fn calls() -> Vec<Call> {
        Call::ALL.to_vec()
    }

    #[test]
    fn each_call_is_judged_by_its_rules_and_refused_with_its_errno() {
        use EventKind::*;
        let expected = [
            (Call::DatagramBind, BindServer, Refusal::PermissionDenied),
            (Call::Listen, BindServer, Refusal::PermissionDenied),
            (
                Call::InheritedListener,
                BindServer,
                Refusal::PermissionDenied,
            ),
            (Call::ClientBind, BindClient, Refusal::PermissionDenied),
            (Call::Connect, Connect, Refusal::ConnectionRefused),
            (Call::DatagramConnect, Accept, Refusal::ConnectionRefused),
            (Call::Send, Connect, Refusal::PermissionDenied),
            (Call::Accept, Accept, Refusal::Discard),
            (Call::Datagram, Accept, Refusal::Discard),
            (Call::NameServer, Connect, Refusal::Discard),
            (
                Call::Remote(BindServer),
                BindServer,
                Refusal::ConnectionRefused,
            ),
            (
                Call::Remote(BindClient),
                BindClient,
                Refusal::ConnectionRefused,
            ),
            (Call::Remote(Connect), Connect, Refusal::ConnectionRefused),
            (Call::Remote(Accept), Accept, Refusal::ConnectionRefused),
        ];
        assert_eq!(expected.map(|(call, _, _)| call), Call::ALL);
        let policy = policy(true, Mode::Enforce);
        for (call, kind, refusal) in expected {
            assert_eq!(
                (call.kind(8080), call.refusal()),
                (kind, refusal),
                "{call:?}"
            );
            let verdict = judge(&policy, call, address(3));
            assert_eq!(verdict.outcome, Outcome::Refuse(refusal), "{call:?}");
            assert_eq!(verdict.refusal(), Some(refusal));
            let event = verdict.event.expect("a protect rule with a message logs");
            assert_eq!(event.kind, kind, "{call:?}");
            assert_eq!(event.address, address(3));
            assert_eq!(event.decision.action, Action::Protect);
            assert_eq!(event.counted, call == Call::Datagram, "{call:?}");
        }
        // A datagram socket bound to port 0 asks for an ephemeral port: a client's bind.
        assert_eq!(Call::DatagramBind.kind(0), BindClient);
        let client = SocketAddr::from(([10, 0, 0, 3], 0));
        let verdict = judge(&policy, Call::DatagramBind, client);
        assert_eq!(verdict.outcome, Outcome::Refuse(Refusal::PermissionDenied));
        assert_eq!(verdict.event.map(|e| e.kind), Some(BindClient));
    }

    #[test]
    fn allow_and_detect_forward_protect_refuses_and_a_message_or_detect_logs() {
        for messages in [true, false] {
            let policy = policy(messages, Mode::Enforce);
            for call in calls() {
                let verdict = |action| judge(&policy, call, address(action));
                // allow: forwarded, logged only with a message.
                let allow = verdict(1);
                assert_eq!(allow.outcome, Outcome::Forward, "{call:?}");
                assert_eq!(allow.event.is_some(), messages, "{call:?}");
                // detect: forwarded, always logged.
                let detect = verdict(2);
                assert_eq!(detect.outcome, Outcome::Forward, "{call:?}");
                let event = detect.event.expect("detect logs");
                assert_eq!(event.decision.action, Action::Detect);
                // protect: refused, logged only with a message.
                let protect = verdict(3);
                assert_eq!(protect.outcome, Outcome::Refuse(call.refusal()), "{call:?}");
                assert_eq!(protect.event.is_some(), messages, "{call:?}");
                // a silent allow, and no rule: nothing to do.
                assert_eq!(verdict(4), Verdict::FORWARD, "{call:?}");
                assert_eq!(verdict(9), Verdict::FORWARD, "{call:?}");
            }
        }
    }

    #[test]
    fn detect_only_mode_forwards_and_logs_every_call_a_protect_rule_would_refuse() {
        for messages in [true, false] {
            let policy = policy(messages, Mode::DetectOnly);
            for call in calls() {
                let protect = judge(&policy, call, address(3));
                assert_eq!(protect.outcome, Outcome::Forward, "{call:?}");
                let event = protect.event.expect("logged even without a message");
                assert_eq!(event.decision.selected, Action::Protect);
                assert_eq!(event.decision.action, Action::Detect);
                // Allow rules are as in enforce mode.
                let allow = judge(&policy, call, address(1));
                assert_eq!(allow.outcome, Outcome::Forward);
                assert_eq!(allow.event.is_some(), messages);
                assert_eq!(judge(&policy, call, address(4)), Verdict::FORWARD);
            }
        }
    }

    #[test]
    fn a_silent_rank_is_a_silent_forward_and_the_verdict_follows_the_rank_alone() {
        let policy = policy(true, Mode::Enforce);
        for call in calls() {
            for action in 1..=4 {
                let address = address(action);
                let rank = policy.best_rank(call.kind(address.port()), address);
                let verdict = Verdict::of(&policy, call, rank, address);
                assert_eq!(verdict, judge(&policy, call, address));
                assert_eq!(
                    is_silent(rank),
                    verdict == Verdict::FORWARD,
                    "{call:?} {action}"
                );
            }
        }
        assert!(is_silent(Rank::NONE));
        assert_eq!(
            Verdict::of(&policy, Call::Connect, Rank::NONE, address(3)),
            Verdict::FORWARD
        );
    }
}
