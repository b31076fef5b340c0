"""What the two image builders share (oci-image.py: the filter's Wasm image; oci-backend.py:
the backend's image): media types, canonical JSON, tar entries and gzip without a time, an
owner or a name, a one-layer image and its layout, rewriting pinned files, and the
build/digest/pin command line. Each builder supplies only what differs: how its input is read
and checked, its layer's files and config, and what its pin looks like. Standard library only.

Every function here gives the same bytes for the same input: no clock, no file name, no
machine-dependent ordering.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
HEX64 = "[0-9a-f]{64}"


class Refused(Exception):
    pass


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gzip_bytes(data):
    buf = io.BytesIO()
    # filename="" and mtime=0: no name, no time in the gzip header.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def tar_entry(name, kind, mode, data=b""):
    """One tar entry (header, content) owned by 0:0 with no owner names and mtime 0."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, data


def tar_bytes(entries):
    """A USTAR archive of `entries` ((header, content) pairs from tar_entry), in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def one_layer_image(tar, config, tag, layer_annotations=None, annotations=None):
    """The blobs ({digest: bytes}), index bytes and manifest digest of an image whose one
    layer is `tar` (gzipped here) and whose config is `config` plus the layer's diff_id."""
    layer = gzip_bytes(tar)
    config = canonical_json({**config, "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]}})
    layer_descriptor = {"mediaType": MT_LAYER, "digest": sha256(layer), "size": len(layer)}
    if layer_annotations:
        layer_descriptor["annotations"] = layer_annotations
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [layer_descriptor],
    }
    if annotations:
        manifest["annotations"] = annotations
    manifest = canonical_json(manifest)
    index = index_for(manifest, tag)
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, sha256(manifest)


def index_for(manifest, tag):
    """index.json of a layout holding one image, `manifest` (bytes), tagged `tag`."""
    if not TAG_RE.match(tag):
        raise Refused(f"tag {tag!r} is not a valid OCI tag")
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_INDEX,
            "manifests": [
                {
                    "mediaType": MT_MANIFEST,
                    "digest": sha256(manifest),
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                }
            ],
        }
    )


def write_layout(out, blobs, index):
    """Writes the layout next to `out` and swaps it in; an existing `out` must be a layout."""
    out = os.path.normpath(out)
    if os.path.exists(out) and not (
        os.path.isfile(os.path.join(out, "oci-layout")) or (os.path.isdir(out) and not os.listdir(out))
    ):
        raise Refused(f"{out} exists and is not an OCI image layout; not overwriting it")
    parent = os.path.dirname(out) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".oci-", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "blobs", "sha256"))
        with open(os.path.join(tmp, "oci-layout"), "wb") as f:
            f.write(canonical_json({"imageLayoutVersion": "1.0.0"}))
        with open(os.path.join(tmp, "index.json"), "wb") as f:
            f.write(index)
        for digest in sorted(blobs):
            with open(os.path.join(tmp, "blobs", "sha256", digest.split(":", 1)[1]), "wb") as f:
                f.write(blobs[digest])
        os.chmod(tmp, 0o755)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def pin_files(files, check, rewrite):
    """Puts the pin into each of `files` with `rewrite(path, text)` (new text; it refuses a file
    with nothing to pin); returns the files that were stale. With `check`, writes nothing."""
    stale = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise Refused(f"{path}: cannot read: {e.strerror}")
        new = rewrite(path, text)
        if new != text:
            stale.append(path)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    return stale


def cli(argv, *, doc, prog, source, kind, default_out, push_repo, read, image, pin, default_tag="0.1.0"):
    """The command line both builders share: `build`, `digest` and `pin` (see either script's
    docstring). `source` names the input argument, `kind` what it is in the build summary,
    `push_repo` the registry path the summary's skopeo hint names; `read(path)` gives the
    checked input bytes, `image(data, tag)` the blobs, index and manifest digest,
    `pin(files, digest, tag, check)` the stale files. Returns the exit status."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("build", "digest", "pin"):
        s = sub.add_parser(name)
        s.add_argument("--tag", default=default_tag)
        s.add_argument(source)
        if name == "build":
            s.add_argument("--out", default=default_out)
        if name == "pin":
            s.add_argument("--check", action="store_true", help="report stale files, change nothing")
            s.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    path = getattr(a, source)
    try:
        data = read(path)
        blobs, index, digest = image(data, a.tag)
        if a.cmd == "build":
            write_layout(a.out, blobs, index)
            size = sum(len(b) for b in blobs.values())
            print(
                f"{a.out}: tag {a.tag}, {len(blobs)} blobs, {size} bytes ({kind} {len(data)} bytes); "
                f"push: skopeo copy oci:{a.out}:{a.tag} docker://{push_repo}:{a.tag}",
                file=sys.stderr,
            )
        elif a.cmd == "pin":
            stale = pin(a.files, digest, a.tag, a.check)
            if a.check:
                if stale:
                    print(
                        f"stale pin in {', '.join(stale)}: {path} gives {digest} (tag {a.tag}); run `make oci-pin`",
                        file=sys.stderr,
                    )
                    return 1
                print(f"pinned {digest} is current in {', '.join(a.files)}", file=sys.stderr)
            else:
                what = f"updated {', '.join(stale)}" if stale else "already current"
                print(f"pinned {digest} (tag {a.tag}): {what}", file=sys.stderr)
        print(digest)
    except Refused as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    return 0
