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

import re
import sys
import tarfile

from oci_layout import HEX64, Refused, cli, one_layer_image, pin_files, tar_bytes, tar_entry

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


def image(wasm, tag):
    """The image's blobs and index: {digest: bytes}, index bytes, manifest digest."""
    return one_layer_image(
        tar_bytes([tar_entry("plugin.wasm", tarfile.REGTYPE, 0o644, wasm)]),
        # GOOS/GOARCH of a WASI module, as the OCI image spec's platform values go.
        {"architecture": "wasm", "os": "wasip1", "config": {}},
        tag,
        layer_annotations={"org.opencontainers.image.title": "plugin.wasm"},
        annotations={"module.wasm.image/variant": "compat"},
    )


def pin(files, digest, tag, check):
    hexd = digest.split(":", 1)[1]
    rules = [
        (re.compile(r'(sha256:\s*")' + HEX64 + '(")'), r"\g<1>" + hexd + r"\g<2>"),
        (re.compile(r"(sha256:)" + HEX64), r"\g<1>" + hexd),
        (re.compile(r"(bindcar-auth-filter:)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"), r"\g<1>" + tag),
        (re.compile(r"(oci:dist/oci:)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"), r"\g<1>" + tag),
    ]

    def rewrite(path, text):
        if not re.search(r"sha256:\s*\"?" + HEX64, text):
            raise Refused(f"{path}: quotes no sha256 digest to pin (expected `sha256: \"<64 hex>\"` or `sha256:<64 hex>`)")
        for pattern, repl in rules:
            text = pattern.sub(repl, text)
        return text

    return pin_files(files, check, rewrite)


def main(argv):
    return cli(
        argv,
        doc=__doc__,
        prog="oci-image.py",
        source="wasm",
        kind="module",
        default_out="dist/oci",
        push_repo="<registry>/<repo>",
        read=read_wasm,
        image=image,
        pin=pin,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
