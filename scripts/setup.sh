#!/usr/bin/env bash
# One command on a fresh machine: fetch the default model, build emberlm, show the model.
# (Once `emberlm chat` exists this starts the chat instead of `info`.)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "setup: install Rust first: https://rustup.rs" >&2; exit 1; }
model=$(scripts/fetch-models.sh smollm2)
cargo build --release --locked -p emberlm-cli
exec target/release/emberlm info -m "$model"
