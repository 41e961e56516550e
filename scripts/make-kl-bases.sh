#!/usr/bin/env bash
# Make llama.cpp's KL-divergence base files for the fidelity tests: llama-perplexity (pinned
# llama.cpp, scripts/build-llama-cpp.sh) on SmolLM2-135M-Instruct Q4_1 over a 7 230-token text
# (llama.cpp's own docs/speculative.md from the same pinned source), at -c 512 and -c 256.
#
#   scripts/make-kl-bases.sh      prints the directory holding smollm2-c512.kl, smollm2-c256.kl
#
# The files (~350 MB each) go to $EMBERLM_KL_DIR (default ${EMBERLM_CACHE:-~/.cache/emberlm}/kl),
# are made once, and are never committed. llama-perplexity's own log sits beside each file.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${EMBERLM_KL_DIR:-${EMBERLM_CACHE:-$HOME/.cache/emberlm}/kl}"
mkdir -p "$out"
bin="$(scripts/build-llama-cpp.sh)"
src="$(scripts/fetch-llama-cpp.sh)"
model="$(scripts/fetch-models.sh smollm2)"
text="$src/docs/speculative.md"
for c in 512 256; do
  f="$out/smollm2-c$c.kl"
  [ -s "$f" ] && continue
  echo "make-kl-bases: llama-perplexity -c $c on $(basename "$model")" >&2
  "$bin/llama-perplexity" -m "$model" -f "$text" -c "$c" -t "$(nproc)" \
    --kl-divergence-base "$f.part" > "$f.log" 2>&1 || { tail -20 "$f.log" >&2; exit 1; }
  mv "$f.part" "$f"
  grep "Final estimate" "$f.log" >&2
done
cp "$text" "$out/text.md"
echo "$out"
