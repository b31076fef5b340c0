#!/usr/bin/env python3
"""Removes the proxy-wasm callbacks a filter does not use from a module's exports.

Envoy (proxy-wasm-cpp-host) calls a callback only if the module exports it; the Rust SDK
exports every one, so each request would enter the VM for its response headers and body,
log and done too, all of which the filter leaves at their defaults. A callback that is not
exported is one VM entry less per request (measured in `make bench`, issue 13). Only the
export entries go; the functions stay (unreferenced), so nothing else in the module moves.

Usage: wasm-exports.py <in.wasm> <out.wasm> <export name to drop>...
Fails (exit 1) if a name to drop is not exported, so a renamed SDK export is noticed.
"""
import sys


def leb(data, i):
    """Unsigned LEB128 at data[i]: (value, next index)."""
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def enc(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def strip(module, drop):
    if module[:8] != b"\0asm\x01\0\0\0":
        raise SystemExit("not a wasm module (version 1)")
    out = bytearray(module[:8])
    i = 8
    dropped = set()
    while i < len(module):
        section_id = module[i]
        size, body = leb(module, i + 1)
        end = body + size
        if section_id == 7:  # exports: vec(name, kind byte, index)
            count, j = leb(module, body)
            kept = []
            for _ in range(count):
                name_len, k = leb(module, j)
                name = module[k : k + name_len].decode()
                _, after = leb(module, k + name_len + 1)
                if name in drop:
                    dropped.add(name)
                else:
                    kept.append(module[j:after])
                j = after
            content = enc(len(kept)) + b"".join(kept)
            out += bytes([7]) + enc(len(content)) + content
        else:
            out += module[i:end]
        i = end
    missing = set(drop) - dropped
    if missing:
        raise SystemExit(f"not exported: {', '.join(sorted(missing))}")
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(src, "rb") as f:
        module = f.read()
    stripped = strip(module, set(names))
    with open(dst, "wb") as f:
        f.write(stripped)
