#!/usr/bin/env bash
# The release binary that `--host` uploads to compute nodes: static (musl), so it runs
# on RHEL 8, Ubuntu 20.04 and anything newer whatever their glibc; then checked by
# scripts/check-glibc.sh. Output: target/x86_64-unknown-linux-musl/release/passthru
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
if command -v rustup >/dev/null; then rustup target add "$target" >/dev/null 2>&1 || true; fi
cargo build --release --locked --target "$target" -p passthru-cli --bin passthru
bin="target/$target/release/passthru"
scripts/check-glibc.sh "$bin" 2.28
"$bin" --version
