#!/usr/bin/env bash
# Logging throughput of libarmr.so: a loop of N connects to 127.0.0.1, timed
#   (a) without armr,
#   (b) under armr with a silent protect rule (no message: refused, nothing logged),
#   (c) under armr with a detect rule with a message (every connect reaches the kernel and is
#       logged to a file: ARMR_LOG=file:/tmp/...),
#   (d) under armr with a protect rule with a message (refused without a system call, and logged
#       to the same file): what logging costs without the kernel's connect underneath,
# each REPEAT times, interleaved; the median of each is reported, with events per second in (c)
# and (d), and the time ratios to (a). Two loops: N connects of one UDP socket (a connect the
# kernel does in about a microsecond, so the figure is armr's logging throughput), and N TCP
# connects to a closed port, each with its own socket (what a client sees; the kernel's refusal
# costs more than the event). Prints the Markdown tables for docs/performance.md.
#
#   benches/logging.sh              N=200000 REPEAT=3
#   N=50000 REPEAT=1 benches/logging.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
REPEAT=${REPEAT:-3}
cargo build --release -q
lib=$PWD/target/release/libarmr.so
work=$(mktemp -d /tmp/armr-bench-logging.XXXXXX)
trap 'rm -rf "$work"' EXIT

cc -O2 -o "$work/connect_loop" benches/connect_loop.c
port=$("$work/connect_loop" free-port)

cat >"$work/silent.armr" <<'RULES'
app("bench"):
    requires(version: ARMR/2.11)
    socket("silent protect"):
        connect("0.0.0.0:0")
        protect()
    endsocket
endapp
RULES
cat >"$work/detect.armr" <<'RULES'
app("bench"):
    requires(version: ARMR/2.11)
    socket("logged detect"):
        connect("0.0.0.0:0")
        detect(message: "outgoing connection", severity: Low)
    endsocket
endapp
RULES
cat >"$work/protect.armr" <<'RULES'
app("bench"):
    requires(version: ARMR/2.11)
    socket("logged protect"):
        connect("0.0.0.0:0")
        protect(message: "outgoing connection blocked", severity: Low)
    endsocket
endapp
RULES

# seconds of one run of the loop (PROTOCOL tcp or udp); checks the counts the run printed: each
# connect refused (every TCP connect, and a UDP one armr refuses) or accepted (a UDP one allowed).
run() {
    local protocol=$1 expect=$2 out
    shift 2
    out=$("$@" "$work/connect_loop" "$port" "$N" "$protocol")
    case $expect:$out in
        refused:"connects=$N refused=$N accepted=0 other=0 seconds="*) echo "${out##*seconds=}" ;;
        accepted:"connects=$N refused=0 accepted=$N other=0 seconds="*) echo "${out##*seconds=}" ;;
        *) echo "$protocol: expected every connect $expect, got: $out" >&2; exit 1 ;;
    esac
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# Runs (c) or (d) with a fresh log file and checks that every event is in it.
logged() {
    local protocol=$1 expect=$2 rules=$3
    rm -f "$work/events.log"
    run "$protocol" "$expect" env LD_PRELOAD="$lib" ARMR_RULES="$work/$rules" ARMR_LOG="file:$work/events.log"
    local lines
    lines=$(wc -l <"$work/events.log")
    [ "$lines" -eq "$N" ] || { echo "$protocol $rules: $lines events logged, not $N" >&2; exit 1; }
}

# The four runs for one protocol, REPEAT times interleaved; prints "ta tb tc td line_bytes".
measure() {
    local protocol=$1 allowed=$2 a=() b=() c=() d=()
    for ((i = 1; i <= REPEAT; i++)); do
        a+=("$(run "$protocol" "$allowed" env -u LD_PRELOAD -u ARMR_RULES)")
        b+=("$(run "$protocol" refused env LD_PRELOAD="$lib" ARMR_RULES="$work/silent.armr" ARMR_LOG=stderr)")
        c+=("$(logged "$protocol" "$allowed" detect.armr)")
        d+=("$(logged "$protocol" refused protect.armr)")
        echo "$protocol run $i/$REPEAT: (a) ${a[-1]} s  (b) ${b[-1]} s  (c) ${c[-1]} s  (d) ${d[-1]} s" >&2
    done
    echo "$(median "${a[@]}") $(median "${b[@]}") $(median "${c[@]}") $(median "${d[@]}") $(($(wc -c <"$work/events.log") / N))"
}

# One Markdown table for one protocol's figures.
table() {
    awk -v n="$N" -v r="$REPEAT" -v what="$1" -v ta="$2" -v tb="$3" -v tc="$4" -v td="$5" -v bytes="$6" 'BEGIN {
    printf "| %s: run | %d connects (median of %d) | per connect | connects per second | time / (a) |\n", what, n, r
    printf "| --- | --- | --- | --- | --- |\n"
    printf "| (a) without armr | %.3f s | %.2f µs | %.0f | 1.00 |\n", ta, ta / n * 1e6, n / ta
    printf "| (b) armr, silent protect rule | %.3f s | %.2f µs | %.0f | %.2f |\n", tb, tb / n * 1e6, n / tb, tb / ta
    printf "| (c) armr, detect rule logging every connect to `file:` | %.3f s | %.2f µs | **%.0f events/s** | %.2f |\n", tc, tc / n * 1e6, n / tc, tc / ta
    printf "| (d) armr, protect rule with a message, logging every refused connect to `file:` | %.3f s | %.2f µs | **%.0f events/s** | %.2f |\n", td, td / n * 1e6, n / td, td / ta
    printf "\nEvent lines: about %d bytes. Logging cost per event: (c) - (a) = %.2f µs, (d) - (b) = %.2f µs.\n\n", bytes, (tc - ta) / n * 1e6, (td - tb) / n * 1e6
}'
}

read -r ua ub uc ud ubytes < <(measure udp accepted)
read -r ta tb tc td tbytes < <(measure tcp refused)

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
fs=$(df -T "$work" | awk 'NR == 2 {print $2}')
printf 'Measured %s on %s (%d cores), Linux %s, %s; /tmp on %s.\n\n' "$(date -u +%Y-%m-%d)" "$cpu" \
    "$(nproc)" "$(uname -r)" "$(rustc --version)" "$fs"
table "UDP connect loop" "$ua" "$ub" "$uc" "$ud" "$ubytes"
table "TCP connect loop" "$ta" "$tb" "$tc" "$td" "$tbytes"
