#!/usr/bin/env bash
# bench/callgrind-mcp.sh: instructions per request of capproxy, REST GET versus MCP tools/call of
# the same upstream call (the seed's get-managed-user), counted by valgrind's callgrind. Noise
# free, unlike req/s on a shared machine: the primary measure for per-request work.
#
#   bench/callgrind-mcp.sh                # N=2000 requests of each kind over C=8 connections,
#                                       # ROUNDS=3 rounds (REST then MCP), the median printed
#   CG_N=5000 CG_C=16 CG_ROUNDS=5 bench/callgrind-mcp.sh
#   CG_TOP=25 bench/callgrind-mcp.sh      # also the 25 costliest functions of each phase
#   CG_KEEP=1 bench/callgrind-mcp.sh      # keep the temp dir (callgrind.out.* for kcachegrind)
#
# One worker; nginx as the upstream (bench/nginx-upstream.conf.in, the 600-byte body of
# run.sh); access log off. Each phase starts after a warm-up of the same requests and is
# counted between callgrind_control -z and -d, so start-up and warm-up are not in it.
set -euo pipefail
[[ ${CG_TRACE:-0} == 1 ]] && set -x

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CG_N=${CG_N:-2000}
CG_C=${CG_C:-8}
CG_WARM=${CG_WARM:-200}
CG_ROUNDS=${CG_ROUNDS:-3}
CG_TOP=${CG_TOP:-0}
CG_KEEP=${CG_KEEP:-0}
CAPPROXY_BIN=${CAPPROXY_BIN:-$REPO_ROOT/build/capproxy}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}
BENCH_PATH=/v1/v2/oauth-clients/abc/users/42
SECRET=bench-secret

die() { printf '[callgrind] error: %s\n' "$*" >&2; exit 1; }
log() { printf '[callgrind] %s\n' "$*" >&2; }
for t in valgrind callgrind_control node curl; do
    command -v "$t" >/dev/null || die "$t not found"
done
[[ -x $NGINX_BIN ]] || die "nginx not found"
[[ -x $CAPPROXY_BIN ]] || die "no capproxy binary at $CAPPROXY_BIN (ninja -C build)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-cg.XXXXXX")
PIDS=()
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        p=${PIDS[i]}
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if ((rc != 0)); then
        for f in "$TMP"/capproxy.stderr "$TMP"/upstream-error.log; do
            [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    if [[ $CG_KEEP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
    for ((i = 0; i < 300; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$1"
}

# ------------------------------------------------------------------ upstream (nginx)
UPSTREAM_PORT=$(free_port)
head='{"status":"success","data":{"id":42,"email":"bench.user+abc@example.com","username":"bench-user-42","name":"Bench User","timeZone":"Europe/Amsterdam","weekStart":"Monday","createdDate":"2026-05-19T10:00:00.000Z","timeFormat":24,"defaultScheduleId":7,"locale":"en","avatarUrl":null,"bio":"Managed user served by the capproxy benchmark upstream.","metadata":{"source":"bench","tier":"fixed"},"pad":"'
printf -v pad '%*s' $((600 - ${#head} - 3)) ''
BODY="$head${pad// /x}\"}}"
USER_LINE=""
((EUID == 0)) && USER_LINE="user $(id -un) $(id -gn);"
mkdir -p "$TMP/upstream-tmp"
# plain HTTP only: drop the HTTPS listener of run.sh's upstream (its certificate is run.sh's)
t=$(grep -v -e '@UPSTREAM_TLS_PORT@' -e 'ssl_certificate' "$SCRIPT_DIR/nginx-upstream.conf.in")
t=${t//@USER_LINE@/"$USER_LINE"}
t=${t//@DIR@/"$TMP"}
t=${t//@UPSTREAM_WORKERS@/1}
t=${t//@UPSTREAM_PORT@/"$UPSTREAM_PORT"}
t=${t//@BODY@/"$BODY"}
printf '%s\n' "$t" >"$TMP/upstream.conf"
"$NGINX_BIN" -p "$TMP" -c "$TMP/upstream.conf" -e "$TMP/upstream-error.log" </dev/null \
    >"$TMP/upstream.stdout" 2>&1 &
PIDS+=("$!")
wait_port "$UPSTREAM_PORT"

# ------------------------------------------------------------------ capproxy under callgrind
REST_PORT=$(free_port)
(
    cd "$REPO_ROOT"
    exec env CAL_COM_BASE_URI="http://127.0.0.1:$UPSTREAM_PORT" CAL_COM_CLIENT_SECRET="$SECRET" \
        CAPPROXY_REST_LISTEN="127.0.0.1:$REST_PORT" CAPPROXY_WORKERS=1 CAPPROXY_ACCESS_LOG=off \
        CAPPROXY_MCP_LISTEN=127.0.0.1:0 CAPPROXY_ADMIN_LISTEN=127.0.0.1:0 \
        valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" "$CAPPROXY_BIN"
) </dev/null >"$TMP/capproxy.stdout" 2>"$TMP/capproxy.stderr" &
CG_PID=$!
PIDS+=("$CG_PID")
for ((i = 0; i < 1200; i++)); do
    grep -q 'capproxy: info: ready' "$TMP/capproxy.stderr" 2>/dev/null && break
    kill -0 "$CG_PID" 2>/dev/null || die "capproxy exited during start-up"
    sleep 0.1
done
grep -q 'capproxy: info: ready' "$TMP/capproxy.stderr" || die "capproxy not ready"
[[ $(grep -m1 'mcp listening on' "$TMP/capproxy.stderr") =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]] \
    || die "no MCP listener"
MCP_URL="http://127.0.0.1:${BASH_REMATCH[1]}/mcp/cal-com-deprecated-platform-managed-users-mcp"
REST_URL="http://127.0.0.1:$REST_PORT$BENCH_PATH"
SESSION=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cg","version":"1"}}}' \
    "$MCP_URL" | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
[[ -n $SESSION ]] || die "MCP initialize gave no session"

# phase kind url -> instructions of N requests of that kind (a callgrind dump of their own).
# How a loop pass batches requests varies from run to run (a few % of the count): hence rounds.
declare -A IR
dumps() { # how many callgrind.out.<n> dumps there are (numbered from 1)
    local n=0
    while [[ -e $TMP/callgrind.out.$((n + 1)) ]]; do n=$((n + 1)); done
    echo "$n"
}
phase() {
    local kind=$1 url=$2 before after f
    node "$SCRIPT_DIR/callgrind-client.mjs" "$kind" "$url" "$CG_WARM" "$CG_C" "$SESSION"
    callgrind_control -z "$CG_PID" >/dev/null
    node "$SCRIPT_DIR/callgrind-client.mjs" "$kind" "$url" "$CG_N" "$CG_C" "$SESSION"
    before=$(dumps)
    callgrind_control -d "$kind" "$CG_PID" >/dev/null
    for ((i = 0; i < 100; i++)); do
        after=$(dumps)
        ((after > before)) && break
        sleep 0.1
    done
    f=$TMP/callgrind.out.$after
    sleep 0.2 # let the dump be complete
    IR[$kind]=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    [[ -n ${IR[$kind]} ]] || die "no totals in $f"
    cp "$f" "$TMP/phase-$kind.out"
    ALL[$kind]+="$((IR[$kind] / CG_N)) "
    if ((CG_TOP > 0)); then
        echo "--- $kind: the $CG_TOP functions of highest self cost, for all $CG_N requests"
        callgrind_annotate --inclusive=no --threshold=100 "$TMP/phase-$kind.out" 2>/dev/null \
            | grep -E '^ *[0-9,]+ ' | grep -v 'PROGRAM TOTALS' | head -n "$CG_TOP" || true
    fi
}
declare -A ALL
for ((round = 0; round < CG_ROUNDS; round++)); do
    phase rest "$REST_URL"
    phase mcp "$MCP_URL"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rest=$(median <<<"${ALL[rest]}") mcp=$(median <<<"${ALL[mcp]}")
echo "requests per phase: $CG_N over $CG_C connections (1 worker, after $CG_WARM warm-up), $CG_ROUNDS rounds"
printf 'REST GET        %8d instructions/request (median; rounds: %s)\n' "$rest" "${ALL[rest]% }"
printf 'MCP tools/call  %8d instructions/request (median; rounds: %s)\n' "$mcp" "${ALL[mcp]% }"
awk -v r="$rest" -v m="$mcp" 'BEGIN { printf "MCP/REST        %8.2f (REST/MCP %.2f)\n", m / r, r / m }'
