//! The figures set against their goals (from the issues), for the report's last table and the
//! README. Every goal is listed whatever the run measured: a figure the run could not take is
//! NaN (shown as n/a, not met).

use serde_json::{json, Value};

use crate::peer::PEER_VERSION;

/// One goal: `value op goal`, e.g. `1.03 <= 1.10`. `unit` is for display ("×", "ms", ...).
pub(crate) fn target_check(name: &str, value: f64, op: &str, goal: f64, unit: &str) -> Value {
    let met = match op {
        ">=" => value >= goal,
        "<=" => value <= goal,
        _ => value < goal,
    };
    json!({"target": name, "value": value, "op": op, "goal": goal, "unit": unit, "met": met})
}

pub(crate) fn variant_ratio(section: &Value, id: &str) -> f64 {
    section["variants"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["id"] == id))
        .and_then(|x| x["vs_baseline"]["rps"]["median"].as_f64())
        .unwrap_or(f64::NAN)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Every goal of the run: part 0's (computed there), then the others in report order.
pub(crate) fn targets(
    cpu: &Value,
    filter: &Value,
    reference: &Value,
    ops: &Value,
    peer: &Value,
    scale: &Value,
) -> Value {
    let rpt = &filter["reviews_per_token"];
    let cmp = &reference["comparisons"];
    let mut all: Vec<Value> = cpu["goals"].as_array().cloned().unwrap_or_default();
    all.extend([
        target_check(
            "basic mode throughput / bare Envoy (2 workers, proxied)",
            variant_ratio(filter, "b"),
            ">=",
            0.90,
            "×",
        ),
        target_check(
            "TokenReview (warm cache) throughput / bare Envoy (2 workers, proxied)",
            variant_ratio(filter, "c"),
            ">=",
            0.85,
            "×",
        ),
        target_check(
            "max reviews per token / (workers × TTL windows)",
            num(&rpt["max"]) / num(&rpt["bound"]),
            "<=",
            1.0,
            "×",
        ),
        target_check(
            &format!("cached stack / bindcar {PEER_VERSION}, authenticated GET /zones per second (no zone listed)"),
            variant_ratio(&cmp["zones_0"], "stack"),
            ">=",
            10.0,
            "×",
        ),
        target_check(
            &format!("cached stack / bindcar {PEER_VERSION}, authenticated GET /zones per second (one zone listed)"),
            variant_ratio(&cmp["zones_1"], "stack"),
            ">=",
            10.0,
            "×",
        ),
        target_check(
            "backend create p50",
            num(&ops["ops"]["create"]["p50_ms"]),
            "<",
            5.0,
            "ms",
        ),
        target_check(
            "backend delete p50",
            num(&ops["ops"]["delete"]["p50_ms"]),
            "<",
            5.0,
            "ms",
        ),
    ]);
    // Against the peer (issue 21, item 3): ratios > 1 mean ours is better.
    let r = &peer["ratios"];
    for (key, what, goal) in [
        ("create_p50", "create p50, bindcar's / ours", 1.0),
        (
            "creates_per_sec_8_clients",
            "creates per second at 8 clients, ours / bindcar's",
            1.0,
        ),
        ("delete_p50", "delete p50, bindcar's / ours", 1.0),
        (
            "cpu_per_create_total",
            "CPU per create (server + its named), bindcar's / ours",
            1.0,
        ),
    ] {
        all.push(target_check(
            &format!("{what} (bindcar {PEER_VERSION})"),
            num(&r[key]["median"]),
            ">=",
            goal,
            "×",
        ));
    }
    // 100,000 zones (issue 21, item 5), when the part ran.
    if scale.get("skipped").is_none() {
        let ours = &scale["servers"]["ours"];
        let n = scale["zones_goal"].as_u64().unwrap_or(0);
        let chunk = scale["chunk"].as_u64().unwrap_or(0);
        all.extend([
            target_check(
                &format!(
                    "{} zones: zones created within the part's budget (ours)",
                    thousands(n)
                ),
                num(&ours["zones"]),
                ">=",
                n as f64,
                "",
            ),
            target_check(
                &format!(
                    "{} zones: creates per second, first {} / last {} (ours)",
                    thousands(n),
                    thousands(chunk),
                    thousands(chunk)
                ),
                num(&ours["first_over_last"]),
                "<=",
                1.2,
                "×",
            ),
            target_check(
                &format!("{} zones: GET /api/v1/zones p50 (ours)", thousands(n)),
                num(&ours["list"]["p50_ms"]),
                "<=",
                10.0,
                "ms",
            ),
            target_check(
                &format!(
                    "{} zones: backend restart until every zone is listed (ours)",
                    thousands(n)
                ),
                num(&ours["restart"]["to_full_listing_secs"]),
                "<=",
                5.0,
                "s",
            ),
        ]);
    }
    Value::Array(all)
}

/// `100000` → `100,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
