#!/usr/bin/env bash
# aarch64 (NEON / dotprod kernels) under qemu-user as a Raspberry Pi 4 (-cpu cortex-a72, NEON)
# and a Pi 5 (-cpu cortex-a76, dotprod).
#
#   scripts/check-aarch64.sh [tests|parity|all]      (default all)
#
# tests: the test suites of quant, models, runtime, cli, targets/{rpi,desktop,mcu}, built once
#   for aarch64 and run under both CPUs, each binary timed. Test binaries that spawn the
#   `emberlm` executable are SKIPPED by name (without binfmt_misc an emulated process cannot exec
#   another aarch64 binary); the executable itself is exercised under qemu by `parity`. Tests of
#   the real models (SmolLM2, Gemma 3) print SKIPPED under emulation (minutes each); `parity`
#   covers SmolLM2 on aarch64.
# parity: the aarch64 build against the x86_64 build:
#   1. SmolLM2-135M-Instruct Q4_1, teacher-forced: the x86 CLI writes a KL-divergence base over
#      a short text (`emberlm perplexity --kl-divergence-base`), the aarch64 CLI reads it
#      (`--kl-divergence`): mean KLD <= $KLD_MAX (1e-4) and the same top token everywhere.
#   2. stories260K (Q8_0 GGUF, converted by the x86 CLI): the aarch64 greedy 100-token story is
#      byte-identical to the x86 one.
#
# Env: X86_TIER (the x86 side's EMBERLM_TIER, default scalar: the spec every tier must match),
# AARCH64_CPUS (default "cortex-a72 cortex-a76"), KL_CTX / KL_CHUNKS (window and windows, default
# 128 and 2), KLD_MAX (default 1e-4), THREADS (default 2), EMBERLM_MODELS, EMBERLM_STORIES260K,
# EMBERLM_REQUIRE_MODELS=1 (a missing model is a failure, not SKIPPED).
# Closing line: `N passed, N failed`.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
td="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$td"
x86_tier="${X86_TIER:-scalar}"
cpus="${AARCH64_CPUS:-cortex-a72 cortex-a76}"
kl_ctx="${KL_CTX:-128}"
kl_chunks="${KL_CHUNKS:-2}"
kld_max="${KLD_MAX:-1e-4}"
threads="${THREADS:-2}"
models="${EMBERLM_MODELS:-$HOME/.cache/emberlm/models}"
smollm2="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
stories="${EMBERLM_STORIES260K:-$root/../shared/models/stories260K}"
work="$td/aarch64-check"
mkdir -p "$work"
passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
missing() { # WHAT
  if [ "${EMBERLM_REQUIRE_MODELS:-0}" = 1 ]; then fail "$1 missing (EMBERLM_REQUIRE_MODELS=1)"; else echo "SKIPPED $1 missing"; fi
}
finish() { echo "check-aarch64: $((SECONDS - t0)) s"; echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

t0=$SECONDS
what="${1:-all}"
case "$what" in tests|parity|all) ;; *) echo "usage: $0 [tests|parity|all]" >&2; exit 2 ;; esac

# Test binaries that spawn `emberlm` (every cli test file naming CARGO_BIN_EXE_emberlm): not
# runnable under qemu-user here.
spawning="$(grep -l CARGO_BIN_EXE_emberlm "$root"/cli/tests/*.rs | xargs -n1 basename | sed 's/\.rs$//' | tr '\n' ' ')"

{
  echo "building the aarch64 test binaries (and the emberlm binary the parity checks run)"
  t=$SECONDS
  list="$work/test-binaries.txt"
  (cd "$root" && cargo test --no-run --locked --target aarch64-unknown-linux-gnu --message-format=json \
    -p emberlm-quant -p emberlm-models -p emberlm -p emberlm-cli -p emberlm-rpi -p emberlm-desktop -p emberlm-mcu) \
    | python3 -c '
import json, os, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        kind = m["target"]["kind"][0] if m["profile"]["test"] else "exe"
        print(os.path.dirname(m["manifest_path"]), m["target"]["name"], kind, m["executable"])
' >"$list" || { fail "aarch64 test build"; finish; }
  echo "test build: $((SECONDS - t)) s, $(grep -vc ' exe ' "$list") test binaries"
  # The test profile's emberlm (what cli's integration tests would spawn): same float results
  # as a release build (no fast-math at any opt-level), and no second build.
  arm="$(awk '$2 == "emberlm" && $3 == "exe" {print $4}' "$list" | head -1)"
  [ -x "$arm" ] || { fail "no aarch64 emberlm binary in the build"; finish; }
}
if [ "$what" != parity ]; then
  for cpu in $cpus; do
    tc=$SECONDS
    while read -r dir name kind exe; do
      [ "$kind" = exe ] && continue
      label="$(basename "$dir")/$kind/$name"
      if [ "$kind" = test ] && [ "$dir" = "$root/cli" ] && [[ " $spawning " == *" $name "* ]]; then
        echo "SKIPPED $cpu $label: spawns the aarch64 emberlm binary, which qemu-user cannot exec without binfmt_misc (parity runs the CLI under qemu)"
        continue
      fi
      t=$SECONDS
      log="$work/test-$cpu-$(basename "$dir")-$name.log"
      # The real-model tests (SmolLM2, Gemma: minutes each under emulation) print SKIPPED here;
      # the parity step below runs SmolLM2 on aarch64 against x86 instead.
      if (cd "$dir" && CARGO_MANIFEST_DIR="$dir" EMBERLM_MODELS="$work/no-models" EMBERLM_REQUIRE_MODELS=0 \
          qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" "$exe" >"$log" 2>&1); then
        pass "$cpu $label: $(grep -E '^test result' "$log" | tail -1 | sed 's/^test result: //; s/; finished.*//') ($((SECONDS - t))s)"
      else
        fail "$cpu $label ($((SECONDS - t))s)"; grep -E 'panicked|FAILED|failures:' "$log" | head -10
      fi
    done <"$list"
    echo "tests under -cpu $cpu: $((SECONDS - tc)) s"
  done
fi
[ "$what" = tests ] && finish

t=$SECONDS
(cd "$root" && cargo build --release -q --locked -p emberlm-cli) || { fail "x86_64 CLI build"; finish; }
x86="$td/release/emberlm"
echo "x86_64 release CLI build: $((SECONDS - t)) s"
qemu() { # CPU ARGS...: the aarch64 CLI under qemu-user
  local cpu="$1"; shift
  qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" "$arm" "$@"
}

# 1. SmolLM2 teacher-forced KLD.
if [ -s "$smollm2" ]; then
  base="$work/smollm2-c$kl_ctx.kl"
  t=$SECONDS
  if EMBERLM_TIER="$x86_tier" "$x86" perplexity -m "$smollm2" -f "$root/DEVELOPERS.md" -c "$kl_ctx" \
      --chunks "$kl_chunks" -t "$threads" --kl-divergence-base "$base" >"$work/x86-ppl.log" 2>&1; then
    echo "x86_64 ($x86_tier) KL base: $kl_chunks windows of $kl_ctx tokens in $((SECONDS - t)) s"
    for cpu in $cpus; do
      t=$SECONDS
      out="$work/kld-$cpu.json"
      if ! qemu "$cpu" perplexity -m "$smollm2" --kl-divergence-base "$base" --kl-divergence \
          -t "$threads" --json >"$out" 2>"$out.err"; then
        fail "SmolLM2 KLD on $cpu: the aarch64 CLI failed"; tail -5 "$out.err"; continue
      fi
      secs=$((SECONDS - t))
      tier=$(qemu "$cpu" info -m "$smollm2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["platform"]["kernels"])')
      if python3 - "$out" "$kld_max" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
kld, top, n = j["kld"]["value"], j["same_top"]["value"], j["count"]
print(f"  mean KLD {kld:.3e} (max {j['kld_percentiles']['max']:.3e}), same top {100 * top:.3f}% over {n} positions")
sys.exit(0 if kld <= float(sys.argv[2]) and top == 1.0 and n > 0 else 1)
PY
      then pass "SmolLM2 KLD aarch64 $cpu [$tier] vs x86_64 [$x86_tier] <= $kld_max, same top (${secs}s)"
      else fail "SmolLM2 KLD aarch64 $cpu [$tier] vs x86_64 [$x86_tier]"; fi
    done
  else
    fail "x86_64 perplexity (KL base)"; tail -5 "$work/x86-ppl.log"
  fi
else
  missing "SmolLM2 ($smollm2)"
fi

# 2. stories260K greedy output.
if [ -s "$stories/stories260K.bin" ]; then
  gguf="$work/stories260K-q8_0.gguf"
  "$x86" convert llama2c --model "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" \
    -o "$gguf" --type q8_0 >/dev/null || { fail "stories260K convert"; finish; }
  for prompt in "Once upon a time" "Lily and Tom"; do
    run=(run -m "$gguf" -p "$prompt" -n 100 --temp 0 -c 256)
    EMBERLM_TIER="$x86_tier" "$x86" "${run[@]}" >"$work/x86.txt" 2>/dev/null || { fail "x86 run"; continue; }
    for cpu in $cpus; do
      if ! qemu "$cpu" "${run[@]}" >"$work/arm-$cpu.txt" 2>"$work/arm-$cpu.err"; then
        fail "stories260K \"$prompt\" on $cpu: the aarch64 CLI failed"; tail -3 "$work/arm-$cpu.err"; continue
      fi
      if cmp -s "$work/x86.txt" "$work/arm-$cpu.txt"; then
        pass "stories260K \"$prompt\" greedy on $cpu identical to x86_64 [$x86_tier] ($(wc -c <"$work/x86.txt") bytes)"
      else
        fail "stories260K \"$prompt\" on $cpu differs from x86_64 [$x86_tier]"
        diff <(fold -w 80 "$work/x86.txt") <(fold -w 80 "$work/arm-$cpu.txt") | head -6
      fi
    done
  done
else
  missing "stories260K ($stories)"
fi
finish
