#!/usr/bin/env bash
# Run capproxy under valgrind memcheck; scripts/test.sh points CAPPROXY_BIN here for the valgrind
# pass of the integration tests. Errors and definite leaks go to stderr (which the harness keeps
# and scripts/test.sh scans) and make the process exit 99 instead of 0. capproxy links mimalloc
# (meson option mimalloc): --soname-synonyms makes memcheck replace its malloc as it does libc's.
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --soname-synonyms=somalloc=libmimalloc.so* \
    --show-leak-kinds=definite "${VALGRIND_TARGET_CAPPROXY:?the capproxy binary to run}" "$@"
