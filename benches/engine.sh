#!/usr/bin/env bash
# benches/engine.sh: what the seccomp engine costs per intercepted call, against the bare
# notification round trip (issue 15, "Performance"). One run, three configurations side by side,
# interleaved round by round (benches/notify_roundtrip.c):
#   bare     the calls with no filter: the kernel's own cost;
#   minimal  under a minimal supervisor that answers each notification at once (CONTINUE), with a
#            filter shaped like armr's: the floor of any supervisor;
#   armr     under `armr run --engine seccomp` with a policy that judges every call and refuses
#            none (connect, bind and accept rules on other addresses).
#   before   (with ARMR_BEFORE=PATH, another armr binary) the same under it, beside: a change's
#            before and after in one run.
# Prints nanoseconds per call (median of the rounds) and the ratios; the budget is armr/minimal
# at most 1.5 for connect, accept and sendto, and send (settled in the filter) close to minimal.
# The three run pinned to one CPU (CPU=0; CPU= does not pin): the program and its supervisor then
# share a core, so a round trip is two context switches, not a wake-up on another core whose
# latency depends on whatever else that core runs (on a shared machine, several times the
# round trip itself, and not the same from one run to the next).
# Then nginx (2 workers) under wrk, keep-alive and `Connection: close`: requests per second
# without armr, under the preload engine and under the seccomp engine (median of HTTP_R runs of
# HTTP_S seconds, interleaved), and the ratios to no armr. The seccomp engine twice: with a
# policy without accept rules, and with one (`seccomp+accept`): accept rules also judge UDP
# datagrams by their sender, so the filter sends every recvfrom, recvmsg and recvmmsg to the
# supervisor, a TCP server's reads included (nginx reads with recv).
#
#   benches/engine.sh            N=20000 calls of each kind per round, R=5 rounds; HTTP_S=3,
#                                HTTP_R=3 (HTTP=0 skips nginx)
#   N=2000 R=1 HTTP_S=1 HTTP_R=1 benches/engine.sh   a smoke run
# Needs cc, python3 and target/release/armr (cargo build --release), or ARMR_BIN; nginx and wrk
# for the second part (scripts/install-bench-deps), skipped with a note when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
R=${R:-5}
CPU=${CPU-0}
HTTP=${HTTP:-1}
HTTP_S=${HTTP_S:-3}
HTTP_R=${HTTP_R:-3}
armr=${ARMR_BIN:-$PWD/target/release/armr}
say() { printf '%s\n' "$*" >&2; }
[ -x "$armr" ] || { say "benches/engine.sh: $armr is missing: cargo build --release"; exit 1; }

work=$(mktemp -d /tmp/armr-engine-bench.XXXXXX)
bg_pid="" # the server running at the moment, if any
cleanup() {
    if [ -n "$bg_pid" ]; then
        kill "$bg_pid" 2>/dev/null || true
        wait "$bg_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -Wall -o "$work/notify_roundtrip" benches/notify_roundtrip.c
cat >"$work/rules.armr" <<'EOF'
app("Engine bench"):
    requires(version: ARMR/2.11)
    socket("elsewhere"):
        connect("127.0.0.2:9")
        protect(message: "not reached by the bench", severity: High)
    endsocket
    socket("no listener on .4"):
        bind(server: "127.0.0.4:9")
        protect(message: "not reached by the bench", severity: High)
    endsocket
endapp
EOF
sed 's/^endapp$//' "$work/rules.armr" >"$work/accept.armr"
cat >>"$work/accept.armr" <<'EOF'
    socket("no peers from .3"):
        accept("127.0.0.3:0")
        protect(message: "not reached by the bench", severity: High)
    endsocket
endapp
EOF
if ! "$armr" run --engine seccomp -r "$work/rules.armr" -l "$work/log" -- /bin/true 2>"$work/err"; then
    say "benches/engine.sh: $armr has no working seccomp engine: $(cat "$work/err")"
    exit 1
fi

pin=()
[ -z "$CPU" ] || pin=(taskset -c "$CPU")
declare -A got
run() { # config
    local out
    case $1 in
    bare) out=$("${pin[@]}" "$work/notify_roundtrip" bare "$N") ;;
    minimal) out=$("${pin[@]}" "$work/notify_roundtrip" minimal "$N") ;;
    before) out=$("${pin[@]}" "$ARMR_BEFORE" run --engine seccomp -r "$work/accept.armr" -l "$work/log" -- "$work/notify_roundtrip" bare "$N") ;;
    armr) out=$("${pin[@]}" "$armr" run --engine seccomp -r "$work/accept.armr" -l "$work/log" -- "$work/notify_roundtrip" bare "$N") ;;
    esac
    while read -r call ns; do got[$1.$call]+="$ns "; done <<<"$out"
}
configs=(bare minimal armr)
[ -z "${ARMR_BEFORE:-}" ] || configs=(bare minimal before armr)
say "== seccomp engine: $N calls of each kind per round, $R rounds (${configs[*]})${CPU:+, on CPU $CPU}"
for ((r = 1; r <= R; r++)); do
    for config in "${configs[@]}"; do run "$config"; done
    say "   round $r done"
done
[ ! -s "$work/log" ] || { say "benches/engine.sh: armr logged events: $(head -3 "$work/log")"; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
if [ -z "${ARMR_BEFORE:-}" ]; then
    printf '%-8s %10s %10s %10s %13s %13s\n' call "bare ns" "minimal ns" "armr ns" "minimal/bare" "armr/minimal"
else
    printf '%-8s %10s %10s %10s %10s %13s %15s %13s\n' call "bare ns" "minimal ns" "before ns" "armr ns" \
        "minimal/bare" "before/minimal" "armr/minimal"
fi
for call in connect accept sendto send; do
    # shellcheck disable=SC2086
    b=$(median ${got[bare.$call]}) m=$(median ${got[minimal.$call]}) a=$(median ${got[armr.$call]})
    if [ -z "${ARMR_BEFORE:-}" ]; then
        awk -v c="$call" -v b="$b" -v m="$m" -v a="$a" \
            'BEGIN {printf "%-8s %10.0f %10.0f %10.0f %13.2f %13.2f\n", c, b, m, a, m / b, a / m}'
    else
        # shellcheck disable=SC2086
        o=$(median ${got[before.$call]})
        awk -v c="$call" -v b="$b" -v m="$m" -v o="$o" -v a="$a" \
            'BEGIN {printf "%-8s %10.0f %10.0f %10.0f %10.0f %13.2f %15.2f %13.2f\n", c, b, m, o, a, m / b, o / m, a / m}'
    fi
done
say "(send: sendto without an address on a connected UDP socket, settled in the filter)"

# ---------------------------------------------------------------- nginx under wrk
[ "$HTTP" = 1 ] || exit 0
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
    say "== nginx: skipped: nginx or wrk is missing (scripts/install-bench-deps)"
    exit 0
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
user root;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "hello\n"; }
    }
}
EOF
nginx_cmd=(nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf")
declare -A rps
http_run() { # config mode: appends the requests per second to rps[config.mode]
    local config=$1 mode=$2 i out hdr=()
    case $config in
    none) env -u LD_PRELOAD "${nginx_cmd[@]}" & ;;
    preload) "$armr" run --engine preload -r "$work/accept.armr" -l "$work/log" -- "${nginx_cmd[@]}" & ;;
    seccomp) "$armr" run --engine seccomp -r "$work/rules.armr" -l "$work/log" -- "${nginx_cmd[@]}" & ;;
    seccomp+accept) "$armr" run --engine seccomp -r "$work/accept.armr" -l "$work/log" -- "${nginx_cmd[@]}" & ;;
    before) "$ARMR_BEFORE" run --engine seccomp -r "$work/rules.armr" -l "$work/log" -- "${nginx_cmd[@]}" & ;;
    before+accept) "$ARMR_BEFORE" run --engine seccomp -r "$work/accept.armr" -l "$work/log" -- "${nginx_cmd[@]}" & ;;
    esac
    bg_pid=$!
    for ((i = 0; i < 1000; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.01
    done
    [ "$mode" = close ] && hdr=(-H "Connection: close")
    out=$(wrk -t2 -c32 -d"${HTTP_S}s" "${hdr[@]}" "http://127.0.0.1:$port/")
    kill -TERM "$bg_pid"
    wait "$bg_pid" || { say "nginx ($config) did not exit cleanly: $(tail -3 "$work/nginx/error.log")"; exit 1; }
    bg_pid=""
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then say "wrk ($config, $mode): $out"; exit 1; fi
    rps[$config.$mode]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
}
http_configs=(none preload seccomp seccomp+accept)
[ -z "${ARMR_BEFORE:-}" ] || http_configs+=(before before+accept)
say "== nginx (2 workers) under wrk -t2 -c32: ${HTTP_S}s runs, median of $HTTP_R, interleaved"
for mode in keepalive close; do
    for ((r = 1; r <= HTTP_R; r++)); do
        for config in "${http_configs[@]}"; do http_run "$config" "$mode"; done
    done
done
[ ! -s "$work/log" ] || { say "benches/engine.sh: armr logged events: $(head -3 "$work/log")"; exit 1; }
printf '\n%-10s %11s %11s %11s %15s %13s %13s %20s\n' nginx "none req/s" preload seccomp "seccomp+accept" \
    "preload/none" "seccomp/none" "seccomp+accept/none"
for mode in keepalive close; do
    # shellcheck disable=SC2086
    n=$(median ${rps[none.$mode]}) p=$(median ${rps[preload.$mode]}) s=$(median ${rps[seccomp.$mode]}) \
        a=$(median ${rps[seccomp+accept.$mode]})
    awk -v c="$mode" -v n="$n" -v p="$p" -v s="$s" -v a="$a" \
        'BEGIN {printf "%-10s %11.0f %11.0f %11.0f %15.0f %13.2f %13.2f %20.2f\n", c, n, p, s, a, p / n, s / n, a / n}'
done
say "(preload and seccomp+accept: connect, bind and accept rules; seccomp: connect and bind rules only)"
[ -n "${ARMR_BEFORE:-}" ] || exit 0
printf '\n%-10s %11s %15s %15s %13s %20s\n' "nginx" "none req/s" "before seccomp" "before+accept" \
    "before/none" "before+accept/none"
for mode in keepalive close; do
    # shellcheck disable=SC2086
    n=$(median ${rps[none.$mode]}) s=$(median ${rps[before.$mode]}) a=$(median ${rps[before+accept.$mode]})
    awk -v c="$mode" -v n="$n" -v s="$s" -v a="$a" \
        'BEGIN {printf "%-10s %11.0f %15.0f %15.0f %13.2f %20.2f\n", c, n, s, a, s / n, a / n}'
done
say "(before: ARMR_BEFORE's seccomp engine, the same two policies)"
