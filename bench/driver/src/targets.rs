//! The figures set against their targets, for the report's last table.

use serde_json::{json, Value};

pub(crate) fn target_check(name: &str, value: f64, op: &str, goal: f64) -> Value {
    let met = match op {
        ">=" => value >= goal,
        "<=" => value <= goal,
        _ => value < goal,
    };
    json!({"target": name, "value": value, "op": op, "goal": goal, "met": met})
}

pub(crate) fn variant_ratio(section: &Value, id: &str) -> f64 {
    section["variants"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["id"] == id))
        .and_then(|x| x["vs_baseline"]["rps"]["median"].as_f64())
        .unwrap_or(f64::NAN)
}

pub(crate) fn targets(filter: &Value, reference: &Value, ops: &Value) -> Value {
    let rpt = &filter["reviews_per_token"];
    let cmp = &reference["comparisons"];
    json!([
        target_check(
            "basic mode throughput / bare Envoy",
            variant_ratio(filter, "b"),
            ">=",
            0.90
        ),
        target_check(
            "TokenReview (warm cache) throughput / bare Envoy",
            variant_ratio(filter, "c"),
            ">=",
            0.85
        ),
        target_check(
            "max reviews per token / (workers × TTL windows)",
            rpt["max"].as_f64().unwrap_or(f64::NAN) / rpt["bound"].as_f64().unwrap_or(f64::NAN),
            "<=",
            1.0
        ),
        target_check(
            "cached stack / reference, authenticated GET /zones per second (no zone listed)",
            variant_ratio(&cmp["zones_0"], "stack"),
            ">=",
            10.0
        ),
        target_check(
            "cached stack / reference, authenticated GET /zones per second (one zone listed)",
            variant_ratio(&cmp["zones_1"], "stack"),
            ">=",
            10.0
        ),
        target_check(
            "backend create p50 (ms)",
            ops["ops"]["create"]["p50_ms"].as_f64().unwrap_or(f64::NAN),
            "<",
            5.0
        ),
        target_check(
            "backend delete p50 (ms)",
            ops["ops"]["delete"]["p50_ms"].as_f64().unwrap_or(f64::NAN),
            "<",
            5.0
        ),
    ])
}
