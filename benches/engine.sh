#!/usr/bin/env bash
# benches/engine.sh: what the seccomp engine costs per intercepted call, against the bare
# notification round trip (issue 15, "Performance"). One run, three configurations side by side,
# interleaved round by round (benches/notify_roundtrip.c):
#   bare     the calls with no filter: the kernel's own cost;
#   minimal  under a minimal supervisor that answers each notification at once (CONTINUE), with a
#            filter shaped like armr's: the floor of any supervisor;
#   armr     under `armr run --engine seccomp` with a policy that judges every call and refuses
#            none (rules on other addresses).
# Prints nanoseconds per call (median of the rounds) and the ratios; the budget is armr/minimal
# at most 1.5 for connect, accept and sendto, and send (settled in the filter) close to minimal.
#
#   benches/engine.sh            N=20000 calls of each kind per round, R=5 rounds
#   N=2000 R=1 benches/engine.sh a smoke run
# Needs cc and target/release/armr (cargo build --release), or ARMR_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
R=${R:-5}
armr=${ARMR_BIN:-$PWD/target/release/armr}
say() { printf '%s\n' "$*" >&2; }
[ -x "$armr" ] || { say "benches/engine.sh: $armr is missing: cargo build --release"; exit 1; }

work=$(mktemp -d /tmp/armr-engine-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/notify_roundtrip" benches/notify_roundtrip.c
cat >"$work/rules.armr" <<'EOF'
app("Engine bench"):
    requires(version: ARMR/2.11)
    socket("elsewhere"):
        connect("127.0.0.2:9")
        protect(message: "not reached by the bench", severity: High)
    endsocket
    socket("no peers from .3"):
        accept("127.0.0.3:0")
        protect(message: "not reached by the bench", severity: High)
    endsocket
    socket("no listener on .4"):
        bind(server: "127.0.0.4:9")
        protect(message: "not reached by the bench", severity: High)
    endsocket
endapp
EOF
if ! "$armr" run --engine seccomp -r "$work/rules.armr" -l "$work/log" -- /bin/true 2>"$work/err"; then
    say "benches/engine.sh: $armr has no working seccomp engine: $(cat "$work/err")"
    exit 1
fi

declare -A got
run() { # config
    local out
    case $1 in
    bare) out=$("$work/notify_roundtrip" bare "$N") ;;
    minimal) out=$("$work/notify_roundtrip" minimal "$N") ;;
    armr) out=$("$armr" run --engine seccomp -r "$work/rules.armr" -l "$work/log" -- "$work/notify_roundtrip" bare "$N") ;;
    esac
    while read -r call ns; do got[$1.$call]+="$ns "; done <<<"$out"
}
say "== seccomp engine: $N calls of each kind per round, $R rounds (bare, minimal supervisor, armr)"
for ((r = 1; r <= R; r++)); do
    for config in bare minimal armr; do run "$config"; done
    say "   round $r done"
done
[ ! -s "$work/log" ] || { say "benches/engine.sh: armr logged events: $(head -3 "$work/log")"; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-8s %10s %10s %10s %13s %13s\n' call "bare ns" "minimal ns" "armr ns" "minimal/bare" "armr/minimal"
for call in connect accept sendto send; do
    # shellcheck disable=SC2086
    b=$(median ${got[bare.$call]}) m=$(median ${got[minimal.$call]}) a=$(median ${got[armr.$call]})
    awk -v c="$call" -v b="$b" -v m="$m" -v a="$a" \
        'BEGIN {printf "%-8s %10.0f %10.0f %10.0f %13.2f %13.2f\n", c, b, m, a, m / b, a / m}'
done
say "(send: sendto without an address on a connected UDP socket, settled in the filter)"
