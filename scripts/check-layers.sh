#!/bin/sh
# The layer rule (README "Source layout"): a file in src/<layer>/ (or tests/unit/<layer>/) includes
# only "<same or lower layer>/x.h"; libevent and curl only from http up; libyaml only in spec/ynode.c;
# OpenSSL only in base/crypto.c (one wrapper, so no module hand-rolls what libcrypto offers).
cd "$(dirname "$0")/.." || exit 2
awk '
BEGIN {
    n = split("base spec core http front app", L, " ")
    for (i = 1; i <= n; i++) rank[L[i]] = i
    bad = 0
}
FNR == 1 {
    nfiles++
    file = FILENAME; split(file, p, "/")
    layer = (p[1] == "src") ? p[2] : (p[3] in rank ? p[3] : "")
}
layer != "" && /^[ \t]*#[ \t]*include/ {
    inc = $0; sub(/^[ \t]*#[ \t]*include[ \t]*/, "", inc); sub(/[ \t].*$/, "", inc)
    if (inc ~ /^</) {
        if ((inc ~ /^<event2\// || inc ~ /^<curl\//) && rank[layer] < rank["http"])
            why = layer " may not use libevent or curl (http and above)"
        else if (inc == "<yaml.h>" && file != "src/spec/ynode.c")
            why = "libyaml is read only by spec/ynode.c"
        else if (inc ~ /^<openssl\// && file != "src/base/crypto.c" && file != "src/core/jwt.c" &&
                 file != "tests/unit/core/test_jwt.c")
            why = "OpenSSL is used only through base/crypto.h (and core/jwt.c, which verifies JWS signatures with its key types)"
        else next
    } else {
        name = inc; gsub(/"/, "", name)
        if (name !~ /\//) {
            if (p[1] == "tests" && (name == "harness.h" || name == "testrt.h" || name == "testfs.h")) next
            why = "a project include names its folder (\"" layer "/" name "\")"
        } else {
            split(name, q, "/")
            if (!(q[1] in rank)) why = "unknown folder " q[1]
            else if (rank[q[1]] > rank[layer]) why = layer " includes " q[1] " (only itself and lower layers)"
            else next
        }
    }
    printf "%s:%d: %s: %s\n", file, FNR, inc, why; bad = 1
}
END {
    if (!bad) printf "check-layers: %d files, every include goes to its own layer or a lower one\n", nfiles
    exit bad
}' $(find src tests/unit -name '*.[ch]' | sort)
