#!/usr/bin/env bash
# Install what building and testing capproxy needs, and only what is missing (Debian bookworm, root).
#   bash scripts/setup.sh           build + test tools (what CI needs)
#   bash scripts/setup.sh --bench   also nginx-light and wrk for the benchmark
#   bash scripts/setup.sh --fuzz    also clang and libFuzzer (libclang-rt-14-dev) for scripts/fuzz.sh
# Idempotent and quiet: prints nothing when everything is there; fails loudly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

want_bench=0
want_fuzz=0
for arg in "$@"; do
    case "$arg" in
        --bench) want_bench=1 ;;
        --fuzz) want_fuzz=1 ;;
        -h | --help)
            sed -n '2,6p' "$0"
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

# package -> command that proves it is there ('' = dpkg -s only)
pkgs=(
    "build-essential:gcc"
    "meson:meson"
    "ninja-build:ninja"
    "pkg-config:pkg-config"
    "libevent-dev:"
    "libcurl4-openssl-dev:"
    "libssl-dev:"
    "libcjson-dev:"
    "libyaml-dev:"
    "libxml2-dev:"
    "libcsv-dev:"
    "libmd4c-dev:"
    "libmimalloc-dev:"
    "valgrind:valgrind"
)
if [ "$want_bench" = 1 ]; then
    pkgs+=("nginx-light:" "wrk:wrk")
fi
if [ "$want_fuzz" = 1 ]; then
    pkgs+=("clang:clang" "libclang-rt-14-dev:")
fi

missing=()
for entry in "${pkgs[@]}"; do
    pkg="${entry%%:*}"
    cmd="${entry#*:}"
    if [ -n "$cmd" ]; then
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    else
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    fi
done
# node and npm: often there already (possibly not from Debian); install Debian's only when absent
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root: install them with apt-get"
    echo "setup.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
fi

# the build needs these pkg-config names (meson.build)
for pc in libevent libevent_pthreads libcurl yaml-0.1 libcjson libxml-2.0 md4c; do
    pkg-config --exists "$pc" || die "pkg-config cannot find $pc"
done
command -v node >/dev/null 2>&1 || die "node is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

# the integration tests' node modules
it=tests/integration
# also when a devDependency added since the last install is missing (e.g. kubernetes-models)
it_complete() {
    (cd "$it" && node -e 'const fs=require("fs");const d=require("./package.json").devDependencies||{};
        process.exit(Object.keys(d).every((n)=>fs.existsSync("node_modules/"+n+"/package.json"))?0:1)')
}
if [ -f "$it/package.json" ] && { [ ! -d "$it/node_modules" ] || ! it_complete; }; then
    echo "setup.sh: installing node modules in $it" >&2
    if [ -f "$it/package-lock.json" ]; then
        (cd "$it" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $it"
    else
        (cd "$it" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || die "npm install failed in $it"
    fi
fi
