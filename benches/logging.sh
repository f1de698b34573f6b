#!/usr/bin/env bash
# Logging throughput of libarmr.so: one loop of N connects to a closed port on 127.0.0.1, timed
#   (a) without armr,
#   (b) under armr with a silent protect rule (no message: refused, nothing logged),
#   (c) under armr with a detect rule with a message (every connect reaches the kernel and is
#       logged to a file: ARMR_LOG=file:/tmp/...),
#   (d) under armr with a protect rule with a message (refused without a system call, and logged
#       to the same file): what logging costs without the kernel's connect underneath,
# each REPEAT times, interleaved; the median of each is reported, with events per second in (c)
# in (c) and (d), and the time ratios to (a). Prints a Markdown section for docs/performance.md.
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

# seconds of one run; checks the counts the run printed.
run() {
    local out
    out=$("$@" "$work/connect_loop" "$port" "$N")
    case $out in
        "connects=$N refused=$N other=0 seconds="*) echo "${out##*seconds=}" ;;
        *) echo "unexpected result: $out" >&2; exit 1 ;;
    esac
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# Runs (c) or (d) with a fresh log file and checks that every event is in it.
logged() {
    rm -f "$work/events.log"
    run env LD_PRELOAD="$lib" ARMR_RULES="$work/$1" ARMR_LOG="file:$work/events.log"
    local lines
    lines=$(wc -l <"$work/events.log")
    [ "$lines" -eq "$N" ] || { echo "$1: $lines events logged, not $N" >&2; exit 1; }
}

a=() b=() c=() d=()
for ((i = 1; i <= REPEAT; i++)); do
    a+=("$(run env -u LD_PRELOAD -u ARMR_RULES)")
    b+=("$(run env LD_PRELOAD="$lib" ARMR_RULES="$work/silent.armr" ARMR_LOG=stderr)")
    c+=("$(logged detect.armr)")
    d+=("$(logged protect.armr)")
    echo "run $i/$REPEAT: (a) ${a[-1]} s  (b) ${b[-1]} s  (c) ${c[-1]} s  (d) ${d[-1]} s" >&2
done
ta=$(median "${a[@]}") tb=$(median "${b[@]}") tc=$(median "${c[@]}") td=$(median "${d[@]}")
line_bytes=$(($(wc -c <"$work/events.log") / N))

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
fs=$(df -T "$work" | awk 'NR == 2 {print $2}')
awk -v n="$N" -v r="$REPEAT" -v ta="$ta" -v tb="$tb" -v tc="$tc" -v td="$td" -v bytes="$line_bytes" \
    -v cpu="$cpu" -v cores="$(nproc)" -v kernel="$(uname -r)" -v fs="$fs" -v rustc="$(rustc --version)" \
    -v when="$(date -u +%Y-%m-%d)" 'BEGIN {
    printf "Measured %s on %s (%d cores), Linux %s, %s; /tmp on %s.\n\n", when, cpu, cores, kernel, rustc, fs
    printf "| run | %d connects (median of %d) | per connect | connects per second | time / (a) |\n", n, r
    printf "| --- | --- | --- | --- | --- |\n"
    printf "| (a) without armr | %.3f s | %.2f µs | %.0f | 1.00 |\n", ta, ta / n * 1e6, n / ta
    printf "| (b) armr, silent protect rule | %.3f s | %.2f µs | %.0f | %.2f |\n", tb, tb / n * 1e6, n / tb, tb / ta
    printf "| (c) armr, detect rule logging every connect to `file:` | %.3f s | %.2f µs | **%.0f events/s** | %.2f |\n", tc, tc / n * 1e6, n / tc, tc / ta
    printf "| (d) armr, protect rule with a message, logging every refused connect to `file:` | %.3f s | %.2f µs | **%.0f events/s** | %.2f |\n", td, td / n * 1e6, n / td, td / ta
    printf "\nEvent lines: about %d bytes. Logging cost per event: (c) - (a) = %.2f µs, (d) - (b) = %.2f µs.\n", bytes, (tc - ta) / n * 1e6, (td - tb) / n * 1e6
}'
