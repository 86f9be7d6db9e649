#!/usr/bin/env bash
# Set up, build, and run capproxy with the default config and the capabilities/ directory.
#   bash scripts/run.sh [extra capproxy arguments...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >&2
ninja -C build >&2
exec build/capproxy -c config/capproxy.yaml capabilities/ "$@"
