#!/usr/bin/env bash
# Build the reference harness against llama.cpp's headers and libggml (scripts/build-llama-cpp.sh)
# and write the fixtures: tests/ggml-ref/ops/build.sh [OUTDIR] (default: runtime/tests/fixtures/ggml-ops).
set -euo pipefail
cd "$(dirname "$0")/../../.."
src="${LLAMA_CPP_SRC:-$HOME/.cache/emberlm/llama.cpp-src/llama_cpp_python-0.3.36/vendor/llama.cpp}"
bin="${LLAMA_CPP_BIN:-$HOME/.cache/emberlm/llama.cpp-build-avx2/bin}"
out="${1:-runtime/tests/fixtures/ggml-ops}"
mkdir -p "$out"
exe="$(mktemp -d)/ggml-ops"
cc -O2 -o "$exe" tests/ggml-ref/ops/ops.c -I"$src/ggml/include" -L"$bin" -Wl,-rpath,"$bin" \
  -lggml -lggml-base -lggml-cpu -lm
"$exe" "$out"
ls -l "$out"
