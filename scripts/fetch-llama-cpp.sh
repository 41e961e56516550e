#!/usr/bin/env bash
# Fetches llama.cpp's source (for its tokenizer test vocabularies models/ggml-vocab-*.gguf with
# their .inp/.out cases) from the llama-cpp-python source distribution on PyPI, into
# ${EMBERLM_CACHE:-~/.cache/emberlm}/llama.cpp-src. Idempotent. Prints the llama.cpp path,
# to be used as LLAMA_CPP_DIR:
#
#   export LLAMA_CPP_DIR="$(scripts/fetch-llama-cpp.sh)"
set -euo pipefail
version="0.3.36"
cache="${EMBERLM_CACHE:-$HOME/.cache/emberlm}"
dest="$cache/llama.cpp-src"
src="$dest/llama_cpp_python-$version/vendor/llama.cpp"

if [ ! -f "$src/models/ggml-vocab-llama-spm.gguf.inp" ]; then
    mkdir -p "$dest"
    tmp="$(mktemp -d "$dest/.download.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$version" -d "$tmp" >&2
    tarball="$(ls "$tmp"/llama_cpp_python-*.tar.gz)"
    rm -rf "$dest/llama_cpp_python-$version"
    tar -xzf "$tarball" -C "$dest"
fi
test -d "$src/models" || { echo "fetch-llama-cpp: $src/models missing" >&2; exit 1; }
echo "$src"
