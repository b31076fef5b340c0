#!/usr/bin/env python3
"""The filter's .wasm as an OCI image Istio can pull, built without Docker, and its pin.

The image is the "compat" variant of the Wasm image spec that Istio's agent reads
(istio/istio pkg/wasm/imagefetcher.go): one layer, `application/vnd.oci.image.layer.v1.tar+gzip`,
a tar holding `plugin.wasm`, with an OCI image config. It is written as an OCI image layout
directory (`oci-layout`, `index.json`, `blobs/sha256/...`) that `skopeo copy oci:<dir>:<tag>`
pushes as is.

Reproducible: the same .wasm gives the same bytes, hence the same manifest digest (tar entry
with mtime 0, uid/gid 0, no user/group names, mode 0644, USTAR format; gzip with mtime 0,
no file name, level 9; JSON with sorted keys and no whitespace).

  oci-image.py build [--tag T] [--out DIR] WASM   write the layout (default dist/oci); prints the manifest digest
  oci-image.py digest [--tag T] WASM              print the manifest digest, write nothing
  oci-image.py pin [--tag T] [--check] WASM FILE...
                                                  put the digest (and tag) into FILE...: every
                                                  `sha256: "<64 hex>"`, `sha256:<64 hex>` and
                                                  `bindcar-auth-filter:<tag>`; --check only reports

Standard library only. Exit status 1 with a message on stderr for bad input.
"""

import argparse
import io
import re
import sys
import tarfile

from oci_layout import (
    HEX64,
    MT_CONFIG,
    MT_LAYER,
    MT_MANIFEST,
    TAG_RE,
    Refused,
    canonical_json,
    gzip_bytes,
    index_for,
    sha256,
    write_layout,
)

DEFAULT_TAG = "0.1.0"
WASM_MAGIC = b"\x00asm"
WASM_VERSION_1 = b"\x01\x00\x00\x00"


def read_wasm(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise Refused(f"{path}: no such file (run `make wasm`)")
    except OSError as e:
        raise Refused(f"{path}: cannot read: {e.strerror}")
    if not data:
        raise Refused(f"{path}: empty file, not a Wasm module (run `make wasm`)")
    if data[:4] != WASM_MAGIC:
        raise Refused(
            f"{path}: not a Wasm module (starts with {data[:4].hex()}, expected the magic number 0061736d)"
        )
    if data[4:8] != WASM_VERSION_1:
        raise Refused(f"{path}: Wasm binary version {data[4:8].hex()} is not 01000000 (version 1)")
    return data


def layer_tar(wasm):
    """The uncompressed layer: a tar with one regular file, plugin.wasm."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(wasm)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def image(wasm, tag):
    """The image's blobs and index: {digest: bytes}, index bytes, manifest digest."""
    if not TAG_RE.match(tag):
        raise Refused(f"tag {tag!r} is not a valid OCI tag")
    tar = layer_tar(wasm)
    layer = gzip_bytes(tar)
    config = canonical_json(
        {
            # GOOS/GOARCH of a WASI module, as the OCI image spec's platform values go.
            "architecture": "wasm",
            "os": "wasip1",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [
                {
                    "mediaType": MT_LAYER,
                    "digest": sha256(layer),
                    "size": len(layer),
                    "annotations": {"org.opencontainers.image.title": "plugin.wasm"},
                }
            ],
            "annotations": {"module.wasm.image/variant": "compat"},
        }
    )
    digest = sha256(manifest)
    index = index_for(manifest, tag)
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, digest


def pin(files, digest, tag, check):
    hexd = digest.split(":", 1)[1]
    rules = [
        (re.compile(r'(sha256:\s*")' + HEX64 + '(")'), r"\g<1>" + hexd + r"\g<2>"),
        (re.compile(r"(sha256:)" + HEX64), r"\g<1>" + hexd),
        (re.compile(r"(bindcar-auth-filter:)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"), r"\g<1>" + tag),
        (re.compile(r"(oci:dist/oci:)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"), r"\g<1>" + tag),
    ]
    stale = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise Refused(f"{path}: cannot read: {e.strerror}")
        if not re.search(r"sha256:\s*\"?" + HEX64, text):
            raise Refused(f"{path}: quotes no sha256 digest to pin (expected `sha256: \"<64 hex>\"` or `sha256:<64 hex>`)")
        new = text
        for pattern, repl in rules:
            new = pattern.sub(repl, new)
        if new != text:
            stale.append(path)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    return stale


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("build", "digest", "pin"):
        s = sub.add_parser(name)
        s.add_argument("--tag", default=DEFAULT_TAG)
        s.add_argument("wasm")
        if name == "build":
            s.add_argument("--out", default="dist/oci")
        if name == "pin":
            s.add_argument("--check", action="store_true", help="report stale files, change nothing")
            s.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    try:
        wasm = read_wasm(a.wasm)
        blobs, index, digest = image(wasm, a.tag)
        if a.cmd == "build":
            write_layout(a.out, blobs, index)
            size = sum(len(b) for b in blobs.values())
            print(
                f"{a.out}: tag {a.tag}, {len(blobs)} blobs, {size} bytes "
                f"(module {len(wasm)} bytes); push: skopeo copy oci:{a.out}:{a.tag} docker://<registry>/<repo>:{a.tag}",
                file=sys.stderr,
            )
            print(digest)
        elif a.cmd == "digest":
            print(digest)
        else:
            stale = pin(a.files, digest, a.tag, a.check)
            if a.check:
                if stale:
                    print(
                        f"stale pin in {', '.join(stale)}: {a.wasm} gives {digest} (tag {a.tag}); run `make oci-pin`",
                        file=sys.stderr,
                    )
                    return 1
                print(f"pinned {digest} is current in {', '.join(a.files)}", file=sys.stderr)
            else:
                what = f"updated {', '.join(stale)}" if stale else "already current"
                print(f"pinned {digest} (tag {a.tag}): {what}", file=sys.stderr)
            print(digest)
    except Refused as e:
        print(f"oci-image.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
