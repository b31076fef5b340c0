"""Report sections of `make bench` kept apart from run.py (which runs and assembles): the
filter-CPU section (0), the record path and the chart panels for those and for the peer
comparison. Each function takes one section of latest.json."""


def f(x, digits=2):
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return f"{x:.{digits}f}"


def ratio_cell(r, unit=""):
    """`0.93 (0.90–0.95)`: the median of per-round ratios and their range (`unit` after the
    median: `0.93× (0.90–0.95)`)."""
    if r is None:
        return "n/a"
    if r["min"] == r["max"]:
        return f"{f(r['median'])}{unit}"
    return f"{f(r['median'])}{unit} ({f(r['min'])}–{f(r['max'])})"


def range_cell(r, digits=1):
    if not isinstance(r, dict):
        return "n/a"
    return f"{f(r['median'], digits)} ({f(r['min'], digits)}–{f(r['max'], digits)})"


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f}"



def filter_cpu_table(c):
    """0. Envoy's CPU per request, one worker, direct response, by variant; then its memory."""
    out = []
    w = out.append
    ins = c["instructions"]
    tokens = c.get("token_bytes") or {}
    w(f"**0. Filter CPU**: Envoy with {c['envoy_workers']} worker, every request answered by a "
      f"`direct_response` (no upstream), wrk at {c['connections']} connections "
      f"({c['wrk_threads']} threads), {c['rounds']} rounds × {c['duration_secs']:g} s per variant "
      f"after a {c['warmup_secs']:g} s warm-up, order rotating. Load: {c.get('load', 'n/a')}. "
      f"CPU = {c.get('cpu_figure', 'Envoy')} (utime + stime, `{c['cpu_source']}`, "
      f"{c['clock_ticks_per_sec']:g} ticks/s) / requests answered. Tokens: "
      + ", ".join(f"{k} {v} bytes" for k, v in tokens.items())
      + ". Median over the rounds (range in brackets); ratios taken within each round.")
    w("")
    w("| Variant | token | worker CPU µs / request | process CPU µs / request | vs bare | "
      "instructions / request | req/s | p99 ms | worker's share of a core | machine busy | errors |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for v in c["variants"]:
        ipr = v["instructions_per_request"]
        share, busy = v.get("worker_core_share"), v.get("machine_busy")
        w(f"| `{v['id']}`: {v['label']} | {v.get('token', 'jwt')} | "
          f"{range_cell(v['cpu_us_per_request'])} | {range_cell(v.get('process_cpu_us_per_request'))} | "
          f"{ratio_cell(v['vs_bare']['cpu_per_request'])} | "
          f"{'n/a' if ipr is None else f(ipr['median'], 0)} | {range_cell(v['rps'], 0)} | "
          f"{f(v['p99_ms'])} | {pct(share)} | {pct(busy)} | {v['errors']} |")
    w("")
    w("| Comparison | worker CPU / request | process CPU / request | instructions / request | req/s | goal (worker CPU) |")
    w("|---|---|---|---|---|---|")
    for p in c["comparisons"]:
        g = p["goal"]
        goal = "—" if g is None else f"{ {'<=': '≤', '>=': '≥'}.get(g['op'], g['op']) } {g['value']:g}"
        w(f"| `{p['a']}` / `{p['b']}` | {ratio_cell(p['cpu_per_request'])} | "
          f"{ratio_cell(p.get('process_cpu_per_request'))} | "
          f"{ratio_cell(p['instructions_per_request'])} | {ratio_cell(p['rps'])} | {goal} |")
    w("")
    mem = c.get("memory")
    if mem:
        counts = mem["workers"]
        w(f"Envoy's resident memory, MiB ({mem['how']}); per worker = growth per added worker:")
        w("")
        w("| Envoy | " + " | ".join(f"{n} worker(s)" for n in counts)
          + " | per worker | − noop, 1 worker | − noop, per worker |")
        w("|---|" + "---|" * (len(counts) + 3))
        for v in mem["variants"]:
            w(f"| `{v['id']}` | " + " | ".join(mib(v["rss_kib"].get(str(n))) for n in counts)
              + f" | {mib(v['per_worker_kib'])} | {mib(v['vs_noop_kib'])} | "
              f"{mib(v['per_worker_vs_noop_kib'])} |")
        w("")
    sizes = c["wasm_bytes"]
    notes = [
        f"Modules: `bindcar_auth_filter.wasm` {sizes['filter']:,} bytes "
        f"({sizes['filter'] / 1024:.0f} KiB), no-op {sizes['noop']:,} bytes "
        f"({sizes['noop'] / 1024:.0f} KiB).",
        "Instructions: " + (f"`{ins['how']}`." if ins["available"] else f"not available: {ins['why']}."),
        "`tr_cold` reviews every request (one TLS callout each to the API server, 5 ms), so its CPU "
        "figure is mostly the callout's HTTP/TLS client work, and its throughput is bound by "
        "8 connections / 5 ms.",
        "`jwt_authn` is what Istio RequestAuthentication gives (signature, issuer, audience, "
        "expiry); it cannot see revocation (a deleted ServiceAccount's token stays valid until it "
        "expires) nor namespace/ServiceAccount allowlists.",
    ]
    w(" ".join(notes))
    w("")
    calls = c.get("host_calls")
    if calls:
        w("Host calls per request, by path, counted on the same module in the in-process host "
          "(`tests/wasmhost`; `cargo test -p bindcar-e2e --test host_calls` holds them down):")
        w("")
        w("| Path | Host calls | The calls |")
        w("|---|---|---|")
        for p in calls:
            listed = "; ".join(p["calls"])
            w(f"| {p['path']} | {p['count']} | {listed} |")
        w("")
    return out


def pct(r):
    return "n/a" if not r else f"{r['median'] * 100:.0f}%"


def peer_key(r):
    """The peer's key in record_ops (runs before 0.9.0 called it after 0.7.3)."""
    return "peer" if "peer" in r else "bindcar_0_7_3"


def record_ops_table(r):
    """The record path: this backend (TSIG UPDATE over TCP) against bindcar (nsupdate)."""
    out = []
    w = out.append
    version = r.get("peer_version", "0.7.3")
    w(f"**4b. Record path** ({r['client']}; {r['auth']}), ms:")
    w("")
    w(f"| Operation | this backend p50 (p99) | bindcar {version} p50 (p99) |")
    w("|---|---|---|")
    for op in ("add", "update", "delete"):
        cells = []
        for who in ("this", peer_key(r)):
            x = (r.get(who) or {}).get("ops", {}).get(op)
            cells.append("n/a" if not x else f"{f(x['p50_ms'])} ({f(x['p99_ms'])})")
        w(f"| {op} | {cells[0]} | {cells[1]} |")
    w("")
    return out


def scale_table(s):
    """100,000 zones: both servers filled in alternating chunks, then listing, memory, restart."""
    if s.get("skipped"):
        return [f"**7. 100,000 zones**: skipped ({s['skipped']}).", ""]
    out = []
    w = out.append
    servers = s["servers"]
    w(f"**7. {s['zones_goal']:,} zones** through the API at {s['clients']} clients, "
      f"{s['auth']}, each server on its own named (the same build); {s['order']}; "
      f"{s['wall_secs']:.0f} s in all (creating stops at {s['peer_budget_secs']} s for bindcar, "
      f"{s['budget_secs']} s for ours).")
    w("")
    ids = [k for k in ("bindcar", "ours") if k in servers]
    names = {"bindcar": f"bindcar {s['peer_version']}", "ours": "this backend"}
    w("| | " + " | ".join(names[k] for k in ids) + " |")
    w("|---|" + "---|" * len(ids))

    def row(label, get, fmt):
        cells = []
        for k in ids:
            try:
                x = get(servers[k])
            except (KeyError, TypeError):
                x = None
            cells.append("n/a" if x is None else fmt(x))
        w(f"| {label} | " + " | ".join(cells) + " |")

    row("zones created", lambda x: x["zones"], lambda v: f"{v:,}")
    row("stopped early", lambda x: x["stopped"] or "no", str)
    chunk = f"{s['chunk']:,}"
    row(f"creates per second, first {chunk}", lambda x: x["first_chunk_creates_per_sec"], lambda v: f(v, 0))
    row(f"creates per second, last {chunk}", lambda x: x["last_chunk_creates_per_sec"], lambda v: f(v, 0))
    row("first / last (goal ≤ 1.2 for ours)", lambda x: x["first_over_last"], lambda v: f"{f(v)}×")
    row(f"creates per second, each {chunk}", lambda x: x["chunk_creates_per_sec"],
        lambda v: " ".join(f"{r:.0f}" for r in v))
    for when in ("first", "last"):
        row(f"CPU per create, {when} {chunk}: server + named (server, named)",
            lambda x, when=when: x[f"cpu_us_per_create_{when}_chunk"],
            lambda v: f"{f(v['total'], 0)} µs ({f(v['server'], 0)}, {f(v['named'], 0)})")
    row("`GET /api/v1/zones` p50 (p99)", lambda x: x["list"],
        lambda v: f"{f(v['p50_ms'])} ms ({f(v['p99_ms'])} ms)")
    row("server RSS", lambda x: x["rss_kib"]["server"], lambda v: f"{mib(v)} MiB")
    row("its named's RSS", lambda x: x["rss_kib"]["named"], lambda v: f"{mib(v)} MiB")
    row("restart (SIGTERM, start): health answers after", lambda x: x["restart"]["to_health_secs"],
        lambda v: f"{f(v)} s")
    row("restart: every zone listed after", lambda x: x["restart"]["to_full_listing_secs"],
        lambda v: f"{f(v)} s")
    row("server RSS after the restart", lambda x: x["restart"]["server_rss_kib_after"],
        lambda v: f"{mib(v)} MiB")
    w("")
    return out


def _bars(ax, labels, values, lows, highs, colors, fmt):
    x = range(len(labels))
    err = [[max(0.0, v - lo) for v, lo in zip(values, lows)],
           [max(0.0, hi - v) for v, hi in zip(values, highs)]]
    ax.bar(x, values, color=colors, yerr=err, capsize=4, edgecolor="black", linewidth=0.5)
    ax.set_xticks(list(x), labels, rotation=20, fontsize=8)
    for i, (v, hi) in enumerate(zip(values, highs)):
        ax.annotate(fmt(v), (i, max(v, hi)), textcoords="offset points", xytext=(0, 3),
                    ha="center", fontsize=7)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)


CPU_COLORS = ["#9e9e9e", "#bdbdbd", "#4c72b0", "#55a868", "#c44e52", "#dd8452", "#8172b2"]


def cpu_panel(ax, c):
    vs = c["variants"]
    vals = [v["cpu_us_per_request"]["median"] for v in vs]
    _bars(ax, [v["id"] for v in vs], vals, [v["cpu_us_per_request"]["min"] for v in vs],
          [v["cpu_us_per_request"]["max"] for v in vs], CPU_COLORS, lambda v: f"{v:.1f}")
    ax.set_yscale("log")
    ax.set_ylabel("Envoy CPU µs / request (log)")
    ax.set_title("0. Envoy CPU per request, 1 worker, direct response (median, range)", fontsize=10)


def rss_panel(ax, c):
    vs = c["variants"]
    vals = [v["rss"]["after_load_vs_bare"] or 0.0 for v in vs]
    _bars(ax, [v["id"] for v in vs], vals, vals, vals, CPU_COLORS, lambda v: f"{v:.2f}")
    ax.axhline(1.3, color="#c44e52", linewidth=0.8, linestyle="--")
    ax.set_ylabel("Envoy RSS after load / bare")
    ax.set_title("0. Envoy memory after load, relative to bare (goal ≤ 1.3, dashed)", fontsize=10)


def record_panel(ax, r):
    ops = ("add", "update", "delete")
    width = 0.38
    version = r.get("peer_version", "0.7.3")
    for j, (who, label, color) in enumerate((("this", "this backend", "#2f5f8f"),
                                             (peer_key(r), f"bindcar {version}", "#9e9e9e"))):
        data = (r.get(who) or {}).get("ops") or {}
        vals = [(data.get(op) or {}).get("p50_ms") or 0.0 for op in ops]
        xs = [i + (j - 0.5) * width for i in range(len(ops))]
        ax.bar(xs, vals, width, color=color, edgecolor="black", linewidth=0.5, label=label)
        for x, v in zip(xs, vals):
            if v:
                ax.annotate(f"{v:.2f}", (x, v), textcoords="offset points", xytext=(0, 3),
                            ha="center", fontsize=7)
    ax.set_xticks(range(len(ops)), ops)
    ax.set_ylabel("p50 ms")
    ax.set_title("4b. Record path: add / update / delete, p50", fontsize=10)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def peer_panel(ax, p):
    """Ours against bindcar, each measure as a ratio where > 1 means ours is better."""
    b, o = p["servers"]["bindcar"], p["servers"]["ours"]
    version = p.get("reference_version", "0.7.3")
    labels, vals = [], []

    def add(label, x, y):
        if x and y:
            labels.append(label)
            vals.append(x / y)

    for op in ("create", "status", "delete"):
        add(f"{op} p50", b["sequential"][op]["p50_ms"], o["sequential"][op]["p50_ms"])
    add("creates/s", o.get("creates_per_sec_8_clients"), b.get("creates_per_sec_8_clients"))
    bc, oc = b.get("burst_cpu_us_per_create") or {}, o.get("burst_cpu_us_per_create") or {}
    add("CPU/create", bc.get("total"), oc.get("total"))
    for n in (100, 1000, 10000):
        k = f"list_{n}"
        if k in b and k in o:
            add(f"list {n:,}", b[k]["p50_ms"], o[k]["p50_ms"])
    ax.barh(range(len(vals)), vals, color="#2f5f8f", edgecolor="black", linewidth=0.5)
    ax.set_yticks(range(len(vals)), labels, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32) if min(vals + [1]) / 2 <= t <= max(vals + [1]) * 2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    for i, v in enumerate(vals):
        ax.annotate(f"{v:.1f}×", (v, i), textcoords="offset points", xytext=(3, -3), fontsize=7)
    ax.set_xlabel(f"ours vs bindcar {version} (> 1: ours better, log)")
    ax.set_title(f"6. Against bindcar {version}", fontsize=10)
    ax.margins(x=0.15)
    ax.grid(axis="x", alpha=0.3)
