#!/usr/bin/env python3
"""The figures the READMEs quote, generated from bench/results/latest.json (the last full
`make bench`), never typed by hand.

    python3 bench/claims.py --write    # rewrite every marked block from latest.json
    python3 bench/claims.py --check    # fail (exit 1, with a diff) if a block disagrees

A block sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in README.md and
filter/README.md (every other mention of the module's size links there); the prose around it
is free. NAME is
`performance` (the top-level README's Performance figures: every goal with its measured value
and met / missed) or `wasm-size` (the filter module's size, inline). `make bench` writes the
blocks after a full run; `make test` runs the check, which also refuses a module size quoted
outside a block. Standard library only: the check runs before anything is installed.
"""

import difflib
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JSON_IN = ROOT / "bench" / "results" / "latest.json"
# Which blocks each file must hold.
FILES = {
    "README.md": ("performance",),
    "filter/README.md": ("wasm-size",),
}
BLOCK = re.compile(r"<!-- bench:([a-z0-9-]+) -->(.*?)<!-- /bench:\1 -->", re.S)
# A module-size quote (three digits and KB/KiB) outside a block: the old, hand-copied kind.
STRAY_SIZE = re.compile(r"\b\d{3}(?:[.,]\d+)?\s?(?:KB|KiB|kB)\b")


# --- formatting ---------------------------------------------------------------------------


def num(x):
    return x if isinstance(x, (int, float)) and x == x else None


def f(x, digits=2):
    x = num(x)
    return "n/a" if x is None else f"{x:,.{digits}f}"


def med(r):
    """The median of a `{median, min, max}` range, or the number itself."""
    return r.get("median") if isinstance(r, dict) else r


def rng(r, digits=2, unit=""):
    """`1.03× (1.02–1.08)` from a `{median, min, max}` range."""
    if not isinstance(r, dict) or num(r.get("median")) is None:
        return "n/a"
    lo, hi = num(r.get("min")), num(r.get("max"))
    if lo is None or hi is None or lo == hi:
        return f"{f(r['median'], digits)}{unit}"
    return f"{f(r['median'], digits)}{unit} ({f(lo, digits)}–{f(hi, digits)})"


def mib(kib):
    return "n/a" if num(kib) is None else f"{kib / 1024:.1f} MiB"


def wasm_bytes(d):
    fp = d.get("footprint") or {}
    return fp.get("wasm_bytes") or ((d.get("filter_cpu") or {}).get("wasm_bytes") or {}).get("filter")


# --- the blocks ---------------------------------------------------------------------------


def wasm_size(d):
    b = wasm_bytes(d)
    return "n/a" if b is None else f"{b / 1024:.0f} KiB"


def goals_table(d):
    out = ["| Goal | Target | Measured | |", "|---|---|---|---|"]
    for t in d.get("targets") or []:
        op = {">=": "≥", "<=": "≤", "<": "<"}.get(t["op"], t["op"])
        unit = t.get("unit", "")
        sep = "" if unit in ("", "×") else " "
        digits = 0 if abs(t["goal"]) >= 1000 else 2
        value = "n/a" if num(t.get("value")) is None else f"{f(t['value'], digits)}{sep}{unit}"
        out.append(f"| {t['target']} | {op} {t['goal']:,g}{sep}{unit} | {value} | "
                   f"{'met' if t['met'] else '**missed**'} |")
    met = sum(1 for t in d.get("targets") or [] if t["met"])
    total = len(d.get("targets") or [])
    return [f"**Goals**: {met} of {total} met in this run.", ""] + out + [""]


def filter_cpu_section(d):
    c = d.get("filter_cpu")
    if not c:
        return []
    out = []
    w = out.append
    tokens = c.get("token_bytes") or {}
    how = c.get("cpu_figure", "Envoy's CPU time (all threads)")
    w(f"**What the filter costs Envoy**: one worker, `direct_response` (no upstream), wrk at "
      f"{c.get('connections', 'n/a')} connections; {how} per request, median over "
      f"{c.get('rounds', 'n/a')} interleaved rounds (range in brackets):")
    w("")
    w("| Variant | token | CPU µs / request | vs bare |")
    w("|---|---|---|---|")
    for v in c.get("variants") or []:
        tok = v.get("token", "jwt")
        size = tokens.get(tok)
        tok_cell = f"{tok} ({size} B)" if size else tok
        w(f"| `{v['id']}`: {v['label']} | {tok_cell} | {rng(v.get('cpu_us_per_request'), 1)} | "
          f"{rng((v.get('vs_bare') or {}).get('cpu_per_request'), 2, '×')} |")
    w("")
    w("| Comparison | CPU / request | goal |")
    w("|---|---|---|")
    for p in c.get("comparisons") or []:
        g = p.get("goal")
        goal = "—" if not g else f"{ {'<=': '≤', '>=': '≥'}.get(g['op'], g['op']) } {g['value']:g}"
        w(f"| `{p['a']}` / `{p['b']}` | {rng(p.get('cpu_per_request'), 2, '×')} | {goal} |")
    w("")
    shares = [med(v.get("worker_core_share")) for v in c.get("variants") or []
              if v.get("token") != "fresh" and num(med(v.get("worker_core_share")))]
    busy = [med(v.get("machine_busy")) for v in c.get("variants") or [] if num(med(v.get("machine_busy")))]
    if shares and busy:
        w(f"Conditions of this run: Envoy's worker got {min(shares) * 100:.0f}–{max(shares) * 100:.0f} % "
          f"of a core, the machine was {sorted(busy)[len(busy) // 2] * 100:.0f} % busy (median). The "
          "ratios are lower on an idle machine, where the worker has a core to itself "
          "([`bench/README.md`](bench/README.md#part-0s-method-why-the-filter-cost-figures-disagreed)).")
        w("")
    return out


def memory_section(d):
    c = d.get("filter_cpu") or {}
    m = c.get("memory")
    out = []
    w = out.append
    if m:
        counts = m.get("workers") or []
        w(f"**Envoy's memory** (resident, after a short load), by variant and worker count; "
          f"per worker = the growth per added worker:")
        w("")
        w("| Variant | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in counts)
          + " | per worker | vs no-op, 1 worker | vs no-op, per worker |")
        w("|---|" + "---|" * (len(counts) + 3))
        for v in m.get("variants") or []:
            cells = [mib((v.get("rss_kib") or {}).get(str(n))) for n in counts]
            w(f"| `{v['id']}` | " + " | ".join(cells) + f" | {mib(v.get('per_worker_kib'))} | "
              f"{signed_mib(v.get('vs_noop_kib'))} | {signed_mib(v.get('per_worker_vs_noop_kib'))} |")
        w("")
    elif c.get("variants"):
        w("**Envoy's memory** (one worker, after load): " + ", ".join(
            f"`{v['id']}` {mib((v.get('rss') or {}).get('after_load_kib'))}" for v in c["variants"]
            if v["id"] != "tr_cold") + ".")
        w("")
    return out


def signed_mib(kib):
    if num(kib) is None:
        return "n/a"
    return f"{'+' if kib >= 0 else '−'}{abs(kib) / 1024:.1f} MiB"


def stack_section(d):
    flt, ref = d.get("filter"), d.get("reference")
    if not flt or not ref:
        return []
    s = d.get("settings") or {}
    by = {v["id"]: v for v in flt["variants"]}
    rps = lambda v: rng(v["vs_baseline"]["rps"], 2, "×")  # noqa: E731
    rpt = flt.get("reviews_per_token") or {}
    version = ref.get("reference_version", "0.7.3")
    out = [f"**The stack** (Envoy with {s.get('envoy_workers', 'n/a')} workers in front of a fast "
           f"upstream, wrk at {s.get('connections', 'n/a')} connections, a "
           f"{s.get('tokenreview_latency_ms', 'n/a')} ms TokenReview server), throughput as a "
           f"share of bare Envoy's: basic mode {rps(by['b'])}, TokenReview with a warm cache "
           f"{rps(by['c'])}, a new token on every request {rps(by['d'])}; at most "
           f"{rpt.get('max', 'n/a')} reviews per token (bound {rpt.get('bound', 'n/a')}: one per "
           f"token per TTL per worker).", ""]
    out.append(f"**Against the reference approach** (bindcar {version} alone, a TokenReview on "
               "every request), authenticated `GET /api/v1/zones` per second:")
    out.append("")
    out.append("| Setup | zones listed | req/s vs bindcar | p50 ms | p99 ms |")
    out.append("|---|---|---|---|---|")
    for key in sorted(ref["comparisons"]):
        comp = ref["comparisons"][key]
        for v in comp["variants"]:
            out.append(f"| {v['label']} | {comp['zones_listed']} | "
                       f"{rng(v['vs_baseline']['rps'], 2, '×')} | {f(v['median']['p50_ms'])} | "
                       f"{f(v['median']['p99_ms'])} |")
    out.append("")
    return out


def peer_section(d):
    p = d.get("peer")
    if not p:
        return []
    version = p.get("reference_version", "0.7.3")
    b, o = p["servers"]["bindcar"], p["servers"]["ours"]
    r = p.get("ratios") or {}
    out = [f"**The backend against bindcar {version}**, each on its own named, in rounds with "
           "the servers in alternating order (ratio > 1: ours better; median of per-round "
           "ratios, range in brackets):", "",
           f"| | bindcar {version} | ours | ours vs bindcar |", "|---|---|---|---|"]
    w = out.append

    def row(label, x, y, unit, ratio, digits=2):
        u = f" {unit}" if unit else ""
        w(f"| {label} | {f(x, digits)}{u} | {f(y, digits)}{u} | {ratio} |")

    seq = lambda s, op: s["sequential"][op]["p50_ms"]  # noqa: E731
    for op in ("create", "status", "delete"):
        row(f"{op} p50", seq(b, op), seq(o, op), "ms", rng(r.get(f"{op}_p50"), 2, "×"))
    row(f"creates per second, {p.get('clients', 8)} clients", b.get("creates_per_sec_8_clients"),
        o.get("creates_per_sec_8_clients"), "", rng(r.get("creates_per_sec_8_clients"), 2, "×"), 0)
    burst_b, burst_o = b.get("burst_cpu_us_per_create"), o.get("burst_cpu_us_per_create")
    if burst_b and burst_o:
        for what, label in (("total", "CPU per create, server + its named"),
                            ("server", "CPU per create, server"), ("named", "CPU per create, its named")):
            row(label, burst_b[what], burst_o[what], "µs", rng(r.get(f"cpu_per_create_{what}"), 2, "×"), 0)
    else:
        for what, label in (("server", "CPU per create, server"), ("named", "CPU per create, its named")):
            x, y = b.get(f"{what}_cpu_us_per_create"), o.get(f"{what}_cpu_us_per_create")
            row(label, x, y, "µs", f"{f(x / y if num(x) and num(y) else None)}×", 0)
    for n in (100, 1000, 10000):
        k = f"list_{n}"
        if k in b and k in o:
            x, y = b[k]["p50_ms"], o[k]["p50_ms"]
            row(f"`GET /api/v1/zones`, {n:,} zones, p50", x, y, "ms",
                f"{f(x / y if num(x) and num(y) else None)}×")
    rec = d.get("record_ops") or {}
    peer_rec = rec.get("peer") or rec.get("bindcar_0_7_3") or {}
    for op in ("add", "update", "delete"):
        x = ((peer_rec.get("ops") or {}).get(op) or {}).get("p50_ms")
        y = (((rec.get("this") or {}).get("ops") or {}).get(op) or {}).get("p50_ms")
        if num(x) and num(y):
            row(f"record {op} p50", x, y, "ms", f"{f(x / y)}×")
    w("")
    if num(p.get("fsync_round_ms")):
        w(f"A create of ours is durable before its 201 (bindcar's is not); one round of fsyncs "
          f"on this disk takes {f(p['fsync_round_ms'])} ms (same run).")
        w("")
    return out


def scale_section(d):
    s = d.get("zones_100k")
    if not s:
        return []
    if s.get("skipped"):
        return [f"**100,000 zones**: not in this run ({s['skipped']}).", ""]
    version = s.get("peer_version", "0.9.0")
    servers = s.get("servers") or {}
    o, b = servers.get("ours") or {}, servers.get("bindcar") or {}
    out = [f"**{s.get('zones_goal', 0):,} zones** through the API at {s.get('clients', 8)} "
           f"clients, both servers on the same named build, chunks of {s.get('chunk', 10000):,} "
           f"alternating; creating stops at {s.get('peer_budget_secs', 'n/a')} s for bindcar, "
           f"{s.get('budget_secs', 'n/a')} s for ours:", "",
           f"| | bindcar {version} | ours |", "|---|---|---|"]
    w = out.append

    def row(label, key, unit, digits=2):
        cell = lambda v: "n/a" if num(v) is None else f"{f(v, digits)}{unit}"  # noqa: E731
        w(f"| {label} | {cell(key(b))} | {cell(key(o))} |")

    g = lambda *ks: lambda x: _dig(x, ks)  # noqa: E731
    chunk = f"{s.get('chunk', 0):,}"
    row("zones created", g("zones"), "", 0)
    row(f"creates per second, first {chunk}", g("first_chunk_creates_per_sec"), "", 0)
    row(f"creates per second, last {chunk}", g("last_chunk_creates_per_sec"), "", 0)
    row("first / last", g("first_over_last"), "×")
    row("CPU per create (server + named), first chunk", g("cpu_us_per_create_first_chunk", "total"), " µs", 0)
    row("CPU per create (server + named), last chunk", g("cpu_us_per_create_last_chunk", "total"), " µs", 0)
    row("`GET /api/v1/zones` p50, at the zones created", g("list", "p50_ms"), " ms")
    row("restart until every zone is listed", g("restart", "to_full_listing_secs"), " s")
    w(f"| server memory (RSS) | {mib(_dig(b, ('rss_kib', 'server')))} | {mib(_dig(o, ('rss_kib', 'server')))} |")
    w(f"| its named's memory (RSS) | {mib(_dig(b, ('rss_kib', 'named')))} | {mib(_dig(o, ('rss_kib', 'named')))} |")
    w("")
    return out


def _dig(x, keys):
    for k in keys:
        if not isinstance(x, dict):
            return None
        x = x.get(k)
    return x


def performance(d):
    m = d.get("machine") or {}
    when = time.strftime("%Y-%m-%d", time.gmtime(d.get("started_at_unix", 0)))
    dirty = " + local changes" if m.get("git_dirty") else ""
    parts = d.get("parts_secs") or {}
    took = f"{d.get('wall_secs', 0) / 60:.0f} minutes"
    if parts:
        took += " (" + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in parts.items()) + ")"
    out = [f"Latest full run: {when}, commit `{m.get('git_commit', 'n/a')}`{dirty}, "
           f"{m.get('cores', 'n/a')} shared cores, took {took}. Module: {wasm_size(d)}.", ""]
    out += goals_table(d)
    out += filter_cpu_section(d)
    out += memory_section(d)
    out += stack_section(d)
    out += peer_section(d)
    out += scale_section(d)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


RENDER = {"performance": performance, "wasm-size": wasm_size}


# --- files --------------------------------------------------------------------------------


def apply(text, d):
    """`text` with every block re-rendered from `d` (unknown block names are an error)."""

    def one(m):
        name, body = m.group(1), m.group(2)
        if name not in RENDER:
            raise SystemExit(f"claims: unknown block <!-- bench:{name} -->")
        fresh = RENDER[name](d)
        if "\n" in body or "\n" in fresh:  # a block of lines
            fresh = "\n" + fresh if not fresh.startswith("\n") else fresh
        return f"<!-- bench:{name} -->{fresh}<!-- /bench:{name} -->"

    return BLOCK.sub(one, text)


def problems(rel, text):
    """What is wrong with a file apart from stale blocks: missing blocks, stray quotes."""
    found = {m.group(1) for m in BLOCK.finditer(text)}
    out = [f"{rel}: no <!-- bench:{n} --> block" for n in FILES[rel] if n not in found]
    outside = BLOCK.sub("", text)
    for m in STRAY_SIZE.finditer(outside):
        line = outside[: m.start()].count("\n") + 1
        out.append(f"{rel}: a size quoted by hand ({m.group(0)!r}, near line {line}): "
                   f"use <!-- bench:wasm-size --><!-- /bench:wasm-size -->")
    return out


def main(args=None):
    args = sys.argv[1:] if args is None else args
    if args not in (["--check"], ["--write"]):
        sys.exit(__doc__)
    d = json.loads(JSON_IN.read_text())
    failed = []
    for rel in FILES:
        path = ROOT / rel
        text = path.read_text()
        fresh = apply(text, d)
        if args == ["--write"]:
            if fresh != text:
                path.write_text(fresh)
                print(f"claims: rewrote the blocks of {rel}", file=sys.stderr)
        elif fresh != text:
            diff = difflib.unified_diff(text.splitlines(), fresh.splitlines(), f"{rel} (as is)",
                                        f"{rel} (from {JSON_IN.relative_to(ROOT)})", lineterm="", n=1)
            failed.append(f"{rel} disagrees with {JSON_IN.relative_to(ROOT)}:\n" + "\n".join(diff))
        failed += problems(rel, fresh)
    if failed:
        print("\n".join(failed), file=sys.stderr)
        sys.exit("claims: the READMEs disagree with the latest bench results; "
                 "`python3 bench/claims.py --write` (or `make bench`) regenerates them")
    if args == ["--check"]:
        print("claims: README figures agree with bench/results/latest.json", file=sys.stderr)


if __name__ == "__main__":
    main()
