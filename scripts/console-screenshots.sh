#!/usr/bin/env bash
# Screenshots of the console's main views for the README: runs the console's
# browser tests (headless Chromium through chromedriver, on SQLite), which
# leave PNGs in test-artifacts/, and copies the three views to
# docs/screenshots/. Needs Debian's chromium and chromium-driver.
#
#   scripts/console-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f test-artifacts/console-*.png
cargo test --test console sqlite:: -- --test-threads=1
for view in channel live server; do
  cp "test-artifacts/console-$view.png" "docs/screenshots/console-$view.png"
done
echo "docs/screenshots/console-{channel,live,server}.png updated"
