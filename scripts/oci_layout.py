"""What the two image builders share (oci-image.py: the filter's Wasm image; oci-backend.py:
the backend's image): media types, canonical JSON, gzip without a time or a name, the index
of a one-image layout and writing the layout. Standard library only.

Every function here gives the same bytes for the same input: no clock, no file name, no
machine-dependent ordering.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
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
