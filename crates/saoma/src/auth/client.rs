//! Who is calling, as the services need it.

/// The caller of a request, for sessions, the audit log and rate limits: the client IP and
/// the User-Agent. The HTTP layer decides them (see `http::extract`): behind a proxy
/// (`rate_limit.header` set) the IP is the address your proxies appended to that header;
/// otherwise, or when the header holds no usable address, it is the peer address.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}
