//! Prometheus metrics, kept by hand: a few counters and one latency histogram family are all
//! an auth server needs, and a registry crate would cost more than this file.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route, method, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// route → latency.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// provider → successful logins.
    logins: Mutex<BTreeMap<String, u64>>,
    refresh_token_reuse: AtomicU64,
    rate_limited: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests)
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = lock(&self.latency);
        let histogram = latency.entry(route.to_owned()).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    pub fn login(&self, provider: &str) {
        *lock(&self.logins).entry(provider.to_owned()).or_default() += 1;
    }

    pub fn refresh_token_reused(&self) {
        self.refresh_token_reuse.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format; `pool` is (connections, idle) of the database pool.
    pub fn render(&self, pool: (u32, u32)) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP saoma_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE saoma_http_requests_total counter\n");
        for ((route, method, status), count) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "saoma_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        out.push_str("# HELP saoma_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE saoma_http_request_duration_seconds histogram\n");
        for (route, histogram) in lock(&self.latency).iter() {
            let route = escape(route);
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(out, "saoma_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP saoma_logins_total Successful logins by provider.\n");
        out.push_str("# TYPE saoma_logins_total counter\n");
        for (provider, count) in lock(&self.logins).iter() {
            let _ = writeln!(
                out,
                "saoma_logins_total{{provider=\"{}\"}} {count}",
                escape(provider)
            );
        }
        let counters = [
            (
                "saoma_refresh_token_reuse_detected_total",
                "Refresh tokens reused outside the reuse interval (sessions ended).",
                &self.refresh_token_reuse,
            ),
            (
                "saoma_rate_limited_total",
                "Requests refused by a rate limit.",
                &self.rate_limited,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let (size, idle) = pool;
        let _ = writeln!(
            out,
            "# HELP saoma_db_pool_connections Open database connections."
        );
        let _ = writeln!(
            out,
            "# TYPE saoma_db_pool_connections gauge\nsaoma_db_pool_connections {size}"
        );
        let _ = writeln!(
            out,
            "# HELP saoma_db_pool_idle_connections Idle database connections."
        );
        let _ = writeln!(
            out,
            "# TYPE saoma_db_pool_idle_connections gauge\nsaoma_db_pool_idle_connections {idle}"
        );
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let metrics = Metrics::default();
        metrics.request("/token", "POST", 200, Duration::from_millis(3));
        metrics.request("/token", "POST", 400, Duration::from_millis(30));
        metrics.login("wechat_qr");
        metrics.refresh_token_reused();
        let text = metrics.render((4, 3));
        assert!(text.contains(
            "saoma_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "saoma_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "saoma_http_request_duration_seconds_bucket{route=\"/token\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("saoma_logins_total{provider=\"wechat_qr\"} 1"));
        assert!(text.contains("saoma_refresh_token_reuse_detected_total 1"));
        assert!(text.contains("saoma_db_pool_connections 4"));
    }
}
