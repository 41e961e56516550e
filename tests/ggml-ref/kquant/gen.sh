#!/bin/sh
# Regenerate the fixtures in this directory from llama.cpp's real CPU backend.
# LLAMA_SRC: llama.cpp source tree (vendor/llama.cpp of the llama-cpp-python 0.3.36 sdist);
# LLAMA_BUILD: its cmake build (native: AVX2/FMA/F16C, GGML_CPU_REPACK=ON), with bin/libggml*.so.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${LLAMA_SRC:-$HOME/.cache/emberlm/llama.cpp-src/llama_cpp_python-0.3.36/vendor/llama.cpp}
build=${LLAMA_BUILD:-$HOME/.cache/emberlm/llama.cpp-build-avx2}
out=$(mktemp -d)
cc -O2 -std=c11 -o "$out/kquant_ref" "$here/kquant_ref.c" -I"$src/ggml/include" \
    -L"$build/bin" -Wl,-rpath,"$build/bin" -lggml -lggml-base -lggml-cpu -lm
mkdir -p "$here/fixtures"
"$out/kquant_ref" "$here/fixtures"
rm -rf "$out"
