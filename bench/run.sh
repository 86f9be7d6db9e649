#!/usr/bin/env bash
# bench/run.sh: capproxy versus nginx as the same reverse proxy, in front of the same
# fast local upstream (another nginx), measured with wrk. Not a test: nothing here
# asserts a timing; it prints numbers. See bench/README.md.
#
#   bench/run.sh                      # defaults: 10s per run, N = nproc workers
#   BENCH_DURATION=30s bench/run.sh   # longer runs
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit,
# error or Ctrl-C; the temp dir is removed unless BENCH_KEEP_TMP=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

# ---------------------------------------------------------------- settings (env)
BENCH_DURATION=${BENCH_DURATION:-10s}          # each measured wrk run
BENCH_WARMUP=${BENCH_WARMUP:-2s}               # unmeasured wrk run before each measured one
BENCH_WORKERS=${BENCH_WORKERS:-${CAPPROXY_WORKERS:-$(nproc)}}  # capproxy workers = nginx worker_processes
BENCH_UPSTREAM_WORKERS=${BENCH_UPSTREAM_WORKERS:-1}            # upstream nginx worker_processes
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"64:2 256:2 1:1"}          # connections:threads for wrk
BENCH_ORDER=${BENCH_ORDER:-alternate}          # alternate | capproxy-first | nginx-first
BENCH_PATH=${BENCH_PATH:-/v1/v2/oauth-clients/abc/users/42}
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30} # seconds to wait for capproxy's "ready" line
BENCH_WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-5s}     # wrk --timeout (per request)
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}
BENCH_RESULTS_DIR=${BENCH_RESULTS_DIR:-}       # if set: copy the raw wrk outputs and the table here
BENCH_SECRET=${BENCH_SECRET:-bench-secret}
CAPPROXY_BIN=${CAPPROXY_BIN:-$REPO_ROOT/build/capproxy}
CAPPROXY_ARGS=${CAPPROXY_ARGS:-}               # extra args (word-split), run from the repo root
NGINX_BIN=${NGINX_BIN:-}
BODY_SIZE=600

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# "10s" / "2m" / "500ms" / "1h" / "7" -> whole seconds, rounded up
dur_secs() {
    local d=$1
    case $d in
        *ms) echo $(( (${d%ms} + 999) / 1000 )) ;;
        *s) echo "${d%s}" ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *h) echo $(( ${d%h} * 3600 )) ;;
        *) echo "$d" ;;
    esac
}
[[ $(dur_secs "$BENCH_DURATION") =~ ^[0-9]+$ ]] || die "BENCH_DURATION: use e.g. 10s, 1m"
[[ $(dur_secs "$BENCH_WARMUP") =~ ^[0-9]+$ ]] || die "BENCH_WARMUP: use e.g. 2s, 0s"
[[ $BENCH_WORKERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_WORKERS must be a positive integer"

# ---------------------------------------------------------------- tools
install_missing() {
    local missing=() sudo=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    if [[ -z $NGINX_BIN ]] && ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
        missing+=(nginx-light)
    fi
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get; install them yourself"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}; run as root or install sudo"
        sudo=(sudo)
    fi
    log "installing ${missing[*]} with apt-get"
    timeout 300 "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"
}
install_missing
if [[ -z $NGINX_BIN ]]; then
    NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
fi
[[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN"
[[ -x $CAPPROXY_BIN ]] || die "capproxy binary not found at $CAPPROXY_BIN
  build it:  cd $REPO_ROOT && (test -d build || meson setup build) && ninja -C build
  or set CAPPROXY_BIN=/path/to/capproxy"
HAVE_SS=0; command -v ss >/dev/null 2>&1 && HAVE_SS=1

# ---------------------------------------------------------------- process bookkeeping
TMP=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-bench.XXXXXX")
PIDS=()        # every long-lived process we started, in start order
WRK_PID=""     # the wrk run in flight, if any

stop_pid() {   # stop one process we started (and the children it forked), by pid
    local pid=$1 kids i
    kill -0 "$pid" 2>/dev/null || return 0
    kids=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    # nginx workers outlive a SIGKILLed master; make sure none is left behind
    for i in $kids; do
        if kill -0 "$i" 2>/dev/null; then kill -KILL "$i" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    [[ -n $WRK_PID ]] && { kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; }
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if ((rc != 0 && rc != 130)); then
        log "failed (exit $rc); logs:"
        for f in "$TMP"/capproxy.stderr "$TMP"/*-error.log "$TMP"/*-stderr.log; do
            [[ -s $f ]] && { echo "--- $f (last 20 lines)" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    if [[ $BENCH_KEEP_TMP == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Listen ports come from below the kernel's ephemeral range: a port above it may be held
# by the local end of some client connection (wrk and the proxies open many), and bind fails.
PICKED_PORTS=" "
read -r EPH_LO _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPH_LO=32768
PORT_LO=10000 PORT_HI=$((EPH_LO - 1))
((PORT_HI - PORT_LO >= 1000)) || { PORT_LO=1025; PORT_HI=$((EPH_LO - 1)); }
((PORT_HI > PORT_LO)) || PORT_HI=65535
pick_port() {  # var: a random unused port in PORT_LO..PORT_HI, not one already picked
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((PORT_LO + (RANDOM * 32768 + RANDOM) % (PORT_HI - PORT_LO + 1)))
        [[ $PICKED_PORTS == *" $p "* ]] && continue
        port_in_use "$p" && continue
        if ((HAVE_SS)) && [[ -n $(ss -Htan "( sport = :$p )" 2>/dev/null) ]]; then continue; fi
        PICKED_PORTS+="$p "
        printf -v "$1" '%s' "$p"
        return 0
    done
    die "no free port found"
}

wait_port() {  # pid port what: wait until something listens on the port (max 10 s)
    local pid=$1 port=$2 what=$3 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
        port_in_use "$port" && return 0
        sleep 0.1
    done
    die "$what does not listen on 127.0.0.1:$port after 10 s"
}

# ---------------------------------------------------------------- upstream body (600 bytes)
make_body() {
    local head='{"status":"success","data":{"id":42,"email":"bench.user+abc@example.com","username":"bench-user-42","name":"Bench User","timeZone":"Europe/Amsterdam","weekStart":"Monday","createdDate":"2026-05-19T10:00:00.000Z","timeFormat":24,"defaultScheduleId":7,"locale":"en","avatarUrl":null,"bio":"Managed user served by the capproxy benchmark upstream.","metadata":{"source":"bench","tier":"fixed"},"pad":"'
    local tail='"}}' pad
    local n=$((BODY_SIZE - ${#head} - ${#tail}))
    ((n >= 0)) || die "body head too long"
    printf -v pad '%*s' "$n" ''
    pad=${pad// /x}
    printf '%s%s%s' "$head" "$pad" "$tail"
}
BODY=$(make_body)
((${#BODY} == BODY_SIZE)) || die "body is ${#BODY} bytes, expected $BODY_SIZE"
printf '%s' "$BODY" >"$TMP/expected-body.json"

USER_LINE=""
if ((EUID == 0)); then  # run the workers as the current user too (nginx would switch to nobody)
    USER_LINE="user $(id -un) $(id -gn);"
fi

render() {  # template output: replace @NAME@ placeholders (quoted replacement: no & magic)
    local t
    t=$(<"$1")
    t=${t//@USER_LINE@/"$USER_LINE"}
    t=${t//@DIR@/"$TMP"}
    t=${t//@UPSTREAM_WORKERS@/"$BENCH_UPSTREAM_WORKERS"}
    t=${t//@WORKERS@/"$BENCH_WORKERS"}
    t=${t//@UPSTREAM_PORT@/"$UPSTREAM_PORT"}
    t=${t//@PROXY_PORT@/"$NGINX_PORT"}
    t=${t//@SECRET@/"$BENCH_SECRET"}
    t=${t//@BODY@/"$BODY"}
    printf '%s\n' "$t" >"$2"
}

start_nginx() {  # name conf port -> sets NGINX_STARTED_PID
    local name=$1 conf=$2 port=$3
    mkdir -p "$TMP/$name-tmp"
    "$NGINX_BIN" -t -q -p "$TMP" -c "$conf" -e "$TMP/$name-error.log" 2>"$TMP/$name-test.out" \
        || die "nginx $name config test failed: $(cat "$TMP/$name-test.out")"
    "$NGINX_BIN" -p "$TMP" -c "$conf" -e "$TMP/$name-error.log" \
        </dev/null >"$TMP/$name-stderr.log" 2>&1 &
    NGINX_STARTED_PID=$!
    PIDS+=("$NGINX_STARTED_PID")
    wait_port "$NGINX_STARTED_PID" "$port" "nginx $name"
}

pick_port UPSTREAM_PORT
pick_port CAPPROXY_PORT
pick_port NGINX_PORT
UPSTREAM_LOG=$TMP/upstream-access.log

# ---------------------------------------------------------------- 1. upstream
render "$SCRIPT_DIR/nginx-upstream.conf.in" "$TMP/upstream.conf"
start_nginx upstream "$TMP/upstream.conf" "$UPSTREAM_PORT"
UPSTREAM_PID=$NGINX_STARTED_PID
log "upstream nginx on 127.0.0.1:$UPSTREAM_PORT (pid $UPSTREAM_PID, $BENCH_UPSTREAM_WORKERS worker(s))"

# ---------------------------------------------------------------- 2. capproxy
(
    cd "$REPO_ROOT"
    # shellcheck disable=SC2086  # CAPPROXY_ARGS is meant to be word-split
    exec env CAL_COM_BASE_URI="http://127.0.0.1:$UPSTREAM_PORT" \
        CAL_COM_CLIENT_SECRET="$BENCH_SECRET" \
        CAPPROXY_REST_LISTEN="127.0.0.1:$CAPPROXY_PORT" \
        CAPPROXY_WORKERS="$BENCH_WORKERS" \
        CAPPROXY_ACCESS_LOG=off \
        CAPPROXY_MCP_LISTEN="${CAPPROXY_MCP_LISTEN:-127.0.0.1:0}" \
        CAPPROXY_ADMIN_LISTEN="${CAPPROXY_ADMIN_LISTEN:-127.0.0.1:0}" \
        "$CAPPROXY_BIN" $CAPPROXY_ARGS
) </dev/null >"$TMP/capproxy.stdout" 2>"$TMP/capproxy.stderr" &
CAPPROXY_PID=$!
PIDS+=("$CAPPROXY_PID")
ready=0
for ((i = 0; i < BENCH_READY_TIMEOUT * 10; i++)); do
    kill -0 "$CAPPROXY_PID" 2>/dev/null || die "capproxy exited during start-up"
    if grep -q 'capproxy: info: ready' "$TMP/capproxy.stderr" 2>/dev/null; then ready=1; break; fi
    sleep 0.1
done
((ready)) || die "capproxy printed no 'ready' line within ${BENCH_READY_TIMEOUT}s"
# the port it reports (the one asked for, unless the config mapping changed it)
listen_line=$(grep -m1 'rest listening on' "$TMP/capproxy.stderr" || true)
if [[ $listen_line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then
    CAPPROXY_PORT=${BASH_REMATCH[1]}
fi
wait_port "$CAPPROXY_PID" "$CAPPROXY_PORT" capproxy
log "capproxy on 127.0.0.1:$CAPPROXY_PORT (pid $CAPPROXY_PID): $(grep -m1 'capproxy: info: ready' "$TMP/capproxy.stderr")"

# ---------------------------------------------------------------- 3. nginx as the proxy
render "$SCRIPT_DIR/nginx-proxy.conf.in" "$TMP/proxy.conf"
start_nginx proxy "$TMP/proxy.conf" "$NGINX_PORT"
NGINX_PID=$NGINX_STARTED_PID
log "nginx proxy on 127.0.0.1:$NGINX_PORT (pid $NGINX_PID, $BENCH_WORKERS worker(s))"

# ---------------------------------------------------------------- helpers for 4. and 5.
flush_upstream_log() {  # the access log is buffered with flush=1s; let it drain
    sleep 1.3
}
reset_upstream_log() { : >"$UPSTREAM_LOG"; }

# upstream_stats -> "requests conns bad_secret bad_path" for what is in the log now
upstream_stats() {
    awk -v secret="\"$BENCH_SECRET\"" -v path="${BENCH_PATH#/v1}" '
        { n++; conn[$1 " " $2] = 1
          if ($4 != secret) bad++
          if ($6 != path) badpath++ }
        END { c = 0; for (k in conn) c++; printf "%d %d %d %d\n", n, c, bad, badpath }' "$UPSTREAM_LOG"
}

verify() {  # name port
    local name=$1 port=$2 out code size ctype
    local -a st
    reset_upstream_log
    out=$(curl -sS --max-time 5 -o "$TMP/verify-$name.body" \
        -w '%{http_code} %{size_download} %{content_type}' "http://127.0.0.1:$port$BENCH_PATH") \
        || die "$name: curl failed"
    read -r code size ctype <<<"$out"
    [[ $code == 200 ]] || die "$name: GET $BENCH_PATH -> HTTP $code: $(head -c 300 "$TMP/verify-$name.body")"
    [[ $size == "$BODY_SIZE" ]] || die "$name: body is $size bytes, expected $BODY_SIZE"
    cmp -s "$TMP/verify-$name.body" "$TMP/expected-body.json" || die "$name: body differs from the upstream's"
    [[ $ctype == application/json* ]] || log "warning: $name answers Content-Type '$ctype'"
    flush_upstream_log
    read -r -a st <<<"$(upstream_stats)"
    ((st[0] == 1)) || die "$name: upstream saw ${st[0]} requests for one call (expected 1)"
    ((st[2] == 0)) || die "$name: upstream did not receive x-cal-secret-key: $BENCH_SECRET ($(tail -n1 "$UPSTREAM_LOG"))"
    ((st[3] == 0)) || die "$name: upstream saw path '$(awk '{print $6}' "$UPSTREAM_LOG")', expected '${BENCH_PATH#/v1}'"
    log "verified $name: 200, $size-byte body identical, upstream got $(awk '{print $5, $6}' "$UPSTREAM_LOG") with the secret header"
}

cpu_ticks() {  # pid: utime+stime of it and its direct children (nginx workers)
    local pid=$1 p total=0 s
    local -a fld
    for p in $pid $(pgrep -P "$pid" 2>/dev/null || true); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }                       # drop "pid (comm) "
        read -r -a fld <<<"$s"            # fld[0] = state (field 3): utime = field 14, stime = 15
        total=$((total + fld[11] + fld[12]))
    done
    echo "$total"
}
rss_kib() {  # pid: VmRSS of it and its direct children
    local pid=$1 p total=0 v
    for p in $pid $(pgrep -P "$pid" 2>/dev/null || true); do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# count_proxy_sockets pid file: sockets in an `ss -tnp` listing owned by the proxy (the pid or
# its children). Without process info (ss -p needs privileges) every socket is counted, with '*'.
count_proxy_sockets() {
    local pid=$1 f=$2 pids
    if grep -q 'pid=' "$f"; then
        pids=$({ echo "$pid"; pgrep -P "$pid" 2>/dev/null || true; } | paste -sd'|')
        grep -Ec "pid=($pids)," "$f" || true
    else
        echo "$(wc -l <"$f")*"
    fi
}

run_wrk() {  # out conns threads duration url [wrk args...]  (in the background so Ctrl-C is prompt)
    local out=$1 c=$2 t=$3 d=$4 url=$5 rc=0
    shift 5
    timeout -k 5 $(($(dur_secs "$d") + 30)) wrk -t"$t" -c"$c" -d"$d" --latency --timeout "$BENCH_WRK_TIMEOUT" \
        "$@" "$url" </dev/null >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    ((rc == 0)) || die "wrk failed (exit $rc): $(tail -n 5 "$out")"
}

to_ms() {  # wrk latency ("845.12us", "1.23ms", "1.01s", "1.50m") -> ms
    awk -v v="$1" 'BEGIN {
        if (v == "") { print "-"; exit }
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf (n < 10 ? "%.3f" : "%.1f"), n }'
}

# parse_wrk file -> "rps p50ms p99ms requests errors"
parse_wrk() {
    local f=$1 rps p50 p99 reqs non2xx sockerr
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
    p50=$(awk '$1 == "50%" {print $2}' "$f")
    p99=$(awk '$1 == "99%" {print $2}' "$f")
    reqs=$(awk '/ requests in / {print $1}' "$f")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
    sockerr=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$f")
    echo "${rps:-0} $(to_ms "$p50") $(to_ms "$p99") ${reqs:-0} $(( ${non2xx:-0} + ${sockerr:-0} ))"
}

# ---------------------------------------------------------------- 4. verification
verify capproxy "$CAPPROXY_PORT"
verify nginx "$NGINX_PORT"

# ---------------------------------------------------------------- 5. wrk runs
declare -A R   # R[target,scenario,field]
measure() {  # target port conns threads scenario
    local target=$1 port=$2 c=$3 t=$4 sc=$5 pid cpu0 cpu1 mid_ss=- stats out
    local url="http://127.0.0.1:$port$BENCH_PATH"
    [[ $target == capproxy ]] && pid=$CAPPROXY_PID || pid=$NGINX_PID
    if [[ $(dur_secs "$BENCH_WARMUP") -gt 0 ]]; then
        log "  warm-up  $target c=$c t=$t $BENCH_WARMUP"
        run_wrk "$TMP/warmup-$target-$sc.txt" "$c" "$t" "$BENCH_WARMUP" "$url"
    fi
    flush_upstream_log
    reset_upstream_log
    log "  measure  $target c=$c t=$t $BENCH_DURATION"
    out=$TMP/wrk-$target-$sc.txt
    cpu0=$(cpu_ticks "$pid")
    if ((HAVE_SS)); then  # sample the proxy's open upstream sockets half-way through
        (
            sleep "$(awk -v s="$(dur_secs "$BENCH_DURATION")" 'BEGIN {print s / 2}')"
            ss -Htnp state established "( dport = :$UPSTREAM_PORT )" >"$TMP/ss-$target-$sc.raw" 2>/dev/null || true
            count_proxy_sockets "$pid" "$TMP/ss-$target-$sc.raw" >"$TMP/ss-$target-$sc.txt"
        ) &
        PIDS+=("$!")
    fi
    run_wrk "$out" "$c" "$t" "$BENCH_DURATION" "$url"
    cpu1=$(cpu_ticks "$pid")
    [[ -s $TMP/ss-$target-$sc.txt ]] && mid_ss=$(tr -d ' ' <"$TMP/ss-$target-$sc.txt")
    flush_upstream_log
    read -r stats <<<"$(upstream_stats)"
    local rps p50 p99 reqs errs ureqs uconns ubad ubadpath
    read -r rps p50 p99 reqs errs <<<"$(parse_wrk "$out")"
    read -r ureqs uconns ubad ubadpath <<<"$stats"
    R[$target,$sc,rps]=$rps R[$target,$sc,p50]=$p50 R[$target,$sc,p99]=$p99
    R[$target,$sc,reqs]=$reqs R[$target,$sc,errs]=$errs
    R[$target,$sc,cpu_us]=$(awk -v d=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
        'BEGIN { if (n > 0) printf "%.1f", d * 1e6 / hz / n; else print "-" }')
    R[$target,$sc,cpu_pct]=$(awk -v d=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$(dur_secs "$BENCH_DURATION")" \
        'BEGIN { printf "%.0f", d * 100 / hz / s }')
    R[$target,$sc,rss]=$(( $(rss_kib "$pid") / 1024 ))
    R[$target,$sc,ureqs]=$ureqs R[$target,$sc,uconns]=$uconns R[$target,$sc,ubad]=$((ubad + ubadpath))
    R[$target,$sc,ss]=$mid_ss
    log "           $rps req/s, p50 ${p50}ms, p99 ${p99}ms, errors $errs, upstream: $ureqs requests on $uconns connection(s)"
}

scenarios=()
idx=0
for s in $BENCH_SCENARIOS; do
    [[ $s =~ ^([0-9]+):([0-9]+)$ ]] || die "BENCH_SCENARIOS entry '$s': use conns:threads, e.g. 64:2"
    c=${BASH_REMATCH[1]} t=${BASH_REMATCH[2]}
    ((t <= c)) || t=$c
    sc="c${c}-t${t}"
    scenarios+=("$sc")
    case $BENCH_ORDER in
        capproxy-first) order="capproxy nginx" ;;
        nginx-first) order="nginx capproxy" ;;
        *) ((idx % 2 == 0)) && order="capproxy nginx" || order="nginx capproxy" ;;
    esac
    log "scenario $sc (order: $order)"
    for target in $order; do
        [[ $target == capproxy ]] && port=$CAPPROXY_PORT || port=$NGINX_PORT
        measure "$target" "$port" "$c" "$t" "$sc"
    done
    idx=$((idx + 1))
done

# ---------------------------------------------------------------- 6. MCP tools/call vs REST
# The same upstream call through both front ends of capproxy, back to back: REST GET of the
# route, and MCP tools/call of the tool that calls the same consumed operation.
MCP_ROWS=()
if [[ ${BENCH_MCP:-1} != 0 ]]; then
    mcp_line=$(grep -m1 'mcp listening on' "$TMP/capproxy.stderr" || true)
    if [[ $mcp_line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then
        MCP_PORT=${BASH_REMATCH[1]}
        MCP_URL="http://127.0.0.1:$MCP_PORT/mcp/cal-com-deprecated-platform-managed-users-mcp"
        MCP_SESSION=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
            -H 'Accept: application/json, text/event-stream' \
            -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
            "$MCP_URL" | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
        [[ -n $MCP_SESSION ]] || die "MCP initialize gave no Mcp-Session-Id"
        export MCP_SESSION
        check=$(curl -s -H 'Content-Type: application/json' -H 'Accept: application/json' \
            -H "Mcp-Session-Id: $MCP_SESSION" -H 'MCP-Protocol-Version: 2025-06-18' \
            -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-managed-user","arguments":{"clientId":"abc","userId":42}}}' \
            "$MCP_URL")
        [[ $check == *'"isError"'* || $check != *'"content"'* ]] && die "MCP tools/call check failed: ${check:0:300}"
        log "MCP tools/call verified on 127.0.0.1:$MCP_PORT"
        for kind in rest mcp; do
            out="$TMP/wrk-capproxy-$kind-c64.txt"
            if [[ $kind == rest ]]; then
                run_wrk "$TMP/warmup-$kind.txt" 64 2 "$BENCH_WARMUP" "http://127.0.0.1:$CAPPROXY_PORT$BENCH_PATH"
                t0=$(cpu_ticks "$CAPPROXY_PID")
                run_wrk "$out" 64 2 "$BENCH_DURATION" "http://127.0.0.1:$CAPPROXY_PORT$BENCH_PATH"
            else
                run_wrk "$TMP/warmup-$kind.txt" 64 2 "$BENCH_WARMUP" "$MCP_URL" -s "$SCRIPT_DIR/mcp-call.lua"
                t0=$(cpu_ticks "$CAPPROXY_PID")
                run_wrk "$out" 64 2 "$BENCH_DURATION" "$MCP_URL" -s "$SCRIPT_DIR/mcp-call.lua"
            fi
            t1=$(cpu_ticks "$CAPPROXY_PID")
            read -r rps p50 p99 reqs errs < <(parse_wrk "$out")
            cpu_us=$(awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
                'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "-" }')
            MCP_ROWS+=("$(printf '| %s | %.0f | %s / %s | %s | %s |' "$kind" "$rps" "$p50" "$p99" "$errs" "$cpu_us")")
            log "  $kind c64: $rps req/s, errors $errs"
        done
    else
        log "no MCP listener found: skipping the MCP measurement"
    fi
fi

# ---------------------------------------------------------------- report
capproxy_version=$(timeout 5 "$CAPPROXY_BIN" --version 2>&1 | head -n1 || true)
nginx_version=$("$NGINX_BIN" -v 2>&1 | head -n1 | sed 's/^nginx version: //')
wrk_version=$(wrk -v 2>&1 | head -n1 | sed 's/ Copyright.*//' || true)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)

report() {
    echo
    echo "## capproxy vs nginx (reverse proxy to the same local nginx upstream)"
    echo
    echo "machine: nproc=$(nproc), ${cpu_model:-unknown cpu}, kernel $(uname -r), load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "capproxy: ${capproxy_version:-?} ($CAPPROXY_BIN)"
    echo "nginx: $nginx_version; wrk: $wrk_version"
    echo "settings: workers=$BENCH_WORKERS (capproxy CAPPROXY_WORKERS, nginx worker_processes), upstream workers=$BENCH_UPSTREAM_WORKERS, duration=$BENCH_DURATION, warm-up=$BENCH_WARMUP, order=$BENCH_ORDER"
    echo "request: GET $BENCH_PATH -> upstream GET ${BENCH_PATH#/v1} (200, $BODY_SIZE-byte JSON)"
    echo
    echo "| scenario | capproxy req/s | nginx req/s | ratio capproxy/nginx | capproxy p50/p99 ms | nginx p50/p99 ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    local sc ratio
    for sc in "${scenarios[@]}"; do
        ratio=$(awk -v a="${R[capproxy,$sc,rps]}" -v b="${R[nginx,$sc,rps]}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '| %s | %.0f | %.0f | %s | %s / %s | %s / %s |\n' "$sc" \
            "${R[capproxy,$sc,rps]}" "${R[nginx,$sc,rps]}" "$ratio" \
            "${R[capproxy,$sc,p50]}" "${R[capproxy,$sc,p99]}" "${R[nginx,$sc,p50]}" "${R[nginx,$sc,p99]}"
    done
    echo
    echo "details (errors = wrk non-2xx + socket errors; CPU = proxy process(es) user+sys during the run;"
    echo "upstream conns = distinct TCP connections the upstream saw during the measured run;"
    echo "open mid-run = the proxy's established sockets to the upstream (idle pooled ones included), sampled half-way; bad = upstream requests without the secret or with the wrong path):"
    echo
    echo "| scenario | proxy | requests | errors | CPU % | CPU µs/req | RSS MiB | upstream requests | upstream conns | req/conn | open mid-run | bad |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local target
    for sc in "${scenarios[@]}"; do
        for target in capproxy nginx; do
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$sc" "$target" \
                "${R[$target,$sc,reqs]}" "${R[$target,$sc,errs]}" "${R[$target,$sc,cpu_pct]}" \
                "${R[$target,$sc,cpu_us]}" "${R[$target,$sc,rss]}" "${R[$target,$sc,ureqs]}" \
                "${R[$target,$sc,uconns]}" \
                "$(awk -v r="${R[$target,$sc,ureqs]}" -v c="${R[$target,$sc,uconns]}" \
                    'BEGIN { if (c > 0) printf "%.0f", r / c; else print "-" }')" \
                "${R[$target,$sc,ss]}" "${R[$target,$sc,ubad]}"
        done
    done
}
report_mcp() {
    ((${#MCP_ROWS[@]})) || return 0
    echo
    echo "## capproxy: MCP tools/call vs REST, same upstream call, back to back (c64, t2, $BENCH_DURATION)"
    echo
    echo "| front end | req/s | p50 / p99 ms | errors | CPU µs/req |"
    echo "|---|---:|---:|---:|---:|"
    printf '%s\n' "${MCP_ROWS[@]}"
}
{ report; report_mcp; } | tee "$TMP/report.md"

if [[ -n $BENCH_RESULTS_DIR ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    cp "$TMP"/report.md "$TMP"/wrk-*.txt "$TMP"/capproxy.stderr "$BENCH_RESULTS_DIR"/
    log "results copied to $BENCH_RESULTS_DIR"
fi
