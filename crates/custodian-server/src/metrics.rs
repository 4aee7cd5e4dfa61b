//! Prometheus metrics: requests by route and status, latency, pool use.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const REQUESTS: &str = "custodian_http_requests_total";
const DURATION: &str = "custodian_http_request_duration_seconds";

/// The process-wide recorder; installed once, shared by every router.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = PrometheusBuilder::new();
            let builder =
                match builder.set_buckets_for_metric(Matcher::Full(DURATION.into()), &buckets) {
                    Ok(b) => b,
                    // Only an empty bucket list is refused; ours is not.
                    Err(_) => PrometheusBuilder::new(),
                };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // application's); ours still renders what it records.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts and times every request under its route template, never its raw
/// path, so label cardinality stays bounded.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    res
}

/// Sets the pool gauges just before a scrape.
pub fn record_pool(stats: custodian_core::store::PoolStats) {
    metrics::gauge!("custodian_db_pool_connections").set(f64::from(stats.size));
    metrics::gauge!("custodian_db_pool_connections_in_use")
        .set(f64::from(stats.size.saturating_sub(stats.idle)));
}

/// Publishes the outcome of the last audit verification.
pub fn record_verification(v: &custodian_ledger::audit::Verification) {
    metrics::gauge!("custodian_audit_last_verify_ok").set(if v.ok() { 1.0 } else { 0.0 });
    metrics::gauge!("custodian_audit_last_verify_entries").set(v.entries as f64);
    metrics::gauge!("custodian_audit_last_verify_timestamp_seconds")
        .set(chrono::Utc::now().timestamp() as f64);
}

/// Publishes the chain's current length (its head seq).
pub fn record_chain_length(len: u64) {
    metrics::gauge!("custodian_audit_chain_length").set(len as f64);
}

/// Publishes how many audit entries wait in the queue to be linked.
pub fn record_audit_backlog(n: u64) {
    metrics::gauge!("custodian_audit_backlog").set(n as f64);
}
