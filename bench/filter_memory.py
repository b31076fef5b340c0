#!/usr/bin/env python3
"""Where Envoy's memory goes with a Wasm module loaded (issue 23, "Memory of the filter").

    .venv/bin/python bench/filter_memory.py [--rounds N] [--workers 1,4] [--only a,b]
        [--ours PATH] [--noop PATH] [--requests N] [--settle S] [--release] [--zones]
        [--json OUT]

One Envoy at a time, per variant and worker count: started, given `--requests` requests on
one connection (default 200, a token our basic mode allows; the tokenReview variants' API
server is unreachable, so theirs are refused), left `--settle` seconds, measured, and killed
by its PID. Every request is answered by a `direct_response` (no upstream). Variants are
interleaved over the rounds; figures are medians, in KiB:

- rss:      VmRSS
- anon:     anonymous resident memory (malloc's heap, V8's code, linear memories, stacks)
- file:     resident file-backed memory (Envoy's binary: V8's own code pages in once any
            module is loaded)
- v8_code:  resident executable anonymous memory (the Wasm code V8 compiled)
- wasm_mem: resident memory of the Wasm linear memories (each mapped as its accessible pages
            followed by the rest of a reservation of several GiB)
- malloc:   bytes allocated and live, tcmalloc's count (Envoy's `/memory` admin endpoint)
- heap:     tcmalloc's heap (live + free pages it keeps), same endpoint
- tcache:   tcmalloc's per-thread caches (freed memory kept for the thread that freed it)

`--release` adds Envoy's `memory_allocator_manager` (free pages handed back every 100 ms).
`--zones` also compiles each module in Node's V8 (`--no-liftoff`, eagerly, as Envoy's V8 is
configured) and sums what TurboFan's zones allocated per function: how much memory the
compile of a module passes through, which Envoy's allocator keeps afterwards.
bench/README.md ("Reading the figures") reports what this found.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVOY = Path(os.environ.get("ENVOY_BIN", ROOT / ".venv" / "bin" / "envoy"))
TOKEN = "a" * 40
HEADERS = {"user": "x-remote-user", "groups": "x-remote-group"}


def tokenreview(**extra):
    tr = {
        "audiences": ["bindcar"],
        "allowedNamespaces": ["dns"],
        "reviewerToken": "reviewer",
    }
    tr.update(extra)
    return {"mode": "tokenReview", "identityHeaders": HEADERS, "tokenReview": tr}


BASIC = {"mode": "basic", "identityHeaders": HEADERS}

# (id, module: None / "noop" / "ours", plugin configuration)
VARIANTS = [
    ("bare", None, None),
    ("noop", "noop", {}),
    ("basic", "ours", BASIC),
    ("tr", "ours", tokenreview()),
    ("tr_cache16", "ours", tokenreview(cacheMaxEntries=16)),
    ("basic_throttle", "ours", {**BASIC, "throttle": {}}),
    ("basic_throttle_16", "ours", {**BASIC, "throttle": {"maxClients": 16}}),
    ("tr_throttle", "ours", {**tokenreview(), "throttle": {}}),
    # Two VMs in one chain: does a second module cost what the first did?
    ("noop_x2", ["noop", "noop"], {}),
    ("basic_x2", ["ours", "ours"], BASIC),
    ("noop_then_basic", ["noop", "ours"], BASIC),
    # The same modules with one custom section more: other bytes, so V8 compiles them again.
    ("noop_and_copy", ["noop", "noop_copy"], {}),
    ("basic_and_copy", ["ours", "ours_copy"], BASIC),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bootstrap(module, config, port, admin, release=False):
    # Envoy's own knob: hand tcmalloc's free pages back to the system every 100 ms.
    top = ("memory_allocator_manager: {bytes_to_release: 1073741824, "
           "memory_release_interval: 0.1s}\n" if release else "")
    # `module` may list several (path, configuration) pairs: one VM each, in one chain.
    stack = [] if module is None else module if isinstance(module, list) else [(module, config)]
    wasm = ""
    for i, (path, cfg) in enumerate(stack):
        wasm += f"""
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: bindcar_auth{i}
                root_id: bindcar_auth
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {json.dumps(json.dumps(cfg))}
                fail_open: false
                vm_config:
                  vm_id: bindcar_auth{i}
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {json.dumps(str(path))}}}}}"""
    return top + f"""node: {{id: mem, cluster: mem}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "{{}}"}}}}
          http_filters:{wasm}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
  - name: kubernetes
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: kubernetes
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: 9}}}}}}}}]}}]
"""


def get(port, path, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r.status, body


def wait_ready(proc, admin, port, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"envoy exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if get(admin, "/ready")[0] == 200:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("envoy not ready in 30 s")


def smaps(pid):
    """Resident KiB by kind: anonymous, file-backed, executable anonymous, linear memories."""
    out = {"anon": 0, "file": 0, "v8_code": 0, "wasm_mem": 0}
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$")
    maps = []  # (start, end, perms, anonymous, rss KiB)
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                anon = int(m.group(4)) == 0 and not m.group(5).startswith("/")
                maps.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3), anon, 0])
            elif line.startswith("Rss:") and maps:
                maps[-1][4] = int(line.split()[1])
    for i, (lo, hi, perms, anon, kib) in enumerate(maps):
        out["anon" if anon else "file"] += kib
        if anon and "x" in perms:
            out["v8_code"] += kib
        # A Wasm linear memory: its accessible pages, then the rest of V8's reservation
        # (at least 1 GiB, inaccessible) right after it.
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        if anon and perms.startswith("rw") and nxt and nxt[0] == hi and nxt[2].startswith("---") \
                and nxt[1] - nxt[0] >= 1 << 30:
            out["wasm_mem"] += kib
    return out


def measure(module, config, workers, release=False, requests=200, settle=0.3):
    port, admin = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg, log = Path(d) / "envoy.yaml", Path(d) / "envoy.log"
        cfg.write_text(bootstrap(module, config, port, admin, release))
        proc = subprocess.Popen(
            [str(ENVOY), "-c", str(cfg), "--use-dynamic-base-id", "-l", "warning",
             "--concurrency", str(workers), "--log-path", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(proc, admin, port, log)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            status = None
            for _ in range(requests):
                status, _ = get(port, "/api/v1/zones", {"authorization": f"Bearer {TOKEN}"}, conn)
            conn.close()
            time.sleep(settle)
            with open(f"/proc/{proc.pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            row = {"rss": rss, **smaps(proc.pid)}
            mem = json.loads(get(admin, "/memory")[1])
            row["malloc"] = int(mem.get("allocated", 0)) // 1024
            row["heap"] = int(mem.get("heap_size", 0)) // 1024
            row["tcache"] = int(mem.get("total_thread_cache", 0)) // 1024
            row["status"] = status
            return row
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def zones(module):
    """Compiles `module` in Node's V8 with TurboFan only, eagerly, one thread; sums what each
    function's compile allocated in TurboFan's zones (V8's `--trace-wasm-compilation-times`)."""
    script = "new WebAssembly.Module(require('fs').readFileSync(process.argv[1]))"
    try:
        r = subprocess.run(
            ["node", "--no-liftoff", "--no-wasm-lazy-compilation", "--single-threaded",
             "--trace-wasm-compilation-times", "-e", script, str(module)],
            capture_output=True, text=True, timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    line = re.compile(r"using TurboFan.* (\d+) / (\d+) max/total bytes; bodysize (\d+) codesize (\d+)")
    fns = [tuple(map(int, m.groups())) for m in map(line.search, r.stdout.splitlines()) if m]
    if not fns:
        return {"error": (r.stderr or r.stdout)[-300:] or "no compile traced"}
    peaks = sorted((f[0] for f in fns), reverse=True)
    return {
        "functions": len(fns),
        "wasm_code_kib": sum(f[2] for f in fns) // 1024,
        "machine_code_kib": sum(f[3] for f in fns) // 1024,
        "zone_total_mib": round(sum(f[1] for f in fns) / 2**20, 1),
        "zone_peak_largest_mib": [round(p / 2**20, 1) for p in peaks[:4]],
    }


def copy(module, into):
    """`module` with an empty custom section appended: the same code in other bytes."""
    out = Path(into) / f"copy-{module.name}"
    out.write_bytes(module.read_bytes() + bytes([0, 3, 1]) + b"xy")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--only", default="")
    ap.add_argument("--ours", default=str(ROOT / "dist" / "bindcar_auth_filter.wasm"))
    ap.add_argument("--noop", default=str(ROOT / "dist" / "bindcar_noop_filter.wasm"))
    ap.add_argument("--json", help="also write the medians here")
    ap.add_argument("--zones", action="store_true", help="TurboFan's zone memory per module (Node)")
    ap.add_argument("--requests", type=int, default=200, help="requests before measuring")
    ap.add_argument("--settle", type=float, default=0.3, help="seconds between load and measure")
    ap.add_argument("--release", action="store_true",
                    help="Envoy returns tcmalloc's free memory to the system (memory_allocator_manager)")
    a = ap.parse_args()
    paths = {"ours": Path(a.ours).resolve(), "noop": Path(a.noop).resolve()}
    copies = tempfile.TemporaryDirectory()

    def modules(m, config):
        if isinstance(m, list):
            return [(copy(paths[x[:-5]], copies.name) if x.endswith("_copy") else paths[x],
                     config if x.startswith("ours") else {}) for x in m]
        return paths.get(m)

    only = set(filter(None, a.only.split(",")))
    workers = [int(w) for w in a.workers.split(",")]
    variants = [v for v in VARIANTS if not only or v[0] in only]
    rows = {}
    for _ in range(a.rounds):  # variants interleaved, one Envoy at a time
        for vid, module, config in variants:
            for w in workers:
                row = measure(modules(module, config), config, w, a.release, a.requests, a.settle)
                rows.setdefault((vid, w), []).append(row)
    keys = ["rss", "anon", "file", "v8_code", "wasm_mem", "malloc", "heap", "tcache"]
    print(f"{'variant':<18}{'w':>2} " + "".join(f"{k:>9}" for k in keys) + "  status")
    out = {}
    for (vid, w), rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in keys}
        out[f"{vid}@{w}"] = med
        print(f"{vid:<18}{w:>2} " + "".join(f"{med[k]:>9.0f}" for k in keys)
              + f"  {rs[-1]['status']}")
    if a.zones:
        for name, path in paths.items():
            z = zones(path)
            out[f"zones:{name}"] = z
            print(f"TurboFan in Node's V8, {name}: {z}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    copies.cleanup()


if __name__ == "__main__":
    main()
