//! Counters and histograms exported at `GET /metrics` in the Prometheus text format (0.0.4).
//! Lock-free: one atomic per series, so the hot path pays a few relaxed increments.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axtary_core::policy::Effect;

use crate::pipeline::RunStatus;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The routes whose latency is measured separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Actions,
    Decide,
    Approvals,
    Proxy,
    Health,
    Metrics,
    Openapi,
    Mcp,
    Other,
}

impl Route {
    const ALL: [Route; 9] = [
        Route::Actions,
        Route::Decide,
        Route::Approvals,
        Route::Proxy,
        Route::Health,
        Route::Metrics,
        Route::Openapi,
        Route::Mcp,
        Route::Other,
    ];

    pub fn of(path: &str) -> Route {
        match path {
            "/v1/actions" => Route::Actions,
            "/v1/decide" => Route::Decide,
            "/healthz" => Route::Health,
            "/metrics" => Route::Metrics,
            "/openapi.json" => Route::Openapi,
            "/mcp" => Route::Mcp,
            p if p.starts_with("/v1/approvals/") => Route::Approvals,
            p if p.starts_with("/proxy/") => Route::Proxy,
            _ => Route::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Actions => "/v1/actions",
            Route::Decide => "/v1/decide",
            Route::Approvals => "/v1/approvals",
            Route::Proxy => "/proxy",
            Route::Health => "/healthz",
            Route::Metrics => "/metrics",
            Route::Openapi => "/openapi.json",
            Route::Mcp => "/mcp",
            Route::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = self.buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

const EFFECTS: [Effect; 3] = Effect::ALL;
const STATUSES: [(RunStatus, &str); 5] = [
    (RunStatus::Executed, "executed"),
    (RunStatus::Failed, "failed"),
    (RunStatus::DryRun, "dry_run"),
    (RunStatus::Denied, "denied"),
    (RunStatus::PendingApproval, "pending_approval"),
];

/// The daemon's metrics.
#[derive(Default)]
pub struct Metrics {
    decisions: [AtomicU64; 3],
    runs: [AtomicU64; 5],
    latency: [Histogram; 9],
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

/// Values read elsewhere at scrape time.
pub struct Gauges {
    pub policy_loaded: bool,
    pub ledger_append_failures: u64,
    pub ledger_entries: Option<u64>,
}

impl Metrics {
    pub fn decision(&self, effect: Effect) {
        if let Some(i) = EFFECTS.iter().position(|e| *e == effect) {
            self.decisions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn run(&self, status: RunStatus) {
        if let Some(i) = STATUSES.iter().position(|(s, _)| *s == status) {
            self.runs[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn request(&self, route: Route, elapsed: Duration) {
        if let Some(h) = self.latency.get(route.index()) {
            h.observe(elapsed);
        }
    }

    pub fn reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        // Writing to a String cannot fail.
        let _ = (|| -> std::fmt::Result {
            writeln!(
                out,
                "# HELP axtary_decisions_total Decisions made, by effect."
            )?;
            writeln!(out, "# TYPE axtary_decisions_total counter")?;
            for (i, e) in EFFECTS.iter().enumerate() {
                writeln!(
                    out,
                    "axtary_decisions_total{{effect=\"{e}\"}} {}",
                    get(&self.decisions[i])
                )?;
            }
            writeln!(
                out,
                "# HELP axtary_runs_total Actions run through the pipeline, by final status."
            )?;
            writeln!(out, "# TYPE axtary_runs_total counter")?;
            for (i, (_, s)) in STATUSES.iter().enumerate() {
                writeln!(
                    out,
                    "axtary_runs_total{{status=\"{s}\"}} {}",
                    get(&self.runs[i])
                )?;
            }
            writeln!(
                out,
                "# HELP axtary_http_request_duration_seconds Time to answer an HTTP request, by route."
            )?;
            writeln!(out, "# TYPE axtary_http_request_duration_seconds histogram")?;
            for route in Route::ALL {
                let h = &self.latency[route.index()];
                let label = route.label();
                let mut cumulative = 0;
                for (i, bound) in BUCKETS.iter().enumerate() {
                    cumulative += get(&h.buckets[i]);
                    writeln!(
                        out,
                        "axtary_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                    )?;
                }
                cumulative += get(&h.buckets[BUCKETS.len()]);
                writeln!(
                    out,
                    "axtary_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {cumulative}"
                )?;
                writeln!(
                    out,
                    "axtary_http_request_duration_seconds_sum{{route=\"{label}\"}} {}",
                    get(&h.sum_micros) as f64 / 1e6
                )?;
                // The count is the +Inf bucket, read once, so the two always agree.
                writeln!(
                    out,
                    "axtary_http_request_duration_seconds_count{{route=\"{label}\"}} {cumulative}"
                )?;
            }
            writeln!(
                out,
                "# HELP axtary_ledger_append_failures_total Ledger appends that failed (each one a deny, or an outcome recovery will report as unknown)."
            )?;
            writeln!(out, "# TYPE axtary_ledger_append_failures_total counter")?;
            writeln!(
                out,
                "axtary_ledger_append_failures_total {}",
                gauges.ledger_append_failures
            )?;
            if let Some(n) = gauges.ledger_entries {
                writeln!(out, "# HELP axtary_ledger_entries Entries in the ledger.")?;
                writeln!(out, "# TYPE axtary_ledger_entries gauge")?;
                writeln!(out, "axtary_ledger_entries {n}")?;
            }
            writeln!(
                out,
                "# HELP axtary_policy_reloads_total Policy reloads after the file changed, by result."
            )?;
            writeln!(out, "# TYPE axtary_policy_reloads_total counter")?;
            writeln!(
                out,
                "axtary_policy_reloads_total{{result=\"ok\"}} {}",
                get(&self.reloads_ok)
            )?;
            writeln!(
                out,
                "axtary_policy_reloads_total{{result=\"failed\"}} {}",
                get(&self.reloads_failed)
            )?;
            writeln!(
                out,
                "# HELP axtary_policy_loaded 1 if a valid policy is in force, 0 if every action is denied for want of one."
            )?;
            writeln!(out, "# TYPE axtary_policy_loaded gauge")?;
            writeln!(
                out,
                "axtary_policy_loaded {}",
                u8::from(gauges.policy_loaded)
            )?;
            Ok(())
        })();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_matches() {
        let m = Metrics::default();
        m.request(Route::Decide, Duration::from_micros(300));
        m.request(Route::Decide, Duration::from_millis(3));
        m.request(Route::Decide, Duration::from_secs(30));
        m.decision(Effect::Allow);
        m.run(RunStatus::PendingApproval);
        let text = m.render(&Gauges {
            policy_loaded: true,
            ledger_append_failures: 0,
            ledger_entries: Some(3),
        });
        assert!(text.contains(
            "axtary_http_request_duration_seconds_bucket{route=\"/v1/decide\",le=\"0.0005\"} 1\n"
        ));
        assert!(text.contains(
            "axtary_http_request_duration_seconds_bucket{route=\"/v1/decide\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains(
            "axtary_http_request_duration_seconds_bucket{route=\"/v1/decide\",le=\"+Inf\"} 3\n"
        ));
        assert!(
            text.contains("axtary_http_request_duration_seconds_count{route=\"/v1/decide\"} 3\n")
        );
        assert!(text.contains("axtary_decisions_total{effect=\"allow\"} 1\n"));
        assert!(text.contains("axtary_runs_total{status=\"pending_approval\"} 1\n"));
        assert!(text.contains("axtary_policy_loaded 1\n"));
    }
}
