//! Prometheus metrics, kept by hand: a few counters and one latency histogram family are all
//! an auth server needs, and a registry crate would cost more than this file.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, RwLock,
    },
    time::Duration,
};

use axum::http::Method;

use crate::sync::lock;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One route's requests and latency. Recording a request on a route seen before takes a read
/// lock and no allocation: it runs on every request.
#[derive(Default)]
struct RouteStats {
    /// (method, status) → requests; a handful per route.
    responses: Mutex<Vec<(Method, u16, u64)>>,
    /// Requests at or under each bound of [`BUCKETS`].
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn record(&self, method: &Method, status: u16, elapsed: Duration) {
        {
            let mut responses = lock(&self.responses);
            match responses
                .iter_mut()
                .find(|(m, s, _)| *s == status && m == method)
            {
                Some((_, _, count)) => *count += 1,
                None => responses.push((method.clone(), status, 1)),
            }
        }
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Metrics {
    /// route template → its requests.
    routes: RwLock<BTreeMap<String, RouteStats>>,
    /// provider → successful logins.
    logins: Mutex<BTreeMap<String, u64>>,
    refresh_token_reuse: AtomicU64,
    rate_limited: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            if let Some(stats) = routes.get(route) {
                stats.record(method, status, elapsed);
                return;
            }
        }
        self.routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(route.to_owned())
            .or_default()
            .record(method, status, elapsed);
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
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        for (route, stats) in routes.iter() {
            let mut responses = lock(&stats.responses).clone();
            responses.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
            for (method, status, count) in responses {
                let _ = writeln!(
                    out,
                    "saoma_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP saoma_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE saoma_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            let route = escape(route);
            for (bound, count) in BUCKETS.iter().zip(&stats.buckets) {
                let count = count.load(Ordering::Relaxed);
                let _ = writeln!(out, "saoma_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let count = stats.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "saoma_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        drop(routes);
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
        metrics.request("/token", &Method::POST, 200, Duration::from_millis(3));
        metrics.request("/token", &Method::POST, 400, Duration::from_millis(30));
        metrics.request("/token", &Method::POST, 200, Duration::from_millis(1));
        metrics.login("wechat_qr");
        metrics.refresh_token_reused();
        let text = metrics.render((4, 3));
        assert!(text.contains(
            "saoma_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "saoma_http_requests_total{route=\"/token\",method=\"POST\",status=\"400\"} 1"
        ));
        assert!(text.contains(
            "saoma_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "saoma_http_request_duration_seconds_bucket{route=\"/token\",le=\"+Inf\"} 3"
        ));
        assert!(text.contains("saoma_http_request_duration_seconds_sum{route=\"/token\"} 0.034"));
        assert!(text.contains("saoma_logins_total{provider=\"wechat_qr\"} 1"));
        assert!(text.contains("saoma_refresh_token_reuse_detected_total 1"));
        assert!(text.contains("saoma_db_pool_connections 4"));
    }
}
