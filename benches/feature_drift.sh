#!/usr/bin/env bash
# Crates whose features differ between the workspace test build and the root package's
# `--no-default-features` test build: each one is rebuilt, with every crate above it, by CI's
# second test stage. Should print nothing; otherwise add the crate to
# crates/papermap-workspace-hack/Cargo.toml with the workspace's features.
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree "$@" -e normal,build,dev -f '{p} [{f}]' --prefix none --target x86_64-unknown-linux-gnu | grep -v ' (\*)$' | sort -u; }
comm -13 <(tree --workspace) <(tree -p papermap --no-default-features) | grep -v '^papermap'
