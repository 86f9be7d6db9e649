#!/usr/bin/env bash
# Build capproxy and run every test suite, then all of it again built with
# -Db_sanitize=address,undefined, then each fuzz target for a few seconds. Every stage line
# says what it counts: test cases (a unit test's RUN case, an integration node:test test; a
# unit program's assertions are printed beside them), fuzz targets, checks, builds. Ends with
# the single line "N passed, M failed" (all stages).
#
#   bash scripts/test.sh
#
# Environment:
#   CAPPROXY_SKIP_ASAN=1       skip the sanitizer build and its runs
#   CAPPROXY_SKIP_VALGRIND=1   skip the valgrind passes (unit tests, and the proxy in the REST, MCP, ops and hostile-input suites)
#   CAPPROXY_SKIP_FUZZ=1       skip the short fuzzing stage (scripts/fuzz.sh 5: every libFuzzer target for 5 s)
#   CAPPROXY_SKIP_IMAGE=1      skip building and running the container image (scripts/image-test.sh, podman)
#   CAPPROXY_TEST_FILES="rest.test.mjs"   integration test files (default: every *.test.mjs)
#   CAPPROXY_BUILD_DIR=build, CAPPROXY_ASAN_BUILD_DIR=build-asan   the two build directories
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY=()
T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

header() {
    echo
    echo "==================== $* ===================="
}

# record STAGE PASSED FAILED [note]; UNIT=... record ... names what was counted (default: test
# cases)
record() {
    local unit=${UNIT:-test cases}
    TOTAL_PASS=$((TOTAL_PASS + $2))
    TOTAL_FAIL=$((TOTAL_FAIL + $3))
    SUMMARY+=("$(printf '  %-34s passed %4d   failed %3d  %-12s %s' "$1" "$2" "$3" "$unit" "${4:-}")")
    echo "---- $1: passed $2, failed $3 $unit ${4:-}"
}

finish() {
    header "summary ($(($(date +%s) - T0)) s)"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    echo "(test cases, plus the checks, builds and fuzz targets above)"
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
    if [ "$TOTAL_FAIL" -gt 0 ]; then exit 1; fi
    if [ "$TOTAL_PASS" -eq 0 ]; then exit 1; fi
    exit 0
}

SAN_RE='ERROR: AddressSanitizer|LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free)|definitely lost in'

# ---------------------------------------------------------------------------------------------
header "setup"
if ! bash scripts/setup.sh; then
    UNIT=steps record "setup" 0 1 "(scripts/setup.sh failed)"
    finish
fi
echo "node $(node --version), meson $(meson --version), ninja $(ninja --version)"

header "layers"
if bash scripts/check-layers.sh; then
    UNIT=checks record "layers (scripts/check-layers.sh)" 1 0
else
    UNIT=checks record "layers (scripts/check-layers.sh)" 0 1 "(an include runs up a layer: see above)"
fi

# build DIR [meson options...]: configure when needed, then compile
build() {
    local dir=$1
    shift
    header "build $dir $*"
    if [ ! -f "$dir/build.ninja" ]; then
        rm -rf "$dir"
        if ! meson setup "$dir" "$@" >"$WORK/setup-${dir//[^A-Za-z0-9]/-}.log" 2>&1; then
            cat "$WORK/setup-${dir//[^A-Za-z0-9]/-}.log"
            UNIT=builds record "build $dir" 0 1 "(meson setup failed)"
            return 1
        fi
    fi
    if ! ninja -C "$dir" -j "$JOBS" >"$WORK/ninja-${dir//[^A-Za-z0-9]/-}.log" 2>&1; then
        cat "$WORK/ninja-${dir//[^A-Za-z0-9]/-}.log"
        UNIT=builds record "build $dir" 0 1 "(compile failed)"
        return 1
    fi
    grep -E 'warning:' "$WORK/ninja-${dir//[^A-Za-z0-9]/-}.log" | sort -u | head -50 || true
    echo "built $dir/capproxy"
    return 0
}

# unit DIR LABEL [meson test options...]: run the unit suite; count each binary's own
# "N passed, M failed" line (RUN cases, tests/unit/harness.h) from meson's JSON test log, and
# its "N assertions" line beside them
unit() {
    local dir=$1 label=$2
    shift 2
    local logbase="unit-${label//[^a-z0-9]/-}"
    header "unit tests: $label"
    rm -f "$dir/meson-logs/$logbase".* "$dir/meson-logs/$logbase"-*
    local rc=0
    meson test -C "$dir" --suite unit --num-processes "$JOBS" --print-errorlogs --logbase "$logbase" "$@" || rc=$?
    # meson appends the wrapper's name to the log base (unit-valgrind-valgrind.json)
    local json
    json=$(find "$dir/meson-logs" -maxdepth 1 -name "$logbase*.json" 2>/dev/null | head -1)
    if [ -z "$json" ] || [ ! -f "$json" ]; then
        record "unit ($label)" 0 1 "(no meson test log; meson test exit $rc)"
        return
    fi
    local counts
    # shellcheck disable=SC2016
    counts=$(node -e '
        const fs = require("fs");
        const san = new RegExp(process.argv[2]);
        let p = 0, f = 0, n = 0, a = 0;
        const notes = [];
        for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
            if (!line.trim()) continue;
            const t = JSON.parse(line);
            n++;
            const out = (t.stdout || "") + "\n" + (t.stderr || "");
            const m = [...out.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed/gm)].pop();
            let tp = m ? +m[1] : 0, tf = m ? +m[2] : 0;
            const am = [...out.matchAll(/^(\d+) assertions, \d+ failed/gm)].pop();
            if (am) a += +am[1];
            const ok = t.result === "OK" || t.result === "EXPECTEDFAIL";
            if (san.test(out)) { tf++; notes.push(`${t.name}: sanitizer report`); }
            else if (!ok && tf === 0) { tf = 1; notes.push(`${t.name}: ${t.result}${m ? "" : " (no count line)"}`); }
            else if (!m) { tp++; }
            p += tp; f += tf;
        }
        if (n === 0) { f++; notes.push("no unit test ran"); }
        console.log(`${p} ${f} ${a} ${notes.join("; ")}`);
    ' "$json" "$SAN_RE")
    local p f a note
    read -r p f a note <<<"$counts"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        note="meson test exit $rc"
    fi
    record "unit ($label)" "$p" "$f" "($a assertions${note:+; $note})"
}

# integration BIN LABEL [FILES]: node --test over tests/integration/*.test.mjs (or FILES)
# against that binary; counts node:test tests (TAP "# pass"/"# fail", suites not counted)
integration() {
    local bin=$1 label=$2 only=${3:-}
    header "integration tests: $label ($bin)"
    local logdir="$WORK/proxy-logs-${label//[^a-z0-9]/-}"
    local tap="$WORK/integration-${label//[^a-z0-9]/-}.tap"
    mkdir -p "$logdir"
    local files
    files=${only:-${CAPPROXY_TEST_FILES:-$(cd tests/integration && ls ./*.test.mjs 2>/dev/null | tr '\n' ' ')}}
    if [ -z "$files" ]; then
        record "integration ($label)" 0 1 "(no test files)"
        return
    fi
    local rc=0
    # shellcheck disable=SC2086
    (cd tests/integration &&
        CAPPROXY_BIN="$(cd "$ROOT" && realpath -m "$bin")" CAPPROXY_LOG_DIR="$logdir" \
            timeout -k 10 600 node --test --test-concurrency=1 \
            --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$tap" \
            $files </dev/null) || rc=$?
    local p=0 f=0 c=0 note=""
    if [ -f "$tap" ]; then
        p=$(grep -E '^# pass [0-9]+' "$tap" | tail -1 | awk '{print $3}')
        f=$(grep -E '^# fail [0-9]+' "$tap" | tail -1 | awk '{print $3}')
        c=$(grep -E '^# cancelled [0-9]+' "$tap" | tail -1 | awk '{print $3}')
    fi
    p=${p:-0}
    f=$((${f:-0} + ${c:-0}))
    if [ "${c:-0}" -gt 0 ]; then note="($c cancelled)"; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        note="(node --test exit $rc)"
    fi
    # every capproxy's stderr, scanned for sanitizer reports
    local hits
    hits=$(grep -l -E "$SAN_RE" "$logdir"/*.log 2>/dev/null || true)
    if [ -n "$hits" ]; then
        local nhits
        nhits=$(echo "$hits" | wc -l)
        echo "sanitizer reports in capproxy's stderr ($nhits process(es)):"
        for h in $hits; do
            echo "--- $h"
            grep -E -A 40 "$SAN_RE" "$h" | head -80
        done
        f=$((f + nhits))
        note="$note (sanitizer reports: $nhits)"
    fi
    record "integration ($label)" "$p" "$f" "$note"
}

# ---------------------------------------------------------------------------------------------
B=${CAPPROXY_BUILD_DIR:-build}
BA=${CAPPROXY_ASAN_BUILD_DIR:-build-asan}

if build "$B"; then
    unit "$B" "build"
    if [ -x "$B/capproxy" ]; then
        integration "$B/capproxy" "build"
    else
        record "integration (build)" 0 1 "($B/capproxy missing)"
    fi
    if [ "${CAPPROXY_SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
        unit "$B" "valgrind" --wrapper "valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
            --timeout-multiplier 10
        # The proxy itself under memcheck, for the suites that exercise its request paths
        # (slow: about 20x, hence a subset and longer time-outs).
        if [ -x "$B/capproxy" ]; then
            VALGRIND_TARGET_CAPPROXY="$(realpath "$B/capproxy")" CAPPROXY_TEST_TIMEOUT_SCALE=10 \
                CAPPROXY_START_TIMEOUT_MS=60000 \
                integration scripts/valgrind-capproxy.sh "valgrind" "./rest.test.mjs ./mcp.test.mjs ./ops.test.mjs ./hostile.test.mjs ./orchestration.test.mjs ./formats.test.mjs ./forward.test.mjs ./bodies.test.mjs ./examples.test.mjs ./digest-upstream.test.mjs ./mcp-resources.test.mjs ./live.test.mjs ./adapters.test.mjs ./reload.test.mjs ./ratelimit.test.mjs"
        fi
    fi
fi

if [ "${CAPPROXY_SKIP_ASAN:-0}" != 1 ]; then
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    if build "$BA" -Db_sanitize=address,undefined -Db_lundef=false; then
        unit "$BA" "asan"
        if [ -x "$BA/capproxy" ]; then
            integration "$BA/capproxy" "asan"
        else
            record "integration (asan)" 0 1 "($BA/capproxy missing)"
        fi
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# Every libFuzzer target of tests/fuzz/ for a few seconds (clang build in build-fuzz/): a smoke
# run that keeps the targets building and catches what their seeds and a short run reach.
if [ "${CAPPROXY_SKIP_FUZZ:-0}" != 1 ]; then
    header "fuzz (scripts/fuzz.sh 5)"
    fuzz_rc=0
    bash scripts/fuzz.sh 5 2>&1 | tee "$WORK/fuzz.log" || fuzz_rc=$?
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/fuzz.log" | tail -1)
    if [ -n "$counts" ]; then
        read -r fp _ ff _ <<<"$counts"
        if [ "$fuzz_rc" -ne 0 ] && [ "$ff" -eq 0 ]; then ff=1; fi
        UNIT="fuzz targets" record "fuzz (5 s per target)" "$fp" "$ff" "$([ "$ff" -gt 0 ] && echo "(see above)")"
    else
        UNIT="fuzz targets" record "fuzz (5 s per target)" 0 1 "(scripts/fuzz.sh gave no count line, exit $fuzz_rc)"
    fi
fi

# The container image built from the Dockerfile with podman and run: its own count of cases;
# skipped (and said so in the summary) only where podman cannot run.
if [ "${CAPPROXY_SKIP_IMAGE:-0}" != 1 ]; then
    header "image (scripts/image-test.sh: podman build and run)"
    image_rc=0
    timeout -k 10 1800 bash scripts/image-test.sh 2>&1 | tee "$WORK/image.log" || image_rc=$?
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/image.log" | tail -1)
    skipped=$(grep -E '^skipped: ' "$WORK/image.log" | tail -1)
    if [ -n "$counts" ]; then
        read -r ip _ if_ _ <<<"$counts"
        if [ "$image_rc" -ne 0 ] && [ "$if_" -eq 0 ]; then if_=1; fi
        record "image (podman)" "$ip" "$if_" "${skipped:+($skipped)}"
    else
        record "image (podman)" 0 1 "(scripts/image-test.sh gave no count line, exit $image_rc)"
    fi
fi

finish
