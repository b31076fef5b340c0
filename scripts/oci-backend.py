#!/usr/bin/env python3
"""The backend as an OCI image, built without Docker, and its pin in the Deployment.

The root filesystem is the `bindcar` binary, statically linked (glibc, `-C
target-feature=+crt-static`; `make oci` builds it), and the few files a process of a
non-root user needs: /etc/passwd and /etc/group naming uid/gid 10053 (`bindcar`, the
Deployment's runAsUser), /etc/nsswitch.conf (host names from /etc/hosts, then DNS: static
glibc resolves both without loading a library), an empty /tmp (1777). No shell, no libc, no
package manager: nothing in the image but what the binary uses. The container runtime mounts
/etc/hosts and /etc/resolv.conf; CA certificates are not needed (the Kubernetes client trusts
the cluster CA from the ServiceAccount mount or KUBE_CA_CERT_PATH).

One layer (`tar+gzip`), an OCI image config (entrypoint the binary, user 10053:10053, port
8080, no creation time, no history), written as an OCI image layout (`oci-layout`,
`index.json`, `blobs/sha256/...`) that `skopeo copy oci:<dir>:<tag> docker://...` pushes as is.

Reproducible: the same binary gives the same bytes, hence the same manifest digest (entries
sorted, mtime 0, uid/gid 0, no owner names, USTAR; gzip with mtime 0, no file name, level 9;
canonical JSON). The binary itself is reproducible for the same source, toolchain and
libc6-dev (the `image` profile strips it, so no path of the build machine is in it).

  oci-backend.py build [--tag T] [--out DIR] BINARY   write the layout (default dist/oci-backend);
                                                      prints the manifest digest
  oci-backend.py digest [--tag T] BINARY              print the manifest digest, write nothing
  oci-backend.py pin [--tag T] [--check] BINARY FILE...
                                                      put `<repo>/bindcar:<tag>@sha256:<digest>`
                                                      into every `image: .../bindcar...` of FILE...;
                                                      --check only reports

Standard library only. Exit status 1 with a message on stderr for bad input.
"""

import argparse
import io
import re
import struct
import sys
import tarfile

from oci_layout import (
    HEX64,
    MT_CONFIG,
    MT_LAYER,
    MT_MANIFEST,
    Refused,
    canonical_json,
    gzip_bytes,
    index_for,
    sha256,
    write_layout,
)

DEFAULT_TAG = "0.1.0"
ENTRYPOINT = "/usr/local/bin/bindcar"
# The Deployment's runAsUser/runAsGroup (envoy/kubernetes/deployment.yaml); named's pod user.
UID = GID = 10053
API_PORT = 8080

PASSWD = f"root:x:0:0:root:/root:/sbin/nologin\nbindcar:x:{UID}:{GID}:bindcar:/nonexistent:/sbin/nologin\n"
GROUP = f"root:x:0:\nbindcar:x:{GID}:\n"
NSSWITCH = "hosts: files dns\n"

ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 0x3E
PT_INTERP = 3
PT_DYNAMIC = 2


def read_binary(path):
    """The binary's bytes, if it is a static x86-64 ELF executable (nothing to load at start)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise Refused(f"{path}: no such file (run `make oci`, which builds it)")
    except OSError as e:
        raise Refused(f"{path}: cannot read: {e.strerror}")
    if data[:4] != ELF_MAGIC:
        raise Refused(f"{path}: not an ELF executable")
    if data[4] != 2 or data[5] != 1:
        raise Refused(f"{path}: not a 64-bit little-endian ELF")
    (e_machine,) = struct.unpack_from("<H", data, 18)
    if e_machine != EM_X86_64:
        raise Refused(f"{path}: machine {e_machine:#x} is not x86-64")
    (e_phoff,) = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    for i in range(e_phnum):
        (p_type,) = struct.unpack_from("<I", data, e_phoff + i * e_phentsize)
        if p_type == PT_INTERP:
            raise Refused(
                f"{path}: dynamically linked (it names a program interpreter), so the image's "
                "root filesystem would lack its libraries; build it with "
                "RUSTFLAGS='-C target-feature=+crt-static' (`make oci` does)"
            )
    return data


def entry(name, kind, mode, data=b""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, data


def layer_tar(binary):
    """The uncompressed root filesystem, entries in path order (parents first)."""
    entries = [
        entry("etc", tarfile.DIRTYPE, 0o755),
        entry("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode()),
        entry("etc/nsswitch.conf", tarfile.REGTYPE, 0o644, NSSWITCH.encode()),
        entry("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode()),
        entry("tmp", tarfile.DIRTYPE, 0o1777),
        entry("usr", tarfile.DIRTYPE, 0o755),
        entry("usr/local", tarfile.DIRTYPE, 0o755),
        entry("usr/local/bin", tarfile.DIRTYPE, 0o755),
        entry(ENTRYPOINT.lstrip("/"), tarfile.REGTYPE, 0o755, binary),
    ]
    names = [info.name for info, _ in entries]
    assert names == sorted(names), names
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def image(binary, tag):
    """The image's blobs and index: {digest: bytes}, index bytes, manifest digest."""
    tar = layer_tar(binary)
    layer = gzip_bytes(tar)
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "User": f"{UID}:{GID}",
                "Entrypoint": [ENTRYPOINT],
                "Env": ["PATH=/usr/local/bin"],
                "WorkingDir": "/",
                "ExposedPorts": {f"{API_PORT}/tcp": {}},
                "Labels": {
                    "org.opencontainers.image.title": "bindcar",
                    "org.opencontainers.image.version": tag,
                    "org.opencontainers.image.description": "HTTP API for BIND9 zones over rndc, compatible with bindcar",
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": MT_LAYER, "digest": sha256(layer), "size": len(layer)}],
        }
    )
    index = index_for(manifest, tag)
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, sha256(manifest)


# `image: <registry>/<path>/bindcar[:<tag>][@sha256:<hex>]`, quoted or not.
IMAGE_RE = re.compile(
    r"""(?P<lead>image:\s*["']?)(?P<repo>[A-Za-z0-9][A-Za-z0-9._/:-]*?/bindcar)"""
    r"""(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:""" + HEX64 + r""")?(?P<trail>["']?\s*$)""",
    re.MULTILINE,
)


def pin(files, digest, tag, check):
    stale = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise Refused(f"{path}: cannot read: {e.strerror}")
        if not IMAGE_RE.search(text):
            raise Refused(f"{path}: names no `image: <registry>/.../bindcar` to pin")
        new = IMAGE_RE.sub(lambda m: f"{m['lead']}{m['repo']}:{tag}@{digest}{m['trail']}", text)
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
        s.add_argument("binary")
        if name == "build":
            s.add_argument("--out", default="dist/oci-backend")
        if name == "pin":
            s.add_argument("--check", action="store_true", help="report stale files, change nothing")
            s.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    try:
        binary = read_binary(a.binary)
        blobs, index, digest = image(binary, a.tag)
        if a.cmd == "build":
            write_layout(a.out, blobs, index)
            size = sum(len(b) for b in blobs.values())
            print(
                f"{a.out}: tag {a.tag}, {len(blobs)} blobs, {size} bytes (binary {len(binary)} bytes); "
                f"push: skopeo copy oci:{a.out}:{a.tag} docker://<registry>/<repo>/bindcar:{a.tag}",
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
                        f"stale pin in {', '.join(stale)}: {a.binary} gives {digest} (tag {a.tag}); run `make oci-pin`",
                        file=sys.stderr,
                    )
                    return 1
                print(f"pinned {digest} is current in {', '.join(a.files)}", file=sys.stderr)
            else:
                what = f"updated {', '.join(stale)}" if stale else "already current"
                print(f"pinned {digest} (tag {a.tag}): {what}", file=sys.stderr)
            print(digest)
    except Refused as e:
        print(f"oci-backend.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
