#!/usr/bin/env bash
# Build llama.cpp's tools (llama-perplexity, llama-tokenize, llama-bench, llama-completion,
# llama-quantize) from the pinned llama-cpp-python 0.3.36 source distribution. llama.cpp is our
# independent reference for fidelity tests and benchmarks, never a dependency of emberlm.
#
#   scripts/build-llama-cpp.sh [avx2|native]     prints the directory holding the binaries
#
# avx2 (the default): the reference the tests compare with, llama.cpp's portable x86-64 build
#   (`GGML_NATIVE=OFF`: SSE4.2, AVX, AVX2, BMI2, FMA, F16C, no AVX-512), whose arithmetic our
#   scalar specs reproduce bit for bit on every machine. (A native build on an AVX-512 CPU takes
#   other paths: on Zen 4 its SmolLM2 logits differ from its own AVX2 build's by a mean KLD of
#   0.003, perplexity 9.4693 against 9.4789, 2026-12-07.)
# native: `GGML_NATIVE=ON`, the fastest llama.cpp on this CPU: what benches/compare-llama-cpp.sh
#   measures against.
#
# Source: scripts/fetch-llama-cpp.sh. Build dir: ${EMBERLM_CACHE:-~/.cache/emberlm}/llama.cpp-build-
# {avx2,native}. Idempotent: an existing build with all the tools is reused. About 5-10 minutes on
# 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-avx2}"
case "$kind" in
  avx2) native=OFF ;;
  native) native=ON ;;
  *) echo "build-llama-cpp: unknown build '$kind' (avx2 or native)" >&2; exit 2 ;;
esac
cache="${EMBERLM_CACHE:-$HOME/.cache/emberlm}"
build="$cache/llama.cpp-build-$kind"
tools=(llama-perplexity llama-tokenize llama-bench llama-completion llama-quantize)

have_all() { for t in "${tools[@]}"; do [ -x "$build/bin/$t" ] || return 1; done; }

if ! have_all; then
  command -v cmake >/dev/null || { echo "build-llama-cpp: cmake is needed (apt-get install cmake)" >&2; exit 1; }
  src="$(scripts/fetch-llama-cpp.sh)"
  echo "build-llama-cpp: building ${tools[*]} ($kind) from $src" >&2
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="$native" -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
  cmake --build "$build" -j"$(nproc)" --target "${tools[@]}" >&2
  have_all || { echo "build-llama-cpp: build finished without all tools" >&2; exit 1; }
fi
echo "$build/bin"
