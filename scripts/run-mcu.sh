#!/usr/bin/env bash
# Build and run the emberlm firmware for one QEMU board, printing the story and the closing
# `stats: flash=BYTES ram_peak=BYTES tokens=N` line.
#
#   scripts/run-mcu.sh BOARD [PROMPT]         BOARD = an386 | an547 | rv32
#   MCU_MODE=chat scripts/run-mcu.sh an386    serial chat on UART0: prompt lines on stdin,
#                                             an empty line ends
#   MCU_DEFMT=1 scripts/run-mcu.sh BOARD      the `defmt` build: the console is defmt frames,
#                                             decoded with defmt-print (cargo install defmt-print)
#
# stories260K is converted to a Q8_0 GGUF with the host CLI into $CARGO_TARGET_DIR/mcu/ and
# embedded in the firmware's flash (include_bytes! of $EMBERLM_MCU_MODEL).
# Env: CARGO_TARGET_DIR (host build, default ./target), EMBERLM_STORIES260K (the llama2.c files,
# default ../shared/models/stories260K), QEMU_TIMEOUT (seconds, default 300).
# Exit status: the firmware's (0 ok, 2 error, 3 allocation or stack check failed, 101 panic),
# 124 on timeout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
board="${1:?usage: scripts/run-mcu.sh an386|an547|rv32 [PROMPT]}"
prompt="${2:-Once upon a time}"
mode="${MCU_MODE:-story}"
td="${CARGO_TARGET_DIR:-$root/target}"
stories="${EMBERLM_STORIES260K:-$root/../shared/models/stories260K}"
timeout_s="${QEMU_TIMEOUT:-300}"

case "$board" in
  an386) triple=thumbv7em-none-eabihf;     qemu=(qemu-system-arm -machine mps2-an386) ;;
  an547) triple=thumbv8m.main-none-eabihf; qemu=(qemu-system-arm -machine mps3-an547) ;;
  rv32)  triple=riscv32imac-unknown-none-elf; qemu=(qemu-system-riscv32 -machine virt -m 128M -bios none) ;;
  *) echo "run-mcu.sh: unknown board '$board' (an386, an547 or rv32)" >&2; exit 2 ;;
esac
if [ "$mode" = chat ] && [ "$board" != an386 ]; then
  echo "run-mcu.sh: the serial chat runs on an386" >&2; exit 2
fi

# 1. The model: stories260K as Q8_0 GGUF, converted by the host CLI.
gguf="$td/mcu/stories260K-q8_0.gguf"
if [ ! -s "$gguf" ] || [ "$stories/stories260K.bin" -nt "$gguf" ]; then
  mkdir -p "$td/mcu"
  (cd "$root" && CARGO_TARGET_DIR="$td" cargo build --release -q -p emberlm-cli) >&2
  "$td/release/emberlm" convert llama2c --model "$stories/stories260K.bin" \
    --tokenizer "$stories/tok512.bin" -o "$gguf" --type q8_0 >&2
fi

# 2. The firmware (its own crate, target and target dir).
fwdir="$root/targets/mcu/$board"
# CARGO_TARGET_DIR is the host's: the firmware builds into its own crate's target/.
if [ "${MCU_DEFMT:-0}" = 1 ]; then
  command -v defmt-print >/dev/null || { echo "run-mcu.sh: MCU_DEFMT=1 needs defmt-print (cargo install defmt-print --locked)" >&2; exit 2; }
  fwtarget="$fwdir/target/defmt"; features=(--no-default-features --features defmt)
else
  fwtarget="$fwdir/target"; features=()
fi
(cd "$fwdir" && env -u CARGO_TARGET_DIR EMBERLM_MCU_MODEL="$gguf" \
  cargo build --release -q --locked --target-dir "$fwtarget" "${features[@]}") >&2
elf="$fwtarget/$triple/release/emberlm-fw-$board"

# 3. QEMU. Semihosting arguments are comma-separated: a comma in the prompt is written twice.
if [ "$mode" = chat ]; then
  args="arg=chat"; serial=(-serial stdio)
else
  args="arg=story,arg=${prompt//,/,,}"; serial=(-serial none)
fi
run=(timeout "$timeout_s" "${qemu[@]}" -nographic -monitor none "${serial[@]}"
  -semihosting-config "enable=on,target=native,$args" -kernel "$elf")
if [ "${MCU_DEFMT:-0}" = 1 ]; then
  # The frames are on QEMU's stdout; the firmware's exit status is kept.
  "${run[@]}" | defmt-print -e "$elf" --log-format "{s}" stdin
  exit "${PIPESTATUS[0]}"
fi
exec "${run[@]}"
