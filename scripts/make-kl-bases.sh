#!/usr/bin/env bash
# Make llama.cpp's KL-divergence base files for the fidelity tests: llama-perplexity (pinned
# llama.cpp, its x86-64 AVX2 build: scripts/build-llama-cpp.sh) on SmolLM2-135M-Instruct Q4_1 over a 7 230-token text
# (llama.cpp's own docs/speculative.md from the same pinned source), at -c 512 and -c 256; and on
# Gemma 3 270M Q4_K_M over docs/build.md (13 k tokens: at -c 2048 the scored positions 1024..2047
# lie far past the 512-position sliding window) at -c 256 (24 chunks) and -c 2048 (3 chunks),
# about 3 000 scored positions each (the 262 144-entry vocabulary makes each file ~1.6 GB).
# Every base uses llama.cpp's non-flash attention (-fa off; its default `auto` turns flash
# attention on for the CPU): our attention computes what that path computes (f16 K and V,
# softmax over the whole row, then the V product), while llama.cpp's flash path accumulates the
# values in f16 with an online softmax, a different arithmetic (SmolLM2 -c 256: KLD 0.0031
# against a flash-attention base although our logits equal llama.cpp's non-flash ones bit for bit).
# Each file has a `.args` stamp of the command (and llama.cpp build) that made it; a cached base
# made otherwise (an older version of this script) is made again.
#
#   scripts/make-kl-bases.sh [smollm2|gemma3|all]   (default smollm2, what CI's tests use)
#
# prints the directory holding smollm2-c{512,256}.kl and text.md, and with gemma3 or all also
# gemma3-c{256,2048}.kl and gemma3-text.md.
#
# The files (~350 MB each for SmolLM2) go to $EMBERLM_KL_DIR (default ${EMBERLM_CACHE:-~/.cache/emberlm}/kl),
# are made once, and are never committed. llama-perplexity's own log sits beside each file.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${EMBERLM_KL_DIR:-${EMBERLM_CACHE:-$HOME/.cache/emberlm}/kl}"
mkdir -p "$out"
bin="$(scripts/build-llama-cpp.sh)"
src="$(scripts/fetch-llama-cpp.sh)"
model="$(scripts/fetch-models.sh smollm2)"
text="$src/docs/speculative.md"
which="${1:-smollm2}"
case "$which" in smollm2|gemma3|all) ;; *) echo "usage: $0 [smollm2|gemma3|all]" >&2; exit 2 ;; esac
# base FILE ARGS...: llama-perplexity ARGS -fa off --kl-divergence-base FILE, unless FILE exists
# and was made with the same arguments (its .args stamp; the thread count does not change the
# logits and is left out of it).
base() {
  local f="$1"; shift
  local args="$* -fa off ($(basename "$(dirname "$(dirname "$src")")"), $(basename "$(dirname "$bin")"))"
  if [ -s "$f" ] && [ "$(cat "$f.args" 2>/dev/null)" = "$args" ]; then return 0; fi
  echo "make-kl-bases: llama-perplexity $args" >&2
  "$bin/llama-perplexity" "$@" -t "$(nproc)" -fa off --kl-divergence-base "$f.part" > "$f.log" 2>&1 ||
    { tail -20 "$f.log" >&2; exit 1; }
  mv "$f.part" "$f"
  echo "$args" > "$f.args"
  grep "Final estimate" "$f.log" >&2
}
for c in 512 256; do
  [ "$which" = gemma3 ] && break
  base "$out/smollm2-c$c.kl" -m "$model" -f "$text" -c "$c"
done
cp "$text" "$out/text.md"
if [ "$which" = smollm2 ]; then echo "$out"; exit 0; fi
gemma="$(scripts/fetch-models.sh gemma3)"
gtext="$src/docs/build.md"
for c in 256 2048; do
  chunks=$([ "$c" = 2048 ] && echo 3 || echo 24)
  base "$out/gemma3-c$c.kl" -m "$gemma" -f "$gtext" -c "$c" --chunks "$chunks"
done
cp "$gtext" "$out/gemma3-text.md"
echo "$out"
