#!/usr/bin/env python3
"""Canonical text listing of a GGUF file, made with the reference reader `gguf.GGUFReader`
(the `gguf` PyPI package, from llama.cpp's gguf-py).

    python3 models/tests/reference/dump_gguf.py MODEL.gguf [-o LISTING.txt]

models/tests/real_models.rs produces the same listing with emberlm's reader and compares.

Format (one item per line, lines starting with '#' are comments):
    version V / alignment A / data_offset D / metadata N / tensors N
    kv KEY TYPE VALUE
        TYPE: u8 i8 u16 i16 u32 i32 f32 bool string u64 i64 f64, or array[ELEM]
        VALUE: integers in decimal; floats as the hex of their bits (0x%08x f32, 0x%016x f64);
        bools true/false; strings quoted, bytes 0x20-0x7e other than '\\' and '"' as is, the rest
        escaped as \\\\, \\" and \\xNN; arrays of at most 16 elements as [e1, e2, ...], longer ones as
        len=N sha256=H with H the sha256 of the element values joined by '\\n'.
    tensor NAME shape=[ne0, ne1, ...] type=TYPE offset=ABSOLUTE_FILE_OFFSET n_elements=N n_bytes=B
"""
import argparse
import hashlib
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}
INLINE_MAX = 16


def fmt_string(b: bytes) -> str:
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x22:
            out.append('\\"')
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return '"' + "".join(out) + '"'


def fmt_scalar(t: GGUFValueType, part) -> str:
    if t == GGUFValueType.STRING:
        return fmt_string(bytes(part))
    if t == GGUFValueType.FLOAT32:
        return "0x%08x" % int(part.view(np.uint32)[0])
    if t == GGUFValueType.FLOAT64:
        return "0x%016x" % int(part.view(np.uint64)[0])
    if t == GGUFValueType.BOOL:
        return "true" if bool(part[0]) else "false"
    return str(int(part[0]))


def listing(path: str) -> list[str]:
    r = GGUFReader(path)
    fields = [(k, f) for k, f in r.fields.items() if not k.startswith("GGUF.")]
    version = int(r.fields["GGUF.version"].parts[0][0])
    lines = [f"version {version}", f"alignment {int(r.alignment)}", f"data_offset {r.data_offset}",
             f"metadata {len(fields)}", f"tensors {len(r.tensors)}"]
    for key, f in fields:
        t = f.types[0]
        if t == GGUFValueType.ARRAY:
            if len(f.types) > 2:
                raise SystemExit(f"{key}: nested arrays are not part of the listing format")
            elem = f.types[1] if len(f.types) > 1 else None
            if elem is None:  # empty array: gguf-py drops the element type
                raise SystemExit(f"{key}: empty arrays are not part of the listing format")
            items = [fmt_scalar(elem, f.parts[i]) for i in f.data]
            if len(items) <= INLINE_MAX:
                value = "[" + ", ".join(items) + "]"
            else:
                h = hashlib.sha256("\n".join(items).encode()).hexdigest()
                value = f"len={len(items)} sha256={h}"
            lines.append(f"kv {key} array[{TYPE_NAMES[elem]}] {value}")
        else:
            lines.append(f"kv {key} {TYPE_NAMES[t]} {fmt_scalar(t, f.parts[f.data[0]])}")
    for t in r.tensors:
        shape = ", ".join(str(int(d)) for d in t.shape)
        lines.append(f"tensor {t.name} shape=[{shape}] type={t.tensor_type.name} offset={t.data_offset} "
                     f"n_elements={int(t.n_elements)} n_bytes={int(t.n_bytes)}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("-o", "--out", help="write the listing here instead of stdout")
    args = ap.parse_args()
    lines = listing(args.model)
    cmd = f"python3 models/tests/reference/dump_gguf.py \"$EMBERLM_MODELS/{os.path.basename(args.model)}\""
    if args.out:
        cmd += f" -o {args.out}"
    text = f"# {cmd}\n# gguf-py reader (pip package gguf), do not edit\n" + "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
