#!/bin/sh
# Regenerates fixtures/ from llama.cpp's real CPU code (see README.md). Usage, from anywhere:
#   tests/ggml-ref/legacy/gen.sh
# LLAMA_SRC: llama.cpp source (the llama-cpp-python 0.3.36 sdist's vendor/llama.cpp);
# LLAMA_BUILD: its cmake build (GGML_NATIVE=ON, GGML_LLAMAFILE=ON) with bin/libggml*.so.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${LLAMA_SRC:-$HOME/.cache/emberlm/llama.cpp-src/llama_cpp_python-0.3.36/vendor/llama.cpp}
build=${LLAMA_BUILD:-$HOME/.cache/emberlm/llama.cpp-build-avx2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -Wall -Wextra -o "$tmp/gen" "$here/gen.c" -I"$src/ggml/include" \
    -L"$build/bin" -lggml-cpu -lggml-base -lggml -lm -Wl,-rpath,"$build/bin"
mkdir -p "$here/fixtures"
"$tmp/gen" "$here/fixtures"
