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

import re
import struct
import sys
import tarfile

from oci_layout import HEX64, Refused, cli, one_layer_image, pin_files, tar_bytes, tar_entry

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


def layer_tar(binary):
    """The uncompressed root filesystem, entries in path order (parents first)."""
    entries = [
        tar_entry("etc", tarfile.DIRTYPE, 0o755),
        tar_entry("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode()),
        tar_entry("etc/nsswitch.conf", tarfile.REGTYPE, 0o644, NSSWITCH.encode()),
        tar_entry("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode()),
        tar_entry("tmp", tarfile.DIRTYPE, 0o1777),
        tar_entry("usr", tarfile.DIRTYPE, 0o755),
        tar_entry("usr/local", tarfile.DIRTYPE, 0o755),
        tar_entry("usr/local/bin", tarfile.DIRTYPE, 0o755),
        tar_entry(ENTRYPOINT.lstrip("/"), tarfile.REGTYPE, 0o755, binary),
    ]
    names = [info.name for info, _ in entries]
    assert names == sorted(names), names
    return tar_bytes(entries)


def image(binary, tag):
    """The image's blobs and index: {digest: bytes}, index bytes, manifest digest."""
    config = {
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
    }
    return one_layer_image(layer_tar(binary), config, tag)


# `image: <registry>/<path>/bindcar[:<tag>][@sha256:<hex>]`, quoted or not.
IMAGE_RE = re.compile(
    r"""(?P<lead>image:\s*["']?)(?P<repo>[A-Za-z0-9][A-Za-z0-9._/:-]*?/bindcar)"""
    r"""(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:""" + HEX64 + r""")?(?P<trail>["']?\s*$)""",
    re.MULTILINE,
)


def pin(files, digest, tag, check):
    def rewrite(path, text):
        if not IMAGE_RE.search(text):
            raise Refused(f"{path}: names no `image: <registry>/.../bindcar` to pin")
        return IMAGE_RE.sub(lambda m: f"{m['lead']}{m['repo']}:{tag}@{digest}{m['trail']}", text)

    return pin_files(files, check, rewrite)


def main(argv):
    return cli(
        argv,
        doc=__doc__,
        prog="oci-backend.py",
        source="binary",
        kind="binary",
        default_out="dist/oci-backend",
        push_repo="<registry>/<repo>/bindcar",
        read=read_binary,
        image=image,
        pin=pin,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
