#!/usr/bin/env bash
# Build the container image from the repository's Dockerfile with podman and run it: no Docker
# daemon and no registry are needed. The base image is made with debootstrap from the Debian
# mirror this machine's apt uses, trimmed like debian:bookworm-slim, and imported under the
# digest-less name of the Dockerfile's pinned BASE (cached in $CAPPROXY_CI_CACHE).
# Each test case prints "ok N - ..." or "not ok N - ..."; the last line is "N passed, M failed".
# Where podman cannot run here, it says why on a "skipped: ..." line and ends "0 passed, 0 failed".
#
#   bash scripts/image-test.sh
#
# Environment:
#   CAPPROXY_CI_CACHE=/var/cache/capproxy-ci   the base rootfs tarball and podman's own storage
#                                              (the image and its build layers stay there, so a
#                                              rerun rebuilds only what changed)
#   CAPPROXY_PODMAN_DRIVER=overlay|vfs         storage driver (default: overlay if it works, else vfs)

# shellcheck disable=SC2317  # the test cases are functions run through case_ and the EXIT trap
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
CACHE=${CAPPROXY_CI_CACHE:-/var/cache/capproxy-ci}
IMAGE=localhost/capproxy:ci
NAME_PREFIX=capproxy-ci-$$
PASS=0
FAIL=0
N=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-image.XXXXXX")
UPSTREAM_PID=
CONTAINERS=()

cleanup() {
    for c in "${CONTAINERS[@]}"; do P rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    if [ -n "$UPSTREAM_PID" ]; then kill "$UPSTREAM_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

skip() {
    echo "skipped: $*"
    echo "0 passed, 0 failed"
    exit 0
}

# case NAME COMMAND...: one counted test case
case_() {
    local name=$1
    shift
    N=$((N + 1))
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
        PASS=$((PASS + 1))
        echo "ok $N - $name${out:+ ($out)}"
    else
        FAIL=$((FAIL + 1))
        echo "not ok $N - $name"
        printf '%s\n' "$out" | sed 's/^/    /' | tail -40
    fi
    return "$rc"
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# ---------------------------------------------------------------------------- tools

want=()
command -v podman >/dev/null 2>&1 || want+=(podman)
command -v runc >/dev/null 2>&1 || want+=(runc)
command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
command -v newuidmap >/dev/null 2>&1 || want+=(uidmap)
command -v fuse-overlayfs >/dev/null 2>&1 || want+=(fuse-overlayfs)
command -v curl >/dev/null 2>&1 || want+=(curl)
if [ "${#want[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || skip "podman and its tools (${want[*]}) are not installed and this is not root"
    command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install ${want[*]}"
    echo "image-test: installing ${want[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${want[@]}"; } >"$WORK/apt.log" 2>&1 ||
        skip "apt-get install ${want[*]} failed: $(tail -3 "$WORK/apt.log" | tr '\n' ' ')"
fi
[ "$(id -u)" = 0 ] || skip "not root (rootless podman needs subordinate ids this script does not set up)"

# containers.conf: runc (crun is not installed, and podman's default needs it on Debian), the
# ulimits explicit and within this process's hard limits (podman's defaults ask for more than
# the sandbox grants: "error setting rlimit type 6: operation not permitted"), host networking
# (no slirp4netns or netavark needed; every listener is put on a free loopback port), and no
# systemd or journald.
mkdir -p "$CACHE"
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -gt 1048576 ] && nofile=1048576
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"

# podman with this script's own storage (never the machine's default store)
P() {
    podman --root "$CACHE/storage-$DRIVER" --runroot "/run/capproxy-ci-$DRIVER" --storage-driver "$DRIVER" "$@"
}

# ---------------------------------------------------------------------------- base image

# The Dockerfile's BASE default: name[:tag]@sha256:..., and that name without the digest.
BASE_PINNED=$(sed -n 's/^ARG BASE=\(.*\)$/\1/p' Dockerfile | head -1)
BASE=${BASE_PINNED%@*}
if [ -z "$BASE_PINNED" ] || [ "$BASE" = "$BASE_PINNED" ]; then
    echo "not ok - the Dockerfile has no 'ARG BASE=name:tag@sha256:...'"
    FAIL=1
    finish
fi

# The Debian mirrors apt uses here (one-line and deb822 sources), for bookworm and its security.
mirror_for() { # SUITE -> URI
    local suite=$1
    {
        grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v s="$suite" '{ for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { if ($(i + 1) == s) print $i; break } }'
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
                { uri = ""; ok = 0
                  for (i = 1; i <= NF; i++) {
                      if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                      if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
                  }
                  if (ok && uri != "") print uri }' "$f"
        done
    } | head -1
}
MIRROR=$(mirror_for bookworm)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(mirror_for bookworm-security)
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

BASE_TAR="$CACHE/bookworm-minbase-slim.tar"
if [ ! -s "$BASE_TAR" ]; then
    echo "image-test: debootstrap --variant=minbase bookworm from $MIRROR (cached in $BASE_TAR)" >&2
    rootfs="$CACHE/rootfs.tmp"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
        skip "debootstrap failed: $(tail -3 "$WORK/debootstrap.log" | tr '\n' ' ')"
    # As debian:bookworm-slim is made (debuerreotype --slim): no documentation, manual pages or
    # translations now or in later installs, no package cache; sources with updates and security.
    mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    { tar -C "$rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"; } || skip "cannot write $BASE_TAR"
    rm -rf "$rootfs"
fi

# The storage driver: overlay where the kernel lets podman mount it (fast), else vfs (copies
# every layer, works anywhere). Probed by importing the base and running `true` in it.
probe_driver() {
    DRIVER=$1
    P image exists "$BASE" 2>/dev/null || P import "$BASE_TAR" "$BASE" >"$WORK/import-$DRIVER.log" 2>&1 || return 1
    P run --rm --pull=never "$BASE" true >"$WORK/probe-$DRIVER.log" 2>&1
}
if [ -n "${CAPPROXY_PODMAN_DRIVER:-}" ]; then
    probe_driver "$CAPPROXY_PODMAN_DRIVER" ||
        skip "podman cannot run a container with the $CAPPROXY_PODMAN_DRIVER driver: $(tail -3 "$WORK/probe-$CAPPROXY_PODMAN_DRIVER.log" "$WORK/import-$CAPPROXY_PODMAN_DRIVER.log" 2>/dev/null | tr '\n' ' ')"
elif ! probe_driver overlay; then
    echo "image-test: overlay storage does not work here ($(tail -1 "$WORK/probe-overlay.log" "$WORK/import-overlay.log" 2>/dev/null | tr '\n' ' ')); using vfs" >&2
    probe_driver vfs || skip "podman cannot run a container here: $(tail -3 "$WORK/probe-vfs.log" "$WORK/import-vfs.log" 2>/dev/null | tr '\n' ' ')"
fi
echo "podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), storage $DRIVER, base $BASE (debootstrap from $MIRROR)"

# ---------------------------------------------------------------------------- the image

build_image() {
    local t0=$SECONDS
    # --format docker keeps HEALTHCHECK (OCI image configs have no such field); the Dockerfile
    # is the one users build, only BASE points at the imported base instead of the registry.
    P build --format docker --pull=never --network host --build-arg "BASE=$BASE" -t "$IMAGE" -f Dockerfile . \
        >"$WORK/build.log" 2>&1 || {
        tail -40 "$WORK/build.log"
        return 1
    }
    local size
    size=$(P image inspect "$IMAGE" --format '{{.Size}}')
    echo "$((SECONDS - t0)) s, $((size / 1000000)) MB"
}
if ! case_ "the image builds from the Dockerfile (podman build --format docker)" build_image; then
    finish
fi

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# The recording upstream: answers every request 200 with a JSON body, one JSON line per request
# in $WORK/upstream.log.
UP_PORT=$(free_port)
node -e '
const http = require("http"), fs = require("fs");
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    fs.appendFileSync(process.argv[1], JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }) + "\n");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "success", data: [] }));
  });
}).listen(Number(process.argv[2]), "127.0.0.1");
' "$WORK/upstream.log" "$UP_PORT" &
UPSTREAM_PID=$!

REST_PORT=$(free_port)
MCP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
SECRET=ci-client-secret-7f3a9c1e5b2d4086
CTR=$NAME_PREFIX-run
CONTAINERS+=("$CTR")

# Host networking (the upstream is on the host's loopback), every listener on a free loopback
# port, root file system read-only, no capability, no privilege escalation: as the manifests.
start_container() {
    P run -d --name "$CTR" --pull=never --read-only --cap-drop ALL --security-opt no-new-privileges \
        -e CAPPROXY_REST_LISTEN="127.0.0.1:$REST_PORT" -e CAPPROXY_MCP_LISTEN="127.0.0.1:$MCP_PORT" \
        -e CAPPROXY_ADMIN_LISTEN="127.0.0.1:$ADMIN_PORT" -e CAPPROXY_WORKERS=2 \
        -e CAL_COM_BASE_URI="http://127.0.0.1:$UP_PORT" -e CAL_COM_CLIENT_SECRET="$SECRET" \
        -e CAL_COM_API_KEY=cal_test_7f3a9c1e5b2d4086 -e CAPPROXY_SESSION_KEY=ci-session-key-0123456789abcdef0123456789abcdef \
        "$IMAGE" >/dev/null 2>>"$WORK/podman.log" || { cat "$WORK/podman.log"; return 1; }
    for _ in $(seq 1 100); do
        if P logs "$CTR" 2>&1 | grep -q '"ready, 2 workers"\|ready, 2 workers'; then return 0; fi
        [ "$(P inspect "$CTR" --format '{{.State.Running}}')" = true ] || break
        sleep 0.2
    done
    P logs "$CTR" 2>&1 | tail -20
    return 1
}
if ! case_ "starts with a read-only root file system (--read-only, --cap-drop ALL) and logs ready" start_container; then
    finish
fi

runs_as_10001() {
    local user pid uids
    user=$(P image inspect "$IMAGE" --format '{{.Config.User}}')
    [ "$user" = 10001:10001 ] || { echo "image User is '$user'"; return 1; }
    pid=$(P inspect "$CTR" --format '{{.State.Pid}}')
    uids=$(awk '/^Uid:|^Gid:/ {print $1, $2, $3}' "/proc/$pid/status" | tr '\n' ' ')
    [ "$uids" = "Uid: 10001 10001 Gid: 10001 10001 " ] || { echo "process $pid: $uids"; return 1; }
    echo "pid $pid: $uids"
}
case_ "the process runs as uid and gid 10001" runs_as_10001

health() {
    P healthcheck run "$CTR" || { P inspect "$CTR" --format '{{json .State.Health}}'; return 1; }
    local s
    s=$(P inspect "$CTR" --format '{{.State.Health.Status}}')
    [ "$s" = healthy ] || { echo "health status '$s'"; return 1; }
    curl -fsS --noproxy '*' --max-time 3 "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || return 1
    echo "$s"
}
case_ "the image's HEALTHCHECK (capproxy healthcheck) passes; /readyz answers 200" health

rest_call() {
    local body
    body=$(curl -sS --noproxy '*' --max-time 10 -w ' %{http_code}' "http://127.0.0.1:$REST_PORT/v1/v2/oauth-clients/ci-client/users?limit=5") || return 1
    case "$body" in *' 200') ;; *) echo "answer: $body"; return 1 ;; esac
    node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const r = lines.find((l) => l.url.startsWith("/v2/oauth-clients/ci-client/users"));
if (!r) { console.log("upstream saw: " + lines.map((l) => l.method + " " + l.url).join(", ")); process.exit(1); }
if (r.method !== "GET") { console.log("method " + r.method); process.exit(1); }
if (r.headers["x-cal-secret-key"] !== process.argv[2]) { console.log("x-cal-secret-key not injected"); process.exit(1); }
console.log("upstream got " + r.method + " " + r.url);
' "$WORK/upstream.log" "$SECRET"
}
case_ "a REST call through the container reaches the recording upstream with the credential" rest_call

mcp_initialize() {
    local out
    out=$(curl -sS --noproxy '*' --max-time 10 -D "$WORK/mcp.headers" \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"image-test","version":"1"}}}' \
        "http://127.0.0.1:$MCP_PORT/mcp") || return 1
    grep -qi '^mcp-session-id:' "$WORK/mcp.headers" || { echo "no Mcp-Session-Id: $(head -1 "$WORK/mcp.headers")"; return 1; }
    printf '%s' "$out" | sed -n 's/^data: //p; /^{/p' | node -e '
let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
  const m = JSON.parse(s.trim().split("\n")[0]);
  if (!m.result || !m.result.serverInfo || m.id !== 1) { console.log(s); process.exit(1); }
  console.log(m.result.serverInfo.name + " " + m.result.serverInfo.version + ", protocol " + m.result.protocolVersion);
});'
}
case_ "an MCP initialize answers with serverInfo and a session id" mcp_initialize

stop_clean() {
    local t0 t1 code
    t0=$(date +%s%N)
    # (without systemd, podman logs that it cannot remove the health check timer: not a failure)
    P stop -t 20 "$CTR" >/dev/null 2>>"$WORK/podman.log" || { cat "$WORK/podman.log"; return 1; }
    t1=$(date +%s%N)
    code=$(P inspect "$CTR" --format '{{.State.ExitCode}}')
    local ms=$(((t1 - t0) / 1000000))
    [ "$code" = 0 ] || { echo "exit code $code after ${ms} ms"; P logs "$CTR" 2>&1 | tail -5; return 1; }
    P logs "$CTR" 2>&1 | grep -q 'draining' || { echo "no drain line in the log"; P logs "$CTR" 2>&1 | tail -5; return 1; }
    # the drain deadline is 10 s; an idle server stops at once (generous bound: 2 noisy cores)
    [ "$ms" -lt 8000 ] || { echo "took ${ms} ms"; return 1; }
    echo "exit 0 after ${ms} ms"
}
case_ "podman stop (SIGTERM): drain log line, exit code 0, quickly" stop_clean

finish
