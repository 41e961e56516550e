#!/usr/bin/env bash
# The MCU firmware against the host: for each QEMU board (an386, an547, rv32) the greedy
# 100-token story for a fixed prompt must equal, byte for byte, what the host prints for the same
# GGUF with the scalar kernel tier (`EMBERLM_TIER=scalar emberlm run ... --temp 0 -c 256`); the
# serial chat on an386 (prompts written to QEMU's serial port, stories read back) likewise.
# Budgets: peak RAM (heap peak + painted-stack high-water mark + statics) <= 256 KiB at -c 256,
# 100 tokens generated, nothing allocated while generating (the firmware exits 3 otherwise).
# Flash (firmware + model) is reported. Closing line: `N passed, N failed`.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
td="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$td"
stories="${EMBERLM_STORIES260K:-$root/../shared/models/stories260K}"
ram_budget=$((256 * 1024))
n_predict=100
work="$td/mcu/check"
mkdir -p "$work"
passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

t0=$SECONDS
(cd "$root" && cargo build --release -q -p emberlm-cli) || { echo "host CLI build failed"; echo "0 passed, 1 failed"; exit 1; }
emberlm="$td/release/emberlm"
gguf="$td/mcu/stories260K-q8_0.gguf"
"$emberlm" convert llama2c --model "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" \
  -o "$gguf" --type q8_0 >/dev/null || { echo "convert failed"; echo "0 passed, 1 failed"; exit 1; }

host() { # PROMPT FILE: the host's greedy story (prompt + continuation + newline)
  EMBERLM_TIER=scalar "$emberlm" run -m "$gguf" -p "$1" -n "$n_predict" --temp 0 -c 256 >"$2" 2>"$2.err"
}

# A story run: compare the text between the banner and the summary line with the host's, then
# check the stats line.
check_story() { # BOARD PROMPT [defmt]
  local board="$1" prompt="$2" defmt="${3:-}" tag="$1 story \"$2\"${3:+ (defmt build, decoded by defmt-print)}"
  local out="$work/$1.$RANDOM.out"
  host "$prompt" "$work/host.txt" || { fail "$tag: host run failed"; return; }
  local t=$SECONDS
  MCU_DEFMT="${defmt:+1}" "$root/scripts/run-mcu.sh" "$board" "$prompt" >"$out" 2>"$out.err"
  local rc=$? secs=$((SECONDS - t))
  if [ $rc -ne 0 ]; then fail "$tag: firmware exit $rc"; tail -5 "$out" "$out.err"; return; fi
  python3 - "$out" "$work/host.txt" "$board" "$ram_budget" "$n_predict" "$defmt" <<'PY'
import re, sys
out, host, board, budget, n = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace'), \
    open(sys.argv[2], 'rb').read().decode('utf-8', 'replace'), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if sys.argv[6]:
    # One defmt frame per console line, and a frame per 96 bytes of a longer line: join those.
    text = ''
    for frame in out.split('\n')[:-1]:
        text += frame if len(frame.encode()) == 96 else frame + '\n'
    out = text
lines = out.split('\n')
first = next(i for i, l in enumerate(lines) if l.startswith('emberlm on '))
summ = max(i for i, l in enumerate(lines) if l.startswith('prompt ') and ' generated ' in l)
story = '\n'.join(lines[first + 1:summ]) + '\n'
ok = True
if story != host:
    ok = False
    print(f"  story differs from the host's:\n  host: {host!r}\n  {board}: {story!r}")
m = re.search(r'^stats: flash=(\d+) ram_peak=(\d+) tokens=(\d+)$', out, re.M)
if not m:
    print("  no stats line"); sys.exit(1)
flash, ram, toks = map(int, m.groups())
if ram > budget:
    ok = False; print(f"  RAM peak {ram} > budget {budget}")
if toks != n:
    ok = False; print(f"  {toks} tokens generated, expected {n}")
print(f"  flash={flash} ram_peak={ram} (budget {budget}) tokens={toks}; " + lines[summ])
sys.exit(0 if ok else 1)
PY
  if [ $? -eq 0 ]; then pass "$tag: identical to the host (${secs}s)"; else fail "$tag"; fi
}

check_chat() { # PROMPT1 PROMPT2 on an386's UART
  local tag="an386 serial chat" out="$work/chat.out"
  host "$1" "$work/host1.txt" && host "$2" "$work/host2.txt" || { fail "$tag: host run failed"; return; }
  local t=$SECONDS
  printf '%s\n%s\n\n' "$1" "$2" | MCU_MODE=chat "$root/scripts/run-mcu.sh" an386 >"$out" 2>&1
  local rc=$? secs=$((SECONDS - t))
  if [ $rc -ne 0 ]; then fail "$tag: firmware exit $rc"; tail -5 "$out"; return; fi
  python3 - "$out" "$work/host1.txt" "$work/host2.txt" "$ram_budget" <<'PY'
import re, sys
out = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
hosts = [open(p, 'rb').read().decode('utf-8', 'replace') for p in sys.argv[2:4]]
turns = re.findall(r'^> (.*?)\n\[(\d+) tokens[^\]]*\]$', out, re.M | re.S)
ok = len(turns) == 2
if not ok:
    print(f"  expected 2 turns, found {len(turns)}:\n{out}")
for (text, n), h in zip(turns, hosts):
    if text + '\n' != h:
        ok = False; print(f"  turn differs from the host's:\n  host:  {h!r}\n  an386: {text + chr(10)!r}")
    if int(n) != 100:
        ok = False; print(f"  {n} tokens, expected 100")
m = re.search(r'^stats: flash=(\d+) ram_peak=(\d+) tokens=(\d+)$', out, re.M)
if not m or int(m.group(2)) > int(sys.argv[4]) or int(m.group(3)) != 200:
    ok = False; print("  stats line missing or over budget: " + (m.group(0) if m else "none"))
else:
    print("  " + m.group(0))
if "\nbye\n" not in out:
    ok = False; print("  the chat did not end with bye")
sys.exit(0 if ok else 1)
PY
  if [ $? -eq 0 ]; then pass "$tag: 2 prompts over the serial port, identical to the host (${secs}s)"; else fail "$tag"; fi
}

for board in an386 an547 rv32; do
  check_story "$board" "Once upon a time"
done
check_story an386 "Lily, Tom and the dog"
if command -v defmt-print >/dev/null; then
  check_story an386 "Once upon a time" defmt
else
  echo "SKIPPED an386 defmt build: defmt-print is not installed (cargo install defmt-print --locked)"
fi
check_chat "Once upon a time" "Tom and Lily"

echo "check-mcu: $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
