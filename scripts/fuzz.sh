#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz/ (clang, -Dfuzz=true, in build-fuzz/) and run each
# for a while on a copy of its seed corpus. Prints per target the executions reached and exec/s;
# a crash, leak, UBSan report, time-out or violated property fails the target, with the input
# that did it and the stack. Ends with the single line "N passed, M failed" (targets).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 10 s, every target
#   bash scripts/fuzz.sh 300 loader                            a longer run of one target
#
# Environment:
#   CAPPROXY_FUZZ_BUILD_DIR=build-fuzz    the clang build directory
#   CAPPROXY_FUZZ_ARTIFACTS=DIR           where crash inputs are kept (default: a new temp dir)
#   CAPPROXY_FUZZ_CORPUS_OUT=DIR          keep each target's grown corpus in DIR/<target>
# Nothing is written into the repository: corpora are copied to a temp dir first.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
ALL_TARGETS=(loader config jsonrpc router urlenc template jsonpath framing convert uritpl jwt digest trace jsontext)

SECONDS_PER=10
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    SECONDS_PER=$1
    shift
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    if [[ " ${ALL_TARGETS[*]} " != *" $t "* ]]; then
        echo "fuzz.sh: unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

BD=${CAPPROXY_FUZZ_BUILD_DIR:-build-fuzz}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capproxy-fuzz.XXXXXX")
ART=${CAPPROXY_FUZZ_ARTIFACTS:-$WORK/artifacts}
KEEP_ART=0
cleanup() {
    if [ "$KEEP_ART" = 1 ] && [ -z "${CAPPROXY_FUZZ_ARTIFACTS:-}" ]; then
        # keep the crash inputs, drop the corpora
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name artifacts -exec rm -rf {} +
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

PASS=0
FAIL=0
finish() {
    echo
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
    exit $?
}

# ---- tools and build ----
if ! bash scripts/setup.sh --fuzz; then
    echo "fuzz.sh: scripts/setup.sh --fuzz failed"
    FAIL=${#TARGETS[@]}
    finish
fi
if [ -f "$BD/build.ninja" ] && ! meson configure "$BD" -Dfuzz=true >/dev/null 2>&1; then
    rm -rf "$BD" # configured with another compiler or a stale meson: start again
fi
if [ ! -f "$BD/build.ninja" ]; then
    rm -rf "$BD"
    if ! CC=clang meson setup "$BD" -Dfuzz=true >"$WORK/setup.log" 2>&1; then
        cat "$WORK/setup.log"
        echo "fuzz.sh: meson setup $BD failed"
        FAIL=${#TARGETS[@]}
        finish
    fi
fi
ninja_targets=()
for t in "${TARGETS[@]}"; do ninja_targets+=("tests/fuzz/fuzz_$t"); done
if ! ninja -C "$BD" "${ninja_targets[@]}" >"$WORK/ninja.log" 2>&1; then
    cat "$WORK/ninja.log"
    echo "fuzz.sh: building the fuzz targets failed"
    FAIL=${#TARGETS[@]}
    finish
fi
grep -E 'warning:' "$WORK/ninja.log" | sort -u | head -20 || true

# ---- seed corpora: the committed seeds plus the repository's documents ----
# seed TARGET DIR: fill DIR with the seeds of TARGET
seed() {
    local t=$1 dir=$2
    mkdir -p "$dir"
    if [ -d "tests/fuzz/corpus/$t" ]; then cp tests/fuzz/corpus/"$t"/* "$dir"/; fi
    local f n=0
    case "$t" in
        loader)
            while IFS= read -r f; do
                n=$((n + 1))
                cp "$f" "$dir/doc-$n-$(basename "$f")"
            done < <(find tests/data capabilities -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
            ;;
        config)
            for f in config/*.yaml; do cp "$f" "$dir/config-$(basename "$f")"; done
            ;;
        jsonpath)
            # every output mapping of the shipped documents
            grep -ho 'mapping: *\$[^ ]*' capabilities/*.yaml | sed 's/^mapping: *//' | sort -u |
                while IFS= read -r f; do
                    n=$((n + 1))
                    printf '%s' "$f" >"$dir/mapping-$n"
                done
            ;;
        template)
            # every consumed path template of the shipped documents, with a value
            grep -ho 'path: */[^ ]*' capabilities/*.yaml | sed 's/^path: *//' | sort -u |
                while IFS= read -r f; do
                    n=$((n + 1))
                    printf '%s\0a/b' "$f" >"$dir/path-$n"
                done
            ;;
    esac
}

# ---- run ----
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:handle_abort=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$ART"
printf '\n%-10s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${TARGETS[@]}"; do
    corpus="$WORK/corpus-$t"
    seed "$t" "$corpus"
    nseeds=$(find "$corpus" -type f | wc -l)
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=$ROOT/tests/fuzz/$t.dict")
    mkdir -p "$ART/$t"
    log="$WORK/$t.log"
    rc=0
    # -timeout: one input taking this long is a hang; -rss_limit_mb: a blow-up is a failure.
    "$BD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$ART/$t/" "${dict[@]}" "$corpus" \
        </dev/null >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    ncorpus=$(find "$corpus" -type f | wc -l)
    crash=$(find "$ART/$t" -type f 2>/dev/null | head -1)
    if [ "$rc" -eq 0 ] && [ -z "$crash" ] && [ -n "$execs" ]; then
        PASS=$((PASS + 1))
        printf '%-10s %12s %10s %8s  ok (%d seeds)\n' "$t" "$execs" "$rate" "$ncorpus" "$nseeds"
    else
        FAIL=$((FAIL + 1))
        KEEP_ART=1
        printf '%-10s %12s %10s %8s  FAILED (exit %d)\n' "$t" "${execs:--}" "${rate:--}" "$ncorpus" "$rc"
        echo "---- fuzz_$t: input: ${crash:-(none written)}"
        # the report: from the first sanitizer / libFuzzer / property line, with its stack
        grep -n -m1 -E '^==[0-9]+==|ERROR: libFuzzer|fuzz property violated|runtime error:|SUMMARY:' "$log" |
            cut -d: -f1 | { read -r first && tail -n "+$first" "$log" | head -80 || tail -40 "$log"; }
        echo "---- reproduce: $BD/tests/fuzz/fuzz_$t ${crash:-<input>}"
    fi
    if [ -n "${CAPPROXY_FUZZ_CORPUS_OUT:-}" ]; then
        mkdir -p "$CAPPROXY_FUZZ_CORPUS_OUT/$t"
        cp -n "$corpus"/* "$CAPPROXY_FUZZ_CORPUS_OUT/$t"/ 2>/dev/null || true
    fi
done
finish
