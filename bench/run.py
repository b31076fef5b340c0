#!/usr/bin/env python3
"""`make bench`: runs the measurements (target/release/bench), then writes the report.

    .venv/bin/python bench/run.py [bench flags...]     # measure, then report
    .venv/bin/python bench/run.py --render-only        # report again from latest.json

The Rust binary starts and stops every process and writes bench/results/latest.json (raw
figures); this script turns it into bench/results/latest.md (printed on stdout too) and
bench/results/latest.png (matplotlib), and after a full run rewrites the READMEs' figures
from it (bench/claims.py). A part run alone (`--only <part>`) writes <part>.json/.md/.png
instead and leaves latest.* and the READMEs alone. The binary runs in its own process group,
which is killed whatever happens here (error, Ctrl-C, time limit), so nothing outlives the run.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import claims
import report_sections as sections
from report_sections import f, ratio_cell

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
JSON_OUT = RESULTS / "latest.json"
# The binary gives up between steps past its budget (1800 s, 900 s with BENCH_100K=0); this
# script kills everything a little later whatever happens.
SKIP_100K = os.environ.get("BENCH_100K", "").strip() == "0"
TIME_LIMIT_SECS = (900 if SKIP_100K else 1800) + 120


def json_path(args):
    """Where the binary writes: --out, else <part>.json for a part alone, else latest.json."""
    if "--out" in args:
        return Path(args[args.index("--out") + 1]).resolve()
    if "--records-only" in args:
        return RESULTS / "records.json"
    if "--only" in args:
        return RESULTS / f"{args[args.index('--only') + 1]}.json"
    if "--quick" in args:
        return RESULTS / "quick.json"
    return JSON_OUT


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")


def measure(args, out):
    binary = target_dir() / "release" / "bench"
    if not binary.exists():
        sys.exit(f"{binary} is missing: cargo build --release -p bindcar@0.1 -p bindcar-bench")
    env = dict(os.environ)
    env.setdefault("BINDCAR_BIN", str(target_dir() / "release" / "bindcar"))
    if "--out" not in args:
        args = ["--out", str(out), *args]
    proc = subprocess.Popen(
        [str(binary), *args],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        code = proc.wait(timeout=TIME_LIMIT_SECS)
    except BaseException as e:  # timeout, Ctrl-C, anything: stop the whole group
        stop_group(proc)
        if isinstance(e, subprocess.TimeoutExpired):
            sys.exit(f"bench: still running after {TIME_LIMIT_SECS} s: stopped")
        raise
    finally:
        stop_group(proc, quiet=True)
    if code != 0:
        sys.exit(f"bench: the measurement failed (exit {code}); nothing was written")


def stop_group(proc, quiet=False):
    """Kills the process group the bench binary leads (its children: Envoy, named, ...)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        if sig == signal.SIGTERM:
            time.sleep(1.0)
    if not quiet:
        print("bench: stopped the benchmark's processes", file=sys.stderr)


# --- report -------------------------------------------------------------------------------


def variant(section, vid):
    return next(v for v in section["variants"] if v["id"] == vid)


def peer_table(p):
    """6. This backend against bindcar 0.9.0: ratios > 1 mean ours is better."""
    b, o = p["servers"]["bindcar"], p["servers"]["ours"]
    out = []
    w = out.append
    rounds = p.get("ratios") or {}
    if rounds:
        how = (f"sequential = {p['sequential_rounds']} rounds of "
               f"{p['sequential_iterations'] // p['sequential_rounds']} operations each over one "
               f"keep-alive connection, then {p['burst_rounds']} rounds of {p['burst_creates']} "
               f"creates at {p['clients']} clients, the two servers in alternating order each "
               f"round; where there are rounds the ratio is the median of per-round ratios (range "
               f"in brackets), the figures pooled over the rounds")
    else:
        how = (f"sequential = {p['sequential_iterations']} operations over one keep-alive "
               f"connection; {p['clients']} clients for creates")
    w(f"**6. Against bindcar {p['reference_version']}**, each on its own fresh named, phases "
      f"alternated, {p['auth']}; {how}. Ratio: > 1 means ours is better (bindcar's time / ours, "
      f"or our rate / bindcar's).")
    w("")
    w(f"| | bindcar {p['reference_version']} | this backend | ours vs bindcar |")
    w("|---|---|---|---|")

    def lat(label, x, y, unit="ms", digits=2, per_round=None):
        r = ratio_cell(per_round, "×") if per_round else f"{f(x / y if x and y else None)}×"
        w(f"| {label} | {f(x, digits)} {unit} | {f(y, digits)} {unit} | {r} |")

    def rate(label, x, y, per_round=None):
        r = ratio_cell(per_round, "×") if per_round else f"{f(y / x if x and y else None)}×"
        w(f"| {label} | {f(x, 0)} | {f(y, 0)} | {r} |")

    for op in ("create", "status", "delete"):
        for q in ("p50", "p99"):
            lat(f"{op} {q}", b["sequential"][op][f"{q}_ms"], o["sequential"][op][f"{q}_ms"],
                per_round=rounds.get(f"{op}_{q}"))
    per = " a round" if rounds else ""
    rate(f"creates per second, {p['clients']} clients ({p['burst_creates']}{per})",
         b["creates_per_sec_8_clients"], o["creates_per_sec_8_clients"],
         rounds.get("creates_per_sec_8_clients"))
    for n in (100, 1000, 10000):
        k = f"list_{n}"
        if k in b and k in o:
            lat(f"`GET /api/v1/zones`, {n:,} zones, p50", b[k]["p50_ms"], o[k]["p50_ms"])
    rate("creates per second, first 1,000 zones", b.get("first_1000_creates_per_sec"),
         o.get("first_1000_creates_per_sec"))
    if o.get("last_1000_creates_per_sec"):
        rate("creates per second, last 1,000 of 10,000", b.get("last_1000_creates_per_sec"),
             o.get("last_1000_creates_per_sec"))
        for who, x in (("bindcar", b), ("ours", o)):
            first, last = x.get("first_1000_creates_per_sec"), x.get("last_1000_creates_per_sec")
            if first and last:
                w(f"| {who}: first / last 1,000 | | | {f(first / last)} |")
    # CPU per create: in the rounds at 8 clients (per-round ratios), then over every
    # concurrent create of the part (fills included).
    bb, ob = b.get("burst_cpu_us_per_create"), o.get("burst_cpu_us_per_create")
    if bb and ob:
        for what, label in (("total", "server + its named"), ("server", "server"),
                            ("named", "its named")):
            lat(f"CPU per create, {label} (rounds at {p['clients']} clients)", bb[what], ob[what],
                "µs", 0, rounds.get(f"cpu_per_create_{what}"))
    lat("server CPU per create, every concurrent create", b.get("server_cpu_us_per_create"),
        o.get("server_cpu_us_per_create"), "µs", 0)
    lat("its named's CPU per create, every concurrent create", b.get("named_cpu_us_per_create"),
        o.get("named_cpu_us_per_create"), "µs", 0)
    w(f"| ListenDrops during the runs (whole machine) | {b['listen_drops']} | {o['listen_drops']} | |")
    w("")
    if p.get("fsync_round_ms"):
        w(f"A create of ours is durable before its 201 (bindcar syncs nothing): one round of "
          f"fsyncs, a file and its directory side by side, takes {f(p['fsync_round_ms'])} ms on "
          f"this disk (median of 100, same run).")
        w("")
    return out


def markdown(d):
    if "filter" not in d:  # a part alone
        out = []
        if "filter_cpu" in d:
            out += sections.filter_cpu_table(d["filter_cpu"])
        if "record_ops" in d:
            out += sections.record_ops_table(d["record_ops"])
        if "peer" in d:
            out += peer_table(d["peer"])
        if "zones_100k" in d:
            out += sections.scale_table(d["zones_100k"])
        out.append(f"Wall time: {d.get('wall_secs', 0):.0f} s.")
        return "\n".join(out) + "\n"
    m, s = d["machine"], d["settings"]
    flt, ref, ops, rpt = d["filter"], d["reference"], d["backend_ops"], d["filter"]["reviews_per_token"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(d["started_at_unix"]))
    dirty = " + local changes" if m.get("git_dirty") else ""
    out = []
    w = out.append
    w(f"Measured by `make bench` on {when} (commit `{m['git_commit']}`{dirty}), in {d['wall_secs']:.0f} s.")
    w("")
    w(f"Machine: {m['cores']} cores ({m['cpu']}), Linux {m['kernel']}, load average at start "
      f"{m['loadavg_at_start'].split()[0]}, shared and noisy. Envoy {m['envoy']} with "
      f"{s['envoy_workers']} workers; load from {m['wrk']} at {s['connections']} connections "
      f"({s['wrk_threads']} threads), closed loop; {s['rounds']} rounds × {s['duration_secs']:g} s "
      f"per variant after a {s['warmup_secs']:g} s warm-up, variants interleaved in a rotating "
      f"order. TokenReview server: the tests' own, over TLS, with {s['tokenreview_latency_ms']} ms "
      f"added to every answer; verdict cache TTL {s['cache_ttl_secs']} s.")
    w("")
    w("Ratios are the median over the rounds of the ratio measured within each round "
      "(range over the rounds in brackets). Absolute figures are medians, given for scale only: "
      "on this machine they move with the neighbours, the ratios much less.")
    w("")

    if "filter_cpu" in d:
        out.extend(sections.filter_cpu_table(d["filter_cpu"]))

    w("**1. Filter cost**: `GET /api/v1/zones` through Envoy to a fast local responder, every "
      "request with a ServiceAccount bearer token.")
    w("")
    w("| Variant | Throughput vs (a) | p50 vs (a) | p99 vs (a) | req/s | p50 ms | p99 ms | reviews / request |")
    w("|---|---|---|---|---|---|---|---|")
    for v in flt["variants"]:
        vs = v["vs_baseline"]
        med = v["median"]
        w(f"| ({v['id']}) {v['label']} | {ratio_cell(vs['rps'])} | {ratio_cell(vs['p50'])} | "
          f"{ratio_cell(vs['p99'])} | {med['rps']:.0f} | {f(med['p50_ms'])} | {f(med['p99_ms'])} | "
          f"{f(v['reviews_per_request'], 3)} |")
    cold = flt["cold"]
    errors = sum(v["errors"] for v in flt["variants"])
    w("")
    notes = []
    if cold["wrapped"]:
        notes.append(f"**(d) reused tokens {cold['wrapped']} times: it was not fully cold**")
    if errors:
        notes.append(f"**{errors} failed requests (non-2xx, timeouts or socket errors)**")
    w(f"(d): each round a new Envoy (its cache is in the process), warmed up with tokens set apart "
      f"for that, then {cold['tokens_per_run']} tokens it had never seen, each sent once "
      f"({'none reused' if not cold['wrapped'] else 'SOME REUSED'}). "
      + ("; ".join(notes) + "." if notes else "No failed requests in any run."))
    w("")

    w(f"**2. Reviews per token** in (c): {rpt['tokens']} distinct tokens, used over {rpt['span_secs']:.0f} s "
      f"({rpt['ttl_windows']} TTL window{'s' if rpt['ttl_windows'] != 1 else ''} of {rpt['ttl_secs']} s, "
      f"{rpt['workers']} workers): {rpt['reviews_total']} TokenReview calls, i.e. "
      f"{rpt['mean']:.2f} per token on average, at most {rpt['max']} "
      f"(bound: one per token per TTL per worker = {rpt['bound']}; "
      f"{'within' if rpt['within_bound'] else 'ABOVE'}). "
      f"Filter counters during the rounds: {rpt['filter_counters_during_rounds']['cache_hits']} cache hits, "
      f"{rpt['filter_counters_during_rounds']['reviews_sent']} reviews sent.")
    w("")

    w(f"**3. The reference approach**: authenticated `GET /api/v1/zones` per second, the same "
      f"{s['tokenreview_latency_ms']} ms TokenReview server and load, one real named; the reference is "
      f"bindcar {ref.get('reference_version', '0.7.3')} itself, which reviews every request. With no zone to list the answer costs "
      f"the server next to nothing, so the figure is authentication's; with one zone the server "
      f"asks named about it (rndc) on every request.")
    w("")
    w("| Setup | zones listed | req/s vs reference | req/s | p50 ms | p99 ms | reviews / request |")
    w("|---|---|---|---|---|---|---|")
    for key in sorted(ref["comparisons"]):
        c = ref["comparisons"][key]
        for v in c["variants"]:
            med = v["median"]
            w(f"| {v['label']} | {c['zones_listed']} | {ratio_cell(v['vs_baseline']['rps'])} | "
              f"{med['rps']:.0f} | {f(med['p50_ms'])} | {f(med['p99_ms'])} | "
              f"{f(v['reviews_per_request'], 3)} |")
    for key in sorted(ref["comparisons"]):
        c = ref["comparisons"][key]
        drops = sum(v["listen_drops"] for v in c["variants"])
        tw = max(v.get("max_time_wait", 0) for v in c["variants"])
        if drops:
            w("")
            w(f"With {c['zones_listed']} zone(s) listed, the kernel dropped {drops} connection attempts "
              f"at a full listen queue during these runs (machine-wide ListenDrops; a dropped SYN is "
              f"retried after 1 s, hence p99 ≈ 1 s) and up to {tw:,} sockets sat in TIME_WAIT. By "
              f"variant: " + ", ".join(f"{v['id']} {v['listen_drops']}" for v in c["variants"]) + ".")
    errors = sum(v["errors"] for c in ref["comparisons"].values() for v in c["variants"])
    if errors:
        w("")
        w(f"**{errors} failed requests in these runs (non-2xx, timeouts or socket errors).**")
    w("")

    w(f"**4. Backend zone operations** on a real named, {ops['iterations']} of each, one keep-alive "
      f"client connection, auth disabled (as behind the mesh):")
    w("")
    w("| Operation | p50 ms | p99 ms | mean ms | failures |")
    w("|---|---|---|---|---|")
    labels = {
        "create": "create zone (`POST /api/v1/zones`)",
        "status": "zone status (`GET /api/v1/zones/{name}/status`)",
        "delete": "delete zone (`DELETE /api/v1/zones/{name}`)",
        "server_status": "server status (`GET /api/v1/server/status`)",
    }
    for k in ("create", "status", "delete", "server_status"):
        o = ops["ops"][k]
        w(f"| {labels[k]} | {f(o['p50_ms'])} | {f(o['p99_ms'])} | {f(o['mean_ms'])} | {o['failures']} |")
    w("")

    if "record_ops" in d:
        out.extend(sections.record_ops_table(d["record_ops"]))
    if "peer" in d:
        out.extend(peer_table(d["peer"]))
    if "zones_100k" in d:
        out.extend(sections.scale_table(d["zones_100k"]))

    fp, rss = d["footprint"], flt["envoy_rss"]
    def mib(kib):
        return "n/a" if kib is None else f"{kib / 1024:.1f}"
    w(f"**5. Footprint**: `{fp['wasm_path']}` is {fp['wasm_bytes']:,} bytes "
      f"({fp['wasm_bytes'] / 1024:.0f} KiB). Envoy resident memory, MiB, idle after start → after the rounds:")
    w("")
    w("| (a) no filter | (b) basic | (c) TokenReview | (d) TokenReview, cold |")
    w("|---|---|---|---|")
    w("| " + " | ".join(f"{mib(rss[k]['idle_kib'])} → {mib(rss[k]['after_load_kib'])}" for k in "abcd") + " |")
    w("")

    w("**Targets** (reported, not tuned for):")
    w("")
    w("| Target | Goal | Measured | |")
    w("|---|---|---|---|")
    for t in d["targets"]:
        op = {">=": "≥", "<=": "≤"}.get(t["op"], t["op"])
        unit = t.get("unit", "")
        w(f"| {t['target']} | {op} {t['goal']:g} {unit} | {f(t['value'])} {unit} | "
          f"{'met' if t['met'] else '**missed**'} |")
    w("")
    if d.get("parts_secs"):
        w("Time by part: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s"
                                       for k, v in d["parts_secs"].items()) + ".")
        w("")
    w("Reproduce: `make setup && make bench` (bounded: the measurement stops by itself within "
      f"{(900 if SKIP_100K else 1800) // 60 + 2} minutes). Raw figures: `bench/results/latest.json`; chart: `bench/results/latest.png`; "
      "method: `bench/README.md`.")
    return "\n".join(out) + "\n"


def chart(d, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "filter" not in d:  # `--only filter-cpu`
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        sections.cpu_panel(axes[0], d["filter_cpu"])
        sections.rss_panel(axes[1], d["filter_cpu"])
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    flt, ref = d["filter"], d["reference"]
    fig, grid = plt.subplots(4, 2, figsize=(12, 17))
    # Rows: 0 (filter CPU), 1 (proxied filter cost), 3 (reference), then 4b and 6.
    axes = grid[1:3]
    for ax, key, draw in ((grid[0][0], "filter_cpu", sections.cpu_panel),
                          (grid[0][1], "filter_cpu", sections.rss_panel),
                          (grid[3][0], "record_ops", sections.record_panel),
                          (grid[3][1], "peer", sections.peer_panel)):
        if key in d:
            draw(ax, d[key])
        else:
            ax.set_axis_off()

    def bars(ax, variants, values, lows, highs, ylabel, title, colors, fmt):
        labels = [v["id"] for v in variants]
        x = range(len(labels))
        err = [[max(0.0, v - lo) for v, lo in zip(values, lows)],
               [max(0.0, hi - v) for v, hi in zip(values, highs)]]
        ax.bar(x, values, color=colors, yerr=err, capsize=4, edgecolor="black", linewidth=0.5)
        ax.set_xticks(list(x), labels)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        for i, (v, hi) in enumerate(zip(values, highs)):
            ax.annotate(fmt(v), (i, max(v, hi)), textcoords="offset points", xytext=(0, 3),
                        ha="center", fontsize=8)
        ax.margins(y=0.12)
        ax.grid(axis="y", alpha=0.3)

    def runs_range(v, key):
        xs = [r[key] for r in v["runs"]]
        return min(xs), max(xs)

    fv = flt["variants"]
    colors = ["#9e9e9e", "#4c72b0", "#55a868", "#c44e52", "#8172b2"]
    bars(axes[0][0], fv, [v["vs_baseline"]["rps"]["median"] for v in fv],
         [v["vs_baseline"]["rps"]["min"] for v in fv], [v["vs_baseline"]["rps"]["max"] for v in fv],
         "throughput / (a), per round", "1. Filter cost: throughput relative to bare Envoy (a)",
         colors, lambda v: f"{v:.2f}")
    axes[0][0].axhline(1.0, color="black", linewidth=0.8)
    bars(axes[0][1], fv, [v["median"]["p99_ms"] for v in fv],
         [runs_range(v, "p99_ms")[0] for v in fv], [runs_range(v, "p99_ms")[1] for v in fv],
         "p99 latency, ms", "1. Filter cost: p99 latency (median, range over rounds)",
         colors, lambda v: f"{v:.2f}")

    comps = [ref["comparisons"][k] for k in sorted(ref["comparisons"])]
    ids = [v["id"] for v in comps[0]["variants"]]
    width = 0.38
    for ax, key, ylabel, title, fmt in (
        (axes[1][0], "rps", "authenticated req/s",
         "3. GET /api/v1/zones, 5 ms TokenReview: throughput", lambda v: f"{v:.0f}"),
        (axes[1][1], "p99_ms", "p99 latency, ms (log)",
         "3. GET /api/v1/zones, 5 ms TokenReview: p99 latency", lambda v: f"{v:.1f}"),
    ):
        for j, c in enumerate(comps):
            vals = [v["median"][key] for v in c["variants"]]
            lows = [runs_range(v, key)[0] for v in c["variants"]]
            highs = [runs_range(v, key)[1] for v in c["variants"]]
            xs = [i + (j - 0.5) * width for i in range(len(ids))]
            err = [[max(0.0, v - lo) for v, lo in zip(vals, lows)],
                   [max(0.0, hi - v) for v, hi in zip(vals, highs)]]
            ax.bar(xs, vals, width, yerr=err, capsize=3, edgecolor="black", linewidth=0.5,
                   color=["#8fb3d9", "#2f5f8f"][j], label=f"{c['zones_listed']} zone(s) listed")
            for x, v, hi in zip(xs, vals, highs):
                ax.annotate(fmt(v), (x, max(v, hi)), textcoords="offset points", xytext=(0, 3),
                            ha="center", fontsize=7)
        ax.margins(y=0.12)
        ax.set_xticks(range(len(ids)), ids)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    axes[1][1].set_yscale("log")
    rv = comps[0]["variants"]

    legend = "  ".join(f"({v['id']}) {v['label']}" for v in fv)
    legend2 = "  ".join(f"{v['id']}: {v['label']}" for v in rv)
    m, s = d["machine"], d["settings"]
    fig.suptitle(
        f"bindcar, mesh-native: make bench ({m['cores']} cores, Envoy {m['envoy']} × "
        f"{s['envoy_workers']} workers, wrk {s['connections']} connections, "
        f"{s['rounds']} rounds × {s['duration_secs']:g} s)", fontsize=11)
    fig.text(0.5, 0.005, legend + "\n" + legend2, ha="center", fontsize=7.5, wrap=True)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(path):
    d = json.loads(path.read_text())
    md_out, png_out = path.with_suffix(".md"), path.with_suffix(".png")
    md = markdown(d)
    md_out.write_text(md)
    wrote = [path, md_out]
    if "filter" in d or "filter_cpu" in d:
        chart(d, png_out)
        wrote.append(png_out)
    print(md)
    print("wrote " + ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
                               for p in wrote), file=sys.stderr)
    if path == JSON_OUT and "filter" in d:  # a full run: the READMEs quote it
        claims.main(["--write"])


def main():
    args = [a for a in sys.argv[1:] if a != "--render-only"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = json_path(args)
    started = time.monotonic()
    if "--render-only" not in sys.argv[1:]:
        measure(args, path)
        print(f"bench: measured in {time.monotonic() - started:.0f} s "
              f"({(time.monotonic() - started) / 60:.1f} min)", file=sys.stderr)
    render(path)


if __name__ == "__main__":
    main()
