#!/usr/bin/env bash
# Build llama.cpp's reference tools (llama-perplexity, llama-tokenize, llama-bench, llama-completion,
# llama-quantize) from the pinned llama-cpp-python 0.3.36 source distribution. llama.cpp is our
# independent reference for fidelity tests and benchmarks, never a dependency of emberlm.
#
#   scripts/build-llama-cpp.sh        prints the directory holding the binaries
#
# Source: scripts/fetch-llama-cpp.sh. Build dir: ${EMBERLM_CACHE:-~/.cache/emberlm}/llama.cpp-build.
# Idempotent: an existing build with all the tools is reused. About 10 minutes on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${EMBERLM_CACHE:-$HOME/.cache/emberlm}"
build="$cache/llama.cpp-build"
tools=(llama-perplexity llama-tokenize llama-bench llama-completion llama-quantize)

have_all() { for t in "${tools[@]}"; do [ -x "$build/bin/$t" ] || return 1; done; }

if ! have_all; then
  command -v cmake >/dev/null || { echo "build-llama-cpp: cmake is needed (apt-get install cmake)" >&2; exit 1; }
  src="$(scripts/fetch-llama-cpp.sh)"
  echo "build-llama-cpp: building ${tools[*]} from $src" >&2
  # GGML_NATIVE: llama.cpp's default, tuned for this CPU (it is the comparison, not our binary).
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
  cmake --build "$build" -j"$(nproc)" --target "${tools[@]}" >&2
  have_all || { echo "build-llama-cpp: build finished without all tools" >&2; exit 1; }
fi
echo "$build/bin"
