#!/bin/sh
# Headless-Chromium screenshot of a papermap HTML map page.
#
#   benches/baselines/screenshot_map.sh PAGE.html OUT.png [HASH]
#
# HASH (without '#') is appended to the URL, e.g. "selfcheck=quasar" to also show the self-check
# JSON under the map. The page decodes its data asynchronously; --virtual-time-budget makes
# Chromium wait for that work (and the first frame) before it takes the screenshot.
# Environment: CHROMIUM (default: chromium), BUDGET_MS (virtual ms, default 600000; the page ends the wait itself once drawn),
# RENDERER_FLAGS (default: software WebGL through SwiftShader; set to "--disable-gpu
# --disable-webgl" for the Canvas2D fallback), QUERY (e.g. "?renderer=canvas").
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 PAGE.html OUT.png [HASH]" >&2
  exit 2
fi
page=$(realpath "$1")
out=$(realpath -m "$2")
hash=${3:+#$3}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# shellcheck disable=SC2086
"${CHROMIUM:-chromium}" --headless --no-sandbox --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-dev-shm-usage \
  ${RENDERER_FLAGS:---use-angle=swiftshader --enable-unsafe-swiftshader} \
  --user-data-dir="$profile" --window-size=1400,1000 --hide-scrollbars \
  --virtual-time-budget="${BUDGET_MS:-600000}" \
  --screenshot="$out" "file://$page${QUERY:-}$hash" 2>"$profile/stderr" || {
  cat "$profile/stderr" >&2
  exit 1
}
echo "$out"
