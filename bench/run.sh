#!/usr/bin/env bash
# bench/run.sh: capproxy, the ceiling reference (bench/ceiling/ceiling.c: a minimal tuned evhttp +
# curl multi proxy) and nginx as the same reverse proxy, in front of the same fast local upstream
# (another nginx, over HTTP and HTTPS), measured with wrk in the same run, interleaved, medians of
# BENCH_REPEAT runs. Also: added latency at c1, syscalls per request (strace -c), memory idle and
# with 1,000 idle keep-alive connections, MCP tools/call next to REST. Not a test: nothing here
# asserts a timing; it prints numbers (and whether issue 13's targets are met). See bench/README.md.
#
#   bench/run.sh                                   # defaults: 10s per run, 3 runs, 3 passes
#   BENCH_DURATION=5s BENCH_REPEAT=3 bench/run.sh  # quicker
#
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit,
# error or Ctrl-C; the temp dir is removed unless BENCH_KEEP_TMP=1.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

# ---------------------------------------------------------------- settings (env)
BENCH_DURATION=${BENCH_DURATION:-10s}          # each measured wrk run
BENCH_WARMUP=${BENCH_WARMUP:-1s}               # unmeasured wrk run before each measured one
BENCH_REPEAT=${BENCH_REPEAT:-3}                # measured runs per server and scenario (median)
# passes: scheme:workers:conns[,conns...]; each starts the servers with that many workers and
# that upstream scheme. c1 also measures the upstream directly (added latency).
if [[ -z ${BENCH_PASSES:-} && -n ${BENCH_SCENARIOS:-}${BENCH_WORKERS:-} ]]; then
    # the older settings: one plain HTTP pass
    _c=""
    for _s in ${BENCH_SCENARIOS:-64:2 256:2 1:1}; do _c+=${_c:+,}${_s%%:*}; done
    BENCH_PASSES="http:${BENCH_WORKERS:-1}:$_c"
fi
BENCH_PASSES=${BENCH_PASSES:-"http:1:64,256,1 http:2:64 https:1:64"}
BENCH_SERVERS=${BENCH_SERVERS:-"capproxy ceiling nginx"}
BENCH_ORDER=${BENCH_ORDER:-rotate}             # rotate | fixed (BENCH_SERVERS order)
BENCH_WRK_THREADS=${BENCH_WRK_THREADS:-2}      # wrk -t (1 for c1)
BENCH_UPSTREAM_WORKERS=${BENCH_UPSTREAM_WORKERS:-1}            # upstream nginx worker_processes
BENCH_NGINX_KEEPALIVE=${BENCH_NGINX_KEEPALIVE:-256}            # nginx proxy: upstream keepalive per worker
BENCH_PATH=${BENCH_PATH:-/v1/v2/oauth-clients/abc/users/42}
BENCH_STRACE=${BENCH_STRACE:-1}                # syscalls per request (first pass), 0: skip
BENCH_STRACE_REQUESTS=${BENCH_STRACE_REQUESTS:-20000}
BENCH_IDLE_CONNS=${BENCH_IDLE_CONNS:-1000}     # memory with that many idle connections, 0: skip
BENCH_MCP=${BENCH_MCP:-1}                      # MCP tools/call vs REST (first pass), 0: skip
BENCH_READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30} # seconds to wait for capproxy's "ready" line
BENCH_WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-5s}     # wrk --timeout (per request)
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}
BENCH_RESULTS_DIR=${BENCH_RESULTS_DIR:-}       # if set: copy the raw outputs and the report here
BENCH_SECRET=${BENCH_SECRET:-bench-secret}
CAPPROXY_BIN=${CAPPROXY_BIN:-$REPO_ROOT/build/capproxy}
CAPPROXY_ARGS=${CAPPROXY_ARGS:-}               # extra args (word-split), run from the repo root
NGINX_BIN=${NGINX_BIN:-}
CC=${CC:-cc}
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
[[ $(dur_secs "$BENCH_DURATION") =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION: use e.g. 10s, 1m"
[[ $(dur_secs "$BENCH_WARMUP") =~ ^[0-9]+$ ]] || die "BENCH_WARMUP: use e.g. 2s, 0s"
[[ $BENCH_REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive integer"
[[ $BENCH_STRACE_REQUESTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_STRACE_REQUESTS must be a positive integer"
[[ $BENCH_IDLE_CONNS =~ ^[0-9]+$ ]] || die "BENCH_IDLE_CONNS must be a number"
[[ $BENCH_NGINX_KEEPALIVE =~ ^[1-9][0-9]*$ ]] || die "BENCH_NGINX_KEEPALIVE must be a positive integer"
for s in $BENCH_SERVERS; do
    [[ $s == capproxy || $s == ceiling || $s == nginx ]] || die "BENCH_SERVERS: '$s' is not capproxy, ceiling or nginx"
done
has_server() { [[ " $BENCH_SERVERS " == *" $1 "* ]]; }
PASS_SCHEME=() PASS_WORKERS=() PASS_CONNS=()
for p in $BENCH_PASSES; do
    [[ $p =~ ^(http|https):([1-9][0-9]*):([0-9]+(,[0-9]+)*)$ ]] \
        || die "BENCH_PASSES entry '$p': use scheme:workers:conns[,conns], e.g. http:1:64,256,1"
    PASS_SCHEME+=("${BASH_REMATCH[1]}") PASS_WORKERS+=("${BASH_REMATCH[2]}") PASS_CONNS+=("${BASH_REMATCH[3]//,/ }")
done

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
if has_server capproxy; then
    [[ -x $CAPPROXY_BIN ]] || die "capproxy binary not found at $CAPPROXY_BIN
  build it:  cd $REPO_ROOT && (test -d build || meson setup build) && ninja -C build
  or set CAPPROXY_BIN=/path/to/capproxy"
fi
command -v openssl >/dev/null 2>&1 || die "openssl (the CLI) is needed for the TLS upstream's certificates"
HAVE_STRACE=0; command -v strace >/dev/null 2>&1 && HAVE_STRACE=1
HAVE_NODE=0; command -v node >/dev/null 2>&1 && HAVE_NODE=1
((BENCH_STRACE == 0 || HAVE_STRACE)) || log "strace not found: no syscall counts (apt-get install strace)"
((BENCH_IDLE_CONNS == 0 || HAVE_NODE)) || log "node not found: no memory figure with idle connections"

# The expected duration, printed before anything starts (the run is long; say how long).
estimate_secs() {
    local per=$(($(dur_secs "$BENCH_WARMUP") + $(dur_secs "$BENCH_DURATION") + 3)) nsrv=0 total=0 i c
    for _ in $BENCH_SERVERS; do nsrv=$((nsrv + 1)); done
    for ((i = 0; i < ${#PASS_SCHEME[@]}; i++)); do
        total=$((total + 4 * nsrv))  # start-up and checks
        for c in ${PASS_CONNS[i]}; do
            total=$((total + BENCH_REPEAT * (nsrv + (c == 1 ? 1 : 0)) * per))
        done
    done
    if ((BENCH_MCP)) && has_server capproxy; then total=$((total + 2 * BENCH_REPEAT * per)); fi
    ((BENCH_STRACE == 0 || !HAVE_STRACE)) || total=$((total + nsrv * (6 + BENCH_STRACE_REQUESTS / 4000)))
    ((BENCH_IDLE_CONNS == 0 || !HAVE_NODE)) || total=$((total + nsrv * 5))
    echo "$total"
}
EST=$(estimate_secs)
log "expected duration: about $((EST / 60)) min $((EST % 60)) s (passes: $BENCH_PASSES; servers: $BENCH_SERVERS; $BENCH_REPEAT x $BENCH_DURATION per scenario and server)"
T_START=$SECONDS

# ---------------------------------------------------------------- process bookkeeping
TMP=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-bench.XXXXXX")
PIDS=()        # every long-lived process we started and have not stopped yet
WRK_PID=""     # the wrk run in flight, if any
STRACE_PID=""  # the strace in flight, if any

stop_pid() {   # stop one process we started (and the children it forked), by pid
    local pid=$1 kids i keep=()
    if kill -0 "$pid" 2>/dev/null; then
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
    fi
    for i in "${PIDS[@]}"; do [[ $i == "$pid" ]] || keep+=("$i"); done
    PIDS=(${keep[@]+"${keep[@]}"})
}

cleanup() {
    local rc=$? i f
    trap - EXIT INT TERM
    [[ -n $WRK_PID ]] && { kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; }
    [[ -n $STRACE_PID ]] && { kill -INT "$STRACE_PID" 2>/dev/null || true; wait "$STRACE_PID" 2>/dev/null || true; }
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if ((rc != 0 && rc != 130)); then
        log "failed (exit $rc); logs:"
        for f in "$TMP"/capproxy-*.stderr "$TMP"/ceiling-*.stderr "$TMP"/*-error.log "$TMP"/*-stderr.log "$TMP"/ceiling-build.log; do
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

HAVE_SS=0; command -v ss >/dev/null 2>&1 && HAVE_SS=1
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

# ---------------------------------------------------------------- TLS material (openssl CLI)
# A CA and a server certificate for localhost / 127.0.0.1 signed by it: the upstream serves it,
# each proxy verifies it with the CA (capproxy upstream.caFile, nginx proxy_ssl_trusted_certificate,
# the ceiling CURLOPT_CAINFO).
make_certs() {
    bash "$SCRIPT_DIR/make-certs.sh" "$TMP/tls" 2>"$TMP/openssl.log" \
        || die "openssl failed: $(tail -n 5 "$TMP/openssl.log")"
}
make_certs

# ---------------------------------------------------------------- the ceiling reference
CEILING_BIN=$TMP/ceiling
if has_server ceiling; then
    command -v pkg-config >/dev/null 2>&1 || die "pkg-config is needed to build bench/ceiling (or leave ceiling out of BENCH_SERVERS)"
    # shellcheck disable=SC2046  # pkg-config output is meant to be word-split
    "$CC" -O2 -std=c11 -o "$CEILING_BIN" "$SCRIPT_DIR/ceiling/ceiling.c" \
        $(pkg-config --cflags --libs libevent libcurl) -lpthread >"$TMP/ceiling-build.log" 2>&1 \
        || die "building bench/ceiling/ceiling.c failed: $(tail -n 5 "$TMP/ceiling-build.log")"
fi

USER_LINE=""
if ((EUID == 0)); then  # run the workers as the current user too (nginx would switch to nobody)
    USER_LINE="user $(id -un) $(id -gn);"
fi

render() {  # template output workers scheme: replace @NAME@ placeholders (quoted: no & magic)
    local t up_port=$UPSTREAM_PORT
    [[ ${4:-http} == https ]] && up_port=$UPSTREAM_TLS_PORT
    t=$(<"$1")
    t=${t//@USER_LINE@/"$USER_LINE"}
    t=${t//@DIR@/"$TMP"}
    t=${t//@UPSTREAM_WORKERS@/"$BENCH_UPSTREAM_WORKERS"}
    t=${t//@WORKERS@/"${3:-1}"}
    t=${t//@UPSTREAM_TLS_PORT@/"$UPSTREAM_TLS_PORT"}
    t=${t//@UPSTREAM_PORT@/"$up_port"}
    t=${t//@SCHEME@/"${4:-http}"}
    t=${t//@PROXY_PORT@/"$NGINX_PORT"}
    t=${t//@SECRET@/"$BENCH_SECRET"}
    t=${t//@KEEPALIVE@/"$BENCH_NGINX_KEEPALIVE"}
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
pick_port UPSTREAM_TLS_PORT
pick_port CAPPROXY_PORT
pick_port CEILING_PORT
pick_port NGINX_PORT
UPSTREAM_LOG=$TMP/upstream-access.log

# ---------------------------------------------------------------- 1. upstream (HTTP and HTTPS)
render "$SCRIPT_DIR/nginx-upstream.conf.in" "$TMP/upstream.conf"
start_nginx upstream "$TMP/upstream.conf" "$UPSTREAM_PORT"
UPSTREAM_PID=$NGINX_STARTED_PID
wait_port "$UPSTREAM_PID" "$UPSTREAM_TLS_PORT" "nginx upstream (TLS)"
log "upstream nginx on 127.0.0.1:$UPSTREAM_PORT and https 127.0.0.1:$UPSTREAM_TLS_PORT (pid $UPSTREAM_PID, $BENCH_UPSTREAM_WORKERS worker(s))"

# ---------------------------------------------------------------- 2. the proxies of one pass
declare -A SPID=() SPORT=()   # server -> pid / port in the current pass

start_capproxy() {  # workers scheme tag
    local w=$1 scheme=$2 tag=$3 up_port=$UPSTREAM_PORT i ready=0 line err=$TMP/capproxy-$3.stderr
    local -a extra=()
    if [[ $scheme == https ]]; then
        up_port=$UPSTREAM_TLS_PORT
        extra=(CAPPROXY_UPSTREAM_CA_FILE="$TMP/tls/ca.pem")
    fi
    (
        cd "$REPO_ROOT"
        # shellcheck disable=SC2086  # CAPPROXY_ARGS is meant to be word-split
        exec env CAL_COM_BASE_URI="$scheme://127.0.0.1:$up_port" \
            CAL_COM_CLIENT_SECRET="$BENCH_SECRET" \
            CAPPROXY_REST_LISTEN="127.0.0.1:$CAPPROXY_PORT" \
            CAPPROXY_WORKERS="$w" \
            CAPPROXY_ACCESS_LOG=off \
            CAPPROXY_MCP_LISTEN="${CAPPROXY_MCP_LISTEN:-127.0.0.1:0}" \
            CAPPROXY_ADMIN_LISTEN="${CAPPROXY_ADMIN_LISTEN:-127.0.0.1:0}" \
            ${extra[@]+"${extra[@]}"} \
            "$CAPPROXY_BIN" $CAPPROXY_ARGS
    ) </dev/null >"$TMP/capproxy-$tag.stdout" 2>"$err" &
    SPID[capproxy]=$!
    PIDS+=("${SPID[capproxy]}")
    for ((i = 0; i < BENCH_READY_TIMEOUT * 10; i++)); do
        kill -0 "${SPID[capproxy]}" 2>/dev/null || die "capproxy exited during start-up: $(tail -n 5 "$err")"
        if grep -q 'capproxy: info: ready' "$err" 2>/dev/null; then ready=1; break; fi
        sleep 0.1
    done
    ((ready)) || die "capproxy printed no 'ready' line within ${BENCH_READY_TIMEOUT}s"
    SPORT[capproxy]=$CAPPROXY_PORT
    line=$(grep -m1 'rest listening on' "$err" || true)
    [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] && SPORT[capproxy]=${BASH_REMATCH[1]}
    wait_port "${SPID[capproxy]}" "${SPORT[capproxy]}" capproxy
    MCP_PORT=""
    line=$(grep -m1 'mcp listening on' "$err" || true)
    [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] && MCP_PORT=${BASH_REMATCH[1]}
}

start_ceiling() {  # workers scheme tag
    local w=$1 scheme=$2 tag=$3 up_port=$UPSTREAM_PORT
    local -a extra=()
    if [[ $scheme == https ]]; then
        up_port=$UPSTREAM_TLS_PORT
        extra=(-c "$TMP/tls/ca.pem")
    fi
    "$CEILING_BIN" -l "$CEILING_PORT" -u "$scheme://127.0.0.1:$up_port" -w "$w" \
        -H "x-cal-secret-key: $BENCH_SECRET" ${extra[@]+"${extra[@]}"} \
        </dev/null >/dev/null 2>"$TMP/ceiling-$tag.stderr" &
    SPID[ceiling]=$!
    SPORT[ceiling]=$CEILING_PORT
    PIDS+=("${SPID[ceiling]}")
    wait_port "${SPID[ceiling]}" "$CEILING_PORT" "the ceiling proxy"
}

start_nginx_proxy() {  # workers scheme tag
    render "$SCRIPT_DIR/nginx-proxy.conf.in" "$TMP/proxy-$3.conf" "$1" "$2"
    start_nginx proxy "$TMP/proxy-$3.conf" "$NGINX_PORT"
    SPID[nginx]=$NGINX_STARTED_PID
    SPORT[nginx]=$NGINX_PORT
}

# ---------------------------------------------------------------- helpers
flush_upstream_log() {  # the access log is buffered with flush=1s; let it drain
    sleep 1.3
}
# Lines nginx still buffers (the warm-up's, the last run's) would land in the emptied file: let
# them out first, then truncate.
reset_upstream_log() { flush_upstream_log; : >"$UPSTREAM_LOG"; }

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
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

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
        printf "%.4f", n }'
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

median() {  # numbers (words; "-" ignored) -> median, "-" when none
    printf '%s\n' "$@" | awk '$1 != "-" && $1 != ""' | sort -g |
        awk '{ a[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() {  # a b [fmt] -> a/b, "-" when either is missing
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf f, a / b }'
}

# ---------------------------------------------------------------- measurements
# M[key] with key "pass|scenario|server|field" holding one value per run (space separated);
# server "direct" is wrk straight to the upstream (c1 only).
declare -A M=()
put() { M[$1]="${M[$1]:-}${M[$1]:+ }$2"; }

measure() {  # pass scenario server url conns threads
    local pi=$1 sc=$2 srv=$3 url=$4 c=$5 t=$6 pid cpu0 cpu1 out k rps p50 p99 reqs errs
    local ureqs uconns ubad ubadpath
    pid=${SPID[$srv]:-$UPSTREAM_PID}
    if [[ $(dur_secs "$BENCH_WARMUP") -gt 0 ]]; then
        run_wrk "$TMP/warmup.txt" "$c" "$t" "$BENCH_WARMUP" "$url"
    fi
    reset_upstream_log
    out=$TMP/wrk-p$pi-$sc-$srv-$(date +%s%N).txt
    cpu0=$(cpu_ticks "$pid")
    run_wrk "$out" "$c" "$t" "$BENCH_DURATION" "$url"
    cpu1=$(cpu_ticks "$pid")
    flush_upstream_log
    read -r ureqs uconns ubad ubadpath <<<"$(upstream_stats)"
    read -r rps p50 p99 reqs errs <<<"$(parse_wrk "$out")"
    k="$pi|$sc|$srv"
    put "$k|rps" "$rps"; put "$k|p50" "$p50"; put "$k|p99" "$p99"; put "$k|errs" "$errs"
    put "$k|cpu_us" "$(awk -v d=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
        'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / hz / n; else print "-" }')"
    put "$k|uconns" "$uconns"
    [[ $srv == direct ]] || put "$k|bad" "$((ubad + ubadpath))"
    log "    $srv: $rps req/s, p50 $(awk -v v="$p50" 'BEGIN { printf "%.3f", v }')ms, errors $errs, upstream: $ureqs requests on $uconns connection(s)"
}

order_for() {  # run index -> servers in the order to measure them (rotated each run)
    local n=$1
    local -a s
    read -r -a s <<<"$BENCH_SERVERS"
    if [[ $BENCH_ORDER == fixed ]]; then echo "${s[*]}"; return; fi
    local i res=() len=${#s[@]}
    for ((i = 0; i < len; i++)); do res+=("${s[(i + n) % len]}"); done
    echo "${res[*]}"
}

# ---- syscalls per request: strace -c on the whole server for a fixed number of requests
cat >"$TMP/stop-after.lua" <<'EOF'
-- wrk: stop after BENCH_STOP_AFTER responses (one thread: an exact count) and say so in the file
-- BENCH_STOP_MARK: wrk's main thread sleeps for the whole -d anyway, so run.sh then sends SIGINT.
local n, limit = 0, tonumber(os.getenv("BENCH_STOP_AFTER"))
response = function()
    n = n + 1
    if n == limit then
        local f = io.open(os.getenv("BENCH_STOP_MARK"), "w")
        if f then f:close() end
        wrk.thread:stop()
    end
end
EOF
declare -A SYS=()   # server -> "requests syscalls/req"; SYSTOP[server] = "name n/req, ..."
declare -A SYSTOP=()
strace_measure() {  # server url
    local srv=$1 url=$2 pid=${SPID[$1]} out=$TMP/strace-$1.txt p ureqs total i
    local -a pargs=()
    for p in $pid $(pgrep -P "$pid" 2>/dev/null || true); do pargs+=(-p "$p"); done
    strace -f -c -o "$out" "${pargs[@]}" 2>"$TMP/strace-$srv.stderr" &
    STRACE_PID=$!
    for ((i = 0; i < 50; i++)); do  # attached: strace says so per thread
        grep -q attached "$TMP/strace-$srv.stderr" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.5
    reset_upstream_log
    export BENCH_STOP_AFTER=$BENCH_STRACE_REQUESTS BENCH_STOP_MARK=$TMP/strace-$srv.stopped
    wrk -t1 -c64 -d300s --timeout "$BENCH_WRK_TIMEOUT" -s "$TMP/stop-after.lua" "$url" \
        </dev/null >"$TMP/wrk-strace-$srv.txt" 2>&1 &
    WRK_PID=$!
    for ((i = 0; i < 3000; i++)); do  # at most 300 s
        [[ -e $BENCH_STOP_MARK ]] && break
        kill -0 "$WRK_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -INT "$WRK_PID" 2>/dev/null || true
    wait "$WRK_PID" 2>/dev/null || true
    WRK_PID=""
    [[ -e $BENCH_STOP_MARK ]] || log "    $srv: wrk did not reach $BENCH_STRACE_REQUESTS responses: $(tail -n 3 "$TMP/wrk-strace-$srv.txt")"
    sleep 0.3
    kill -INT "$STRACE_PID" 2>/dev/null || true
    wait "$STRACE_PID" 2>/dev/null || true
    STRACE_PID=""
    flush_upstream_log
    read -r ureqs _ <<<"$(upstream_stats)"
    ((ureqs > 0)) || { log "    $srv: strace: no request reached the upstream"; return 0; }
    total=$(awk '$NF == "total" { print $4 }' "$out")
    SYS[$srv]="$ureqs $(ratio "${total:-0}" "$ureqs" %.1f)"
    SYSTOP[$srv]=$(awk -v n="$ureqs" '
        $NF != "total" && $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ { printf "%s %.2f\n", $NF, $4 / n }' "$out" |
        sort -k2,2gr | head -n 7 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
    log "    $srv: ${SYS[$srv]#* } syscalls/request over $ureqs requests (${SYSTOP[$srv]})"
}

# ---- memory: idle after start, and with N idle keep-alive connections
declare -A MEM_IDLE=() MEM_CONNS=()
memory_measure() {  # server port
    local srv=$1 port=$2 pid=${SPID[$1]} ipid line i
    MEM_IDLE[$srv]=$(rss_kib "$pid")
    ((BENCH_IDLE_CONNS > 0 && HAVE_NODE)) || return 0
    node "$SCRIPT_DIR/idle-conns.mjs" "http://127.0.0.1:$port$BENCH_PATH" "$BENCH_IDLE_CONNS" \
        </dev/null >"$TMP/idle-$srv.out" 2>&1 &
    ipid=$!
    PIDS+=("$ipid")
    for ((i = 0; i < 600; i++)); do
        line=$(grep -m1 '^ready' "$TMP/idle-$srv.out" || true)
        [[ -n $line ]] && break
        kill -0 "$ipid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ $line =~ ^ready\ ([0-9]+)\ ([0-9]+) ]]; then
        sleep 1
        MEM_CONNS[$srv]="$(rss_kib "$pid") ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
        log "    $srv: RSS idle $(mib "${MEM_IDLE[$srv]}") MiB, with ${BASH_REMATCH[1]} idle connections $(mib "$(rss_kib "$pid")") MiB (${BASH_REMATCH[2]} failed)"
    else
        log "    $srv: idle-conns.mjs did not get ready: $(tail -n 3 "$TMP/idle-$srv.out")"
    fi
    stop_pid "$ipid"
}

# ---- MCP tools/call next to REST (capproxy only, same upstream call through both front ends)
mcp_measure() {  # pass
    local pi=$1 url check kind r out t0 t1 rps p50 p99 reqs errs
    [[ -n $MCP_PORT ]] || { log "no MCP listener found: skipping the MCP measurement"; return 0; }
    url="http://127.0.0.1:$MCP_PORT/mcp/cal-com-deprecated-platform-managed-users-mcp"
    MCP_SESSION=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
        "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
    [[ -n $MCP_SESSION ]] || die "MCP initialize gave no Mcp-Session-Id"
    export MCP_SESSION
    check=$(curl -s -H 'Content-Type: application/json' -H 'Accept: application/json' \
        -H "Mcp-Session-Id: $MCP_SESSION" -H 'MCP-Protocol-Version: 2025-06-18' \
        -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-managed-user","arguments":{"clientId":"abc","userId":42}}}' \
        "$url")
    [[ $check == *'"isError"'* || $check != *'"content"'* ]] && die "MCP tools/call check failed: ${check:0:300}"
    log "  MCP tools/call verified on 127.0.0.1:$MCP_PORT; REST and MCP, $BENCH_REPEAT runs each"
    for ((r = 0; r < BENCH_REPEAT; r++)); do
        for kind in $( ((r % 2)) && echo "mcp rest" || echo "rest mcp"); do
            local -a args=("http://127.0.0.1:${SPORT[capproxy]}$BENCH_PATH")
            [[ $kind == mcp ]] && args=("$url" -s "$SCRIPT_DIR/mcp-call.lua")
            [[ $(dur_secs "$BENCH_WARMUP") -gt 0 ]] && run_wrk "$TMP/warmup.txt" 64 2 "$BENCH_WARMUP" "${args[@]}"
            out=$TMP/wrk-mcp-$kind-$r.txt
            t0=$(cpu_ticks "${SPID[capproxy]}")
            run_wrk "$out" 64 2 "$BENCH_DURATION" "${args[@]}"
            t1=$(cpu_ticks "${SPID[capproxy]}")
            read -r rps p50 p99 reqs errs <<<"$(parse_wrk "$out")"
            put "mcp|$kind|rps" "$rps"; put "mcp|$kind|p50" "$p50"; put "mcp|$kind|p99" "$p99"
            put "mcp|$kind|errs" "$errs"
            put "mcp|$kind|cpu_us" "$(awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$reqs" \
                'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print "-" }')"
            log "    $kind c64: $rps req/s, errors $errs"
        done
    done
    MCP_DONE=1
}

# ---------------------------------------------------------------- the passes
MCP_DONE=0 SYS_DONE=0 MEM_DONE=0 MEM_PASS="" SYS_PASS=""
for ((pi = 0; pi < ${#PASS_SCHEME[@]}; pi++)); do
    scheme=${PASS_SCHEME[pi]} w=${PASS_WORKERS[pi]} tag="p$pi-${PASS_SCHEME[pi]}-w${PASS_WORKERS[pi]}"
    log "pass $((pi + 1))/${#PASS_SCHEME[@]}: $scheme upstream, $w worker(s) each, connections ${PASS_CONNS[pi]// /,} ($((SECONDS - T_START)) s elapsed)"
    SPID=() SPORT=()
    for srv in $BENCH_SERVERS; do "start_${srv/nginx/nginx_proxy}" "$w" "$scheme" "$tag"; done
    for srv in $BENCH_SERVERS; do
        log "  $srv on 127.0.0.1:${SPORT[$srv]} (pid ${SPID[$srv]})"
        verify "$srv" "${SPORT[$srv]}"
    done
    if ((!MEM_DONE)); then  # right after start, before any load
        log "  memory: RSS idle, then with $BENCH_IDLE_CONNS idle keep-alive connections"
        for srv in $BENCH_SERVERS; do memory_measure "$srv" "${SPORT[$srv]}"; done
        MEM_DONE=1 MEM_PASS="$scheme, $w worker(s)"
    fi
    for c in ${PASS_CONNS[pi]}; do
        t=$BENCH_WRK_THREADS
        ((t <= c)) || t=$c
        sc="c$c"
        for ((r = 0; r < BENCH_REPEAT; r++)); do
            order=$(order_for "$r")
            ((c == 1)) && order+=" direct"  # added latency = p50 through a proxy - p50 direct
            log "  $sc run $((r + 1))/$BENCH_REPEAT ($order)"
            for srv in $order; do
                if [[ $srv == direct ]]; then
                    if [[ $scheme == https ]]; then url="https://127.0.0.1:$UPSTREAM_TLS_PORT${BENCH_PATH#/v1}"
                    else url="http://127.0.0.1:$UPSTREAM_PORT${BENCH_PATH#/v1}"; fi
                else
                    url="http://127.0.0.1:${SPORT[$srv]}$BENCH_PATH"
                fi
                measure "$pi" "$sc" "$srv" "$url" "$c" "$t"
            done
        done
    done
    if ((!SYS_DONE && BENCH_STRACE && HAVE_STRACE)); then
        log "  syscalls: strace -c -f for $BENCH_STRACE_REQUESTS requests (wrk -c64 -t1) per server"
        for srv in $BENCH_SERVERS; do strace_measure "$srv" "http://127.0.0.1:${SPORT[$srv]}$BENCH_PATH"; done
        SYS_DONE=1 SYS_PASS="$scheme, $w worker(s)"
    fi
    if ((!MCP_DONE && BENCH_MCP)) && has_server capproxy; then
        mcp_measure "$pi"
    fi
    for srv in $BENCH_SERVERS; do stop_pid "${SPID[$srv]}"; done
done

# ---------------------------------------------------------------- report
capproxy_version=$(timeout 5 "$CAPPROXY_BIN" --version 2>&1 | head -n1 || true)
nginx_version=$("$NGINX_BIN" -v 2>&1 | head -n1 | sed 's/^nginx version: //')
wrk_version=$(wrk -v 2>&1 | head -n1 | sed 's/ Copyright.*//' || true)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null | head -n1)

# shellcheck disable=SC2086  # the runs are words
med() { median ${M[$1]:-}; }   # key -> median of its runs
sum() { local t=0 v; for v in ${M[$1]:-}; do t=$((t + v)); done; echo "$t"; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "-" || v == "") print "-"; else printf f, v }'; }
declare -A T=()   # figures the targets section reads: T[name]

report() {
    echo
    echo "## capproxy, the ceiling (minimal evhttp + curl multi) and nginx as the same reverse proxy"
    echo
    echo "- commit: $commit${dirty:+ (with uncommitted changes)}; $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: nproc=$(nproc), ${cpu_model:-unknown cpu}, kernel $(uname -r), load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- capproxy: ${capproxy_version:-?}; nginx: $nginx_version; wrk: $wrk_version; libcurl $(pkg-config --modversion libcurl 2>/dev/null || echo ?), libevent $(pkg-config --modversion libevent 2>/dev/null || echo ?)"
    echo "- settings: passes=\"$BENCH_PASSES\", $BENCH_REPEAT runs x $BENCH_DURATION (warm-up $BENCH_WARMUP) per server and scenario, interleaved ($BENCH_ORDER), medians; wrk -t$BENCH_WRK_THREADS (-t1 at c1); upstream workers=$BENCH_UPSTREAM_WORKERS, nginx upstream keepalive=$BENCH_NGINX_KEEPALIVE"
    echo "- request: GET $BENCH_PATH -> upstream GET ${BENCH_PATH#/v1} (200, $BODY_SIZE-byte JSON), secret header injected"
    local pi sc srv k c rps nr cpu ncpu
    for ((pi = 0; pi < ${#PASS_SCHEME[@]}; pi++)); do
        echo
        echo "### ${PASS_SCHEME[pi]} upstream, ${PASS_WORKERS[pi]} worker(s) each"
        echo
        echo "| scenario | server | req/s (median) | runs min-max | vs nginx | CPU µs/req | CPU vs nginx | p50 / p99 ms | errors | upstream conns |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for c in ${PASS_CONNS[pi]}; do
            sc="c$c"
            nr=$(med "$pi|$sc|nginx|rps") ncpu=$(med "$pi|$sc|nginx|cpu_us")
            for srv in $BENCH_SERVERS; do
                k="$pi|$sc|$srv"
                rps=$(med "$k|rps") cpu=$(med "$k|cpu_us")
                # shellcheck disable=SC2086  # the runs are words
                printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n' "$sc" "$srv" \
                    "$(fmt "$rps" %.0f)" \
                    "$(printf '%s\n' ${M[$k|rps]} | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')" \
                    "$(ratio "$rps" "$nr")" "$(fmt "$cpu" %.1f)" "$(ratio "$cpu" "$ncpu")" \
                    "$(fmt "$(med "$k|p50")" %.3f)" "$(fmt "$(med "$k|p99")" %.3f)" \
                    "$(sum "$k|errs")" "$(med "$k|uconns")"
                T[$srv,${PASS_SCHEME[pi]},w${PASS_WORKERS[pi]},$sc,ratio]=$(ratio "$rps" "$nr")
                T[$srv,${PASS_SCHEME[pi]},w${PASS_WORKERS[pi]},$sc,cpu]=$(ratio "$cpu" "$ncpu")
            done
        done
    done
    # added latency at c1
    local any=0 d p added nadded
    for ((pi = 0; pi < ${#PASS_SCHEME[@]}; pi++)); do
        [[ " ${PASS_CONNS[pi]} " == *" 1 "* ]] || continue
        if ((!any)); then
            echo
            echo "### added latency at c1 (p50 through the proxy - p50 direct to the upstream, wrk -c1 -t1)"
            echo
            echo "| upstream | server | p50 ms | direct p50 ms | added µs | added vs nginx's, µs |"
            echo "|---|---|---:|---:|---:|---:|"
            any=1
        fi
        d=$(med "$pi|c1|direct|p50")
        nadded=$(awk -v a="$(med "$pi|c1|nginx|p50")" -v b="$d" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", (a - b) * 1000 }')
        for srv in $BENCH_SERVERS; do
            p=$(med "$pi|c1|$srv|p50")
            added=$(awk -v a="$p" -v b="$d" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", (a - b) * 1000 }')
            local over
            over=$(awk -v a="$added" -v b="$nadded" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%+.1f", a - b }')
            printf '| %s w%s | %s | %s | %s | %s | %s |\n' "${PASS_SCHEME[pi]}" "${PASS_WORKERS[pi]}" "$srv" \
                "$(fmt "$p" %.3f)" "$(fmt "$d" %.3f)" "$added" "$over"
            T[$srv,${PASS_SCHEME[pi]},w${PASS_WORKERS[pi]},lat]=$over
        done
    done
    if ((${#SYS[@]})); then
        echo
        echo "### syscalls per request ($SYS_PASS; strace -c -f attached to every thread/process, wrk -c64 -t1 stopped after $BENCH_STRACE_REQUESTS responses, divided by the requests the upstream saw)"
        echo
        echo "| server | requests | syscalls/req | top calls per request |"
        echo "|---|---:|---:|---|"
        for srv in $BENCH_SERVERS; do
            [[ -n ${SYS[$srv]:-} ]] || continue
            printf '| %s | %s | %s | %s |\n' "$srv" "${SYS[$srv]% *}" "${SYS[$srv]#* }" "${SYSTOP[$srv]}"
        done
    fi
    if ((${#MEM_IDLE[@]})); then
        echo
        echo "### memory ($MEM_PASS; RSS of the process, nginx: master + workers; before any load)"
        echo
        echo "| server | RSS idle MiB | RSS with $BENCH_IDLE_CONNS idle keep-alive connections MiB | connections held / failed |"
        echo "|---|---:|---:|---:|"
        for srv in $BENCH_SERVERS; do
            local mc=${MEM_CONNS[$srv]:-}
            printf '| %s | %s | %s | %s |\n' "$srv" "$(mib "${MEM_IDLE[$srv]}")" \
                "$([[ -n $mc ]] && mib "${mc%% *}" || echo -)" "$([[ -n $mc ]] && echo "${mc#* }" | tr ' ' / || echo -)"
            T[$srv,rss_idle]=$(mib "${MEM_IDLE[$srv]}")
            T[$srv,rss_conns]=$([[ -n $mc ]] && mib "${mc%% *}" || echo -)
        done
    fi
    if ((MCP_DONE)); then
        echo
        echo "### capproxy: MCP tools/call vs REST, same upstream call (c64 -t2, $BENCH_REPEAT runs each, alternating, medians)"
        echo
        echo "| front end | req/s | vs REST | p50 / p99 ms | errors | CPU µs/req |"
        echo "|---|---:|---:|---:|---:|---:|"
        local kind
        for kind in rest mcp; do
            printf '| %s | %s | %s | %s / %s | %s | %s |\n' "$kind" "$(fmt "$(med "mcp|$kind|rps")" %.0f)" \
                "$(ratio "$(med "mcp|$kind|rps")" "$(med "mcp|rest|rps")")" \
                "$(fmt "$(med "mcp|$kind|p50")" %.3f)" "$(fmt "$(med "mcp|$kind|p99")" %.3f)" \
                "$(sum "mcp|$kind|errs")" "$(fmt "$(med "mcp|$kind|cpu_us")" %.1f)"
        done
        T[capproxy,mcp]=$(ratio "$(med "mcp|mcp|rps")" "$(med "mcp|rest|rps")")
    fi
    report_targets
}

# Issue 13's targets, read from the tables above (a figure not measured in this run shows "-").
report_targets() {
    local srv
    echo
    echo "### issue 13 targets (capproxy; the ceiling for comparison)"
    echo
    echo "| target | capproxy | ceiling | met by capproxy |"
    echo "|---|---:|---:|:---:|"
    target_row() {  # label key op bound
        local a=${T[capproxy,$2]:--} b=${T[ceiling,$2]:--} ok
        ok=$(awk -v v="$a" -v op="$3" -v b="$4" 'BEGIN { if (v == "-") print "-";
            else if (op == ">=") print (v + 0 >= b ? "yes" : "NO"); else print (v + 0 <= b ? "yes" : "NO") }')
        printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "$ok"
    }
    target_row "http w1 c64 rps ≥ 0.55× nginx" "http,w1,c64,ratio" ">=" 0.55
    target_row "http w1 c256 rps ≥ 0.50× nginx" "http,w1,c256,ratio" ">=" 0.50
    target_row "http w1 c64 CPU/req ≤ 2.1× nginx" "http,w1,c64,cpu" "<=" 2.1
    target_row "http w2 c64 rps ≥ 0.60× nginx" "http,w2,c64,ratio" ">=" 0.60
    target_row "https w1 c64 rps ≥ 0.60× nginx" "https,w1,c64,ratio" ">=" 0.60
    target_row "https w1 c64 CPU/req ≤ 1.8× nginx" "https,w1,c64,cpu" "<=" 1.8
    target_row "http w1 c1 added latency ≤ nginx's + 10 µs" "http,w1,lat" "<=" 10
    target_row "MCP tools/call ≥ 0.85× REST" "mcp" ">=" 0.85
    target_row "RSS idle ≤ 12 MiB" "rss_idle" "<=" 12
    target_row "RSS with $BENCH_IDLE_CONNS idle connections ≤ 25 MiB" "rss_conns" "<=" 25
}

report | tee "$TMP/report.md"
log "done in $((SECONDS - T_START)) s (estimated $EST s)"

if [[ -n $BENCH_RESULTS_DIR ]]; then
    mkdir -p "$BENCH_RESULTS_DIR"
    cp "$TMP"/report.md "$TMP"/wrk-*.txt "$TMP"/strace-*.txt "$TMP"/capproxy-*.stderr "$BENCH_RESULTS_DIR"/ 2>/dev/null || true
    log "results copied to $BENCH_RESULTS_DIR"
fi
