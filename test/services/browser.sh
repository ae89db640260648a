#!/usr/bin/env bash
# browser.sh: makes the browser tier runnable on a bare machine: Debian's chromium (driven by
# playwright-core with executablePath /usr/bin/chromium; no browser download), ping and iproute2.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/ensure-packages.sh chromium:chromium ip:iproute2
