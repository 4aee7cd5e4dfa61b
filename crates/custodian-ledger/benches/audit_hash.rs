//! The audit chain's inner loop: canonical JSON (RFC 8785) and SHA-256 of
//! one entry, which both appending and verifying pay per entry.
//! Run: `cargo bench -p custodian-ledger`.
#![allow(missing_docs)] // a benchmark harness

use custodian_ledger::audit::{AuditEntry, GENESIS, entry_hash};

fn entry() -> AuditEntry {
    AuditEntry {
        seq: 7405,
        at: chrono::Utc::now(),
        actor: "adjuster:José".into(),
        action: "update".into(),
        entity: "case".into(),
        entity_id: Some("0193a1c2-0000-7000-8000-000000000001".into()),
        changed: serde_json::json!(["status", "assigned_team_id", "priority_score"]),
        request_id: Some("f9e53f85-3d68-4747-ae58-942aff9d3897".into()),
        prev_hash: GENESIS.to_owned(),
        hash: String::new(),
    }
}

#[divan::bench]
fn canonical_json_and_sha256(b: divan::Bencher) {
    let e = entry();
    b.bench(|| entry_hash(divan::black_box(GENESIS), divan::black_box(&e)));
}

fn main() {
    divan::main();
}
