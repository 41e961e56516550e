#!/usr/bin/env bash
# One command on a fresh machine: fetch the default model (SmolLM2-135M-Instruct Q4_1), build
# emberlm, and start a chat with it (Ctrl-D quits; /help lists the commands).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "setup: install Rust first: https://rustup.rs" >&2; exit 1; }
model=$(scripts/fetch-models.sh smollm2)
cargo build --release --locked -p emberlm-cli
exec target/release/emberlm chat -m "$model"
