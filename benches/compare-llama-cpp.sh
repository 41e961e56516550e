#!/usr/bin/env bash
# emberlm against llama.cpp on the same GGUF, same machine, same run: prompt processing (pp) and
# text generation (tg) speed from `emberlm bench` and `llama-bench`, interleaved (ours t=1,
# theirs t=1, ours t=2, theirs t=2, ... for pp then tg) so that background load hits both alike,
# then peak RSS of a 128-token generation at -c 256 (`emberlm run` vs `llama-completion`).
# Prints a markdown table of tokens/s (mean ± stddev over -r repetitions) and ratios.
#
#   benches/compare-llama-cpp.sh [MODEL.gguf]
#
# Environment: THREADS="1 2" (thread counts), REPS=5, PP=512, TG=128, DEPTHS="0" (context depths,
# llama-bench's -d: tokens already in the context, untimed; e.g. DEPTHS="0 4096"; PP=0 or TG=0
# skips that test), ROUNDS=1 (the interleaved
# sequence is repeated ROUNDS times; the table shows the median round of each cell),
# LLAMA_CPP_BIN (a directory holding llama-bench and llama-completion; default: llama.cpp's
# native build, the fastest on this CPU, made by `scripts/build-llama-cpp.sh native` when
# absent), CARGO_TARGET_DIR (where emberlm is built).
# Numbers are only as quiet as the machine: run it when nothing else is compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
models="${EMBERLM_MODELS:-$HOME/.cache/emberlm/models}"
model="${1:-$models/SmolLM2-135M-Instruct.Q4_1.gguf}"
threads="${THREADS:-1 2}"
reps="${REPS:-5}"
pp="${PP:-512}"
tg="${TG:-128}"
depths="${DEPTHS:-0}"
rounds="${ROUNDS:-1}"
[ -f "$model" ] || { echo "compare-llama-cpp: no model at $model (scripts/fetch-models.sh)" >&2; exit 1; }
command -v jq >/dev/null || { echo "compare-llama-cpp: jq is needed (apt-get install jq)" >&2; exit 1; }

bin="${LLAMA_CPP_BIN:-}"
if [ -z "$bin" ]; then
  bin="$(scripts/build-llama-cpp.sh native)"
fi
[ -x "$bin/llama-bench" ] || { echo "compare-llama-cpp: no llama-bench in $bin" >&2; exit 1; }

# Start both runtimes from the same page-cache state: the model's pages are dropped from the
# cache, so the first run (ours, which asks for MADV_HUGEPAGE) reads them back in large folios
# where the file system supports them (ext4/xfs on recent kernels), and every later run, of
# either runtime, maps the same folios (2 MiB pages when the file's cache holds them).
dd if="$model" iflag=nocache count=0 status=none 2>/dev/null || true

echo "compare-llama-cpp: building emberlm (release)" >&2
cargo build --release -q -p emberlm-cli
ours="${CARGO_TARGET_DIR:-target}/release/emberlm"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One measurement: prints "avg_ts stddev_ts" of the single test in the JSON array.
run_ours() { # test-args threads
  "$ours" bench -m "$model" $1 -t "$2" -r "$reps" --json --no-roofline |
    jq -r '.[0] | "\(.avg_ts) \(.stddev_ts)"'
}
run_theirs() {
  "$bin/llama-bench" -m "$model" $1 -t "$2" -r "$reps" -o json 2>/dev/null |
    jq -r '.[0] | "\(.avg_ts) \(.stddev_ts)"'
}

# The tests: "pp512.d0", "tg128.d4096", ...
tests=""
for d in $depths; do
  [ "$pp" -gt 0 ] && tests="$tests pp$pp.d$d"
  [ "$tg" -gt 0 ] && tests="$tests tg$tg.d$d"
done
label() { # pp512.d4096 -> "pp512 @ d4096" (as llama-bench prints it); pp512.d0 -> pp512
  case "$1" in *.d0) echo "${1%.d0}" ;; *) echo "${1%.d*} @ d${1##*.d}" ;; esac
}

for round in $(seq 1 "$rounds"); do
  for test in $tests; do
    case "$test" in
      pp*) args="-p $pp -n 0 -d ${test##*.d}" ;;
      tg*) args="-p 0 -n $tg -d ${test##*.d}" ;;
    esac
    for t in $threads; do
      echo "compare-llama-cpp: round $round $test t=$t: emberlm" >&2
      run_ours "$args" "$t" >"$tmp/ours.$test.$t.$round"
      echo "compare-llama-cpp: round $round $test t=$t: llama.cpp" >&2
      run_theirs "$args" "$t" >"$tmp/theirs.$test.$t.$round"
    done
  done
done

# Peak RSS (KiB) of a generation of $tg tokens at -c 256 with the largest thread count.
t_max="$(echo $threads | tr ' ' '\n' | sort -n | tail -1)"
prompt="The history of the printing press"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
rss_ours="$(rss "$ours" run -m "$model" -p "$prompt" -n "$tg" -c 256 -t "$t_max" --temp 0)"
rss_theirs="$(rss "$bin/llama-completion" -m "$model" -p "$prompt" -n "$tg" -c 256 -t "$t_max" --temp 0 \
  -no-cnv --no-display-prompt --no-warmup)"

median_round() { # file-prefix: prints the line of the median round (by avg_ts)
  cat "$1".* | sort -g -k1,1 | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}

echo
echo "emberlm vs llama.cpp: $(basename "$model"), $(nproc) cores, -r $reps, $rounds round(s), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| test | threads | emberlm t/s | llama.cpp t/s | ratio |"
echo "| ---- | ------: | ----------: | ------------: | ----: |"
for test in $tests; do
  for t in $threads; do
    read -r oa os <<<"$(median_round "$tmp/ours.$test.$t")"
    read -r ta tsd <<<"$(median_round "$tmp/theirs.$test.$t")"
    awk -v test="$(label "$test")" -v t="$t" -v oa="$oa" -v os="$os" -v ta="$ta" -v tsd="$tsd" \
      'BEGIN { printf "| %s | %d | %.2f ± %.2f | %.2f ± %.2f | %.2fx |\n", test, t, oa, os, ta, tsd, oa / ta }'
  done
done
echo
echo "| peak RSS, $tg tokens at -c 256, t=$t_max | emberlm | llama.cpp | ratio |"
echo "| --- | ---: | ---: | ---: |"
awk -v o="$rss_ours" -v l="$rss_theirs" \
  'BEGIN { printf "| VmHWM | %.1f MiB | %.1f MiB | %.2fx |\n", o / 1024, l / 1024, o / l }'
