#!/usr/bin/env bash
# bench/callgrind.sh: instructions per REST request of capproxy and of the ceiling reference
# (bench/ceiling/ceiling.c), counted by valgrind's callgrind. Unlike CPU time on a loaded box,
# instruction counts do not drift with background load, so one change can be judged on its own.
#
# Both proxies run under callgrind with collection off during start-up; it is switched on, wrk
# sends a fixed load (1 thread, CG_CONNS connections, CG_DURATION), it is switched off, and the
# instructions collected are divided by the requests wrk completed. Then callgrind_annotate shows
# capproxy's functions by inclusive and by self cost.
#
#   bench/callgrind.sh                 # both, build/capproxy from the repo root
#   CG_SERVERS=capproxy bench/callgrind.sh
#   CG_KEEP=1 bench/callgrind.sh       # keep the temp dir (callgrind.out.* for kcachegrind)
#   CG_SCHEME=https bench/callgrind.sh # TLS upstream (self-signed, verified with its CA), as the
#                                      # https pass of run.sh; needs the openssl CLI. The
#                                      # connections are opened by an unmeasured CG_WARMUP run
#                                      # (https: 2s, http: 0s = none) so handshakes are not counted
#
# It measures, asserts nothing. Needs valgrind, nginx, wrk, cc, pkg-config (libevent, libcurl).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CG_SERVERS=${CG_SERVERS:-"capproxy ceiling"}
CG_DURATION=${CG_DURATION:-10s}
CG_CONNS=${CG_CONNS:-16}
CG_TOP=${CG_TOP:-40}
CG_SCHEME=${CG_SCHEME:-http}
# An unmeasured wrk run with the same connections before counting: with https the upstream
# handshakes (one per connection, ~2M instructions each) would otherwise weigh on a short count
# as much as the requests. 0s (none) by default for http, as before.
if [ "$CG_SCHEME" = https ]; then CG_WARMUP=${CG_WARMUP:-2s}; else CG_WARMUP=${CG_WARMUP:-0s}; fi
CG_KEEP=${CG_KEEP:-0}
# CG_SAME_HEADERS=1: the ceiling also sends the headers capproxy adds to every upstream request
# (X-Request-Id, traceparent, User-Agent, each as long as capproxy's), to tell what those bytes
# cost in libcurl from what capproxy's own code costs.
CG_CEILING_HEADERS=()
if [ "${CG_SAME_HEADERS:-0}" = 1 ]; then
    CG_CEILING_HEADERS=(-H "X-Request-Id: 0123456789abcdef-0-12345"
        -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        -H "User-Agent: capproxy/0.1.0")
fi
CG_PATH=${CG_PATH:-/v1/v2/oauth-clients/abc/users/42}
CAPPROXY_BIN=${CAPPROXY_BIN:-$REPO_ROOT/build/capproxy}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
CC=${CC:-cc}
SECRET=bench-secret

for t in valgrind callgrind_control callgrind_annotate wrk "$NGINX_BIN"; do
    command -v "$t" >/dev/null 2>&1 || { echo "callgrind.sh: $t is needed" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/capproxy-callgrind.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if ((CG_KEEP)); then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {  # port pid: up to 60 s (valgrind starts slowly)
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$2" 2>/dev/null || { echo "callgrind.sh: process $2 exited" >&2; exit 1; }
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "callgrind.sh: nothing listens on $1" >&2
    exit 1
}

UP_PORT=$(free_port)
mkdir -p "$TMP/up-tmp"
# https: a CA and a certificate for localhost / 127.0.0.1 signed by it (as run.sh makes them);
# both proxies verify the upstream with the CA.
UP_TLS=
CAPPROXY_TLS=()
CEILING_TLS=()
case $CG_SCHEME in
http) ;;
https)
    command -v openssl >/dev/null 2>&1 || { echo "callgrind.sh: openssl is needed" >&2; exit 1; }
    bash "$SCRIPT_DIR/make-certs.sh" "$TMP/tls" 2>"$TMP/openssl.log" \
        || { echo "callgrind.sh: openssl failed" >&2; exit 1; }
    UP_TLS="ssl; ssl_certificate $TMP/tls/server.pem; ssl_certificate_key $TMP/tls/server.key;
        ssl_session_cache shared:cg_up:1m; ssl_session_tickets on"
    CAPPROXY_TLS=(CAPPROXY_UPSTREAM_CA_FILE="$TMP/tls/ca.pem")
    CEILING_TLS=(-c "$TMP/tls/ca.pem")
    ;;
*) echo "callgrind.sh: CG_SCHEME is http or https, not $CG_SCHEME" >&2; exit 1 ;;
esac
cat >"$TMP/upstream.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $TMP/upstream.pid;
error_log $TMP/upstream-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $TMP/up-tmp; proxy_temp_path $TMP/up-tmp;
    fastcgi_temp_path $TMP/up-tmp; uwsgi_temp_path $TMP/up-tmp; scgi_temp_path $TMP/up-tmp;
    access_log off;
    keepalive_requests 1000000;
    default_type application/json;
    server {
        listen 127.0.0.1:$UP_PORT $UP_TLS;
        location / { return 200 '{"status":"success","data":{"id":42,"email":"bench.user+abc@example.com","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}'; }
    }
}
EOF
"$NGINX_BIN" -p "$TMP" -c "$TMP/upstream.conf" >"$TMP/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UP_PORT" "${PIDS[-1]}"

measure() {  # name port pid
    local name=$1 port=$2 pid=$3 reqs ir
    wait_port "$port" "$pid"
    curl -sf -o /dev/null "http://127.0.0.1:$port$CG_PATH" || { echo "callgrind.sh: $name does not answer" >&2; exit 1; }
    if [ "$CG_WARMUP" != 0s ] && [ "$CG_WARMUP" != 0 ]; then
        wrk -t1 -c"$CG_CONNS" -d"$CG_WARMUP" "http://127.0.0.1:$port$CG_PATH" >/dev/null
    fi
    callgrind_control -z "$pid" >/dev/null 2>&1
    callgrind_control -i on "$pid" >/dev/null 2>&1
    wrk -t1 -c"$CG_CONNS" -d"$CG_DURATION" "http://127.0.0.1:$port$CG_PATH" >"$TMP/wrk-$name.txt"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$name" "$pid" >/dev/null 2>&1
    reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk-$name.txt")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local out
    out=$TMP/callgrind.out.$pid.1  # the dump above (the final file has nothing)
    ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n {gsub(",","",$1); print $1; n=1}')
    printf '%-9s %8d requests  %12d Ir  %8d Ir/request\n' "$name" "$reqs" "$ir" $((ir / reqs)) | tee -a "$TMP/summary.txt"
    RESULT_FILE[$name]=$out
}
declare -A RESULT_FILE=()

VG=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/callgrind.out.%p")
for s in $CG_SERVERS; do
    case $s in
    capproxy)
        port=$(free_port)
        (cd "$REPO_ROOT" && exec env CAL_COM_BASE_URI="$CG_SCHEME://127.0.0.1:$UP_PORT" \
            CAL_COM_CLIENT_SECRET="$SECRET" CAPPROXY_REST_LISTEN="127.0.0.1:$port" \
            CAPPROXY_WORKERS=1 CAPPROXY_ACCESS_LOG=off CAPPROXY_MCP_LISTEN=127.0.0.1:0 \
            CAPPROXY_ADMIN_LISTEN=127.0.0.1:0 ${CAPPROXY_TLS[@]+"${CAPPROXY_TLS[@]}"} \
            "${VG[@]}" "$CAPPROXY_BIN") \
            </dev/null >"$TMP/capproxy.log" 2>&1 &
        PIDS+=($!)
        measure capproxy "$port" "${PIDS[-1]}"
        ;;
    ceiling)
        "$CC" -O2 -g -std=c11 -o "$TMP/ceiling" "$SCRIPT_DIR/ceiling/ceiling.c" \
            $(pkg-config --cflags --libs libevent libcurl) -lpthread
        port=$(free_port)
        "${VG[@]}" "$TMP/ceiling" -l "$port" -u "$CG_SCHEME://127.0.0.1:$UP_PORT" -w 1 \
            ${CEILING_TLS[@]+"${CEILING_TLS[@]}"} \
            -H "x-cal-secret-key: $SECRET" ${CG_CEILING_HEADERS[@]+"${CG_CEILING_HEADERS[@]}"} \
            </dev/null >"$TMP/ceiling.log" 2>&1 &
        PIDS+=($!)
        measure ceiling "$port" "${PIDS[-1]}"
        ;;
    *) echo "callgrind.sh: unknown server $s" >&2; exit 1 ;;
    esac
done

if [[ -n ${RESULT_FILE[capproxy]:-} ]]; then
    echo
    echo "== capproxy, inclusive (top $CG_TOP)"
    callgrind_annotate --inclusive=yes "${RESULT_FILE[capproxy]}" 2>/dev/null | sed -n '/file:function/,$p' | head -n "$((CG_TOP + 2))" || true
    echo
    echo "== capproxy, self (top $CG_TOP)"
    callgrind_annotate "${RESULT_FILE[capproxy]}" 2>/dev/null | sed -n '/file:function/,$p' | head -n "$((CG_TOP + 2))" || true
fi
if [[ -n ${RESULT_FILE[ceiling]:-} ]]; then
    echo
    echo "== ceiling, self (top 25)"
    callgrind_annotate "${RESULT_FILE[ceiling]}" 2>/dev/null | sed -n '/file:function/,$p' | head -n 27 || true
fi
