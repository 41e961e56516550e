#!/usr/bin/env bash
# emberlm's test command (the README's, and what CI runs).
#
#   scripts/test.sh          every tier: lint, host tests, no_std builds, aarch64 under qemu, MCU
#                            firmware under QEMU, fidelity against llama.cpp (real models)
#   scripts/test.sh quick    lint + host tests only (seconds once built)
#
# Real-model tests use $EMBERLM_MODELS (default ~/.cache/emberlm/models); they print SKIPPED when a
# model is absent unless EMBERLM_REQUIRE_MODELS=1 (CI sets it after scripts/fetch-models.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tier="${1:-all}"

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt"
cargo fmt --all --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "host tests (x86_64)"
cargo test --workspace --locked

[ "$tier" = quick ] && exit 0

step "no_std proof: core crates without default features on bare-metal targets"
for target in thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf; do
  cargo build --locked --target "$target" --no-default-features \
    -p emberlm-quant -p emberlm-models -p emberlm -p emberlm-mcu
done

step "aarch64 under qemu-user (cortex-a72 = Pi 4, cortex-a76 = Pi 5): test suites, KLD and greedy parity with x86_64"
scripts/check-aarch64.sh all

step "MCU firmware under QEMU (an386 M4F, an547 M55, rv32) against the host"
scripts/check-mcu.sh

step "fidelity against llama.cpp (release; KL bases from scripts/make-kl-bases.sh)"
cargo test --locked --release -p emberlm-cli --test fidelity -- --ignored --nocapture

step "Gemma 3 fidelity against llama.cpp (-c 256 and -c 2048, and the sliding window's effect)"
cargo test --locked --release -p emberlm-cli --test fidelity_gemma -- --ignored --nocapture --test-threads 1

step "every x86 kernel tier gives SmolLM2 the same model (KLD, greedy) as the scalar spec"
cargo test --locked --release -p emberlm-cli --test tiers -- --ignored --nocapture
