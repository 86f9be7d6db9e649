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
#
# It measures, asserts nothing. Needs valgrind, nginx, wrk, cc, pkg-config (libevent, libcurl).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CG_SERVERS=${CG_SERVERS:-"capproxy ceiling"}
CG_DURATION=${CG_DURATION:-10s}
CG_CONNS=${CG_CONNS:-16}
CG_TOP=${CG_TOP:-40}
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
        listen 127.0.0.1:$UP_PORT;
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
        (cd "$REPO_ROOT" && exec env CAL_COM_BASE_URI="http://127.0.0.1:$UP_PORT" \
            CAL_COM_CLIENT_SECRET="$SECRET" CAPPROXY_REST_LISTEN="127.0.0.1:$port" \
            CAPPROXY_WORKERS=1 CAPPROXY_ACCESS_LOG=off CAPPROXY_MCP_LISTEN=127.0.0.1:0 \
            CAPPROXY_ADMIN_LISTEN=127.0.0.1:0 "${VG[@]}" "$CAPPROXY_BIN") \
            </dev/null >"$TMP/capproxy.log" 2>&1 &
        PIDS+=($!)
        measure capproxy "$port" "${PIDS[-1]}"
        ;;
    ceiling)
        "$CC" -O2 -g -std=c11 -o "$TMP/ceiling" "$SCRIPT_DIR/ceiling/ceiling.c" \
            $(pkg-config --cflags --libs libevent libcurl) -lpthread
        port=$(free_port)
        "${VG[@]}" "$TMP/ceiling" -l "$port" -u "http://127.0.0.1:$UP_PORT" -w 1 \
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
