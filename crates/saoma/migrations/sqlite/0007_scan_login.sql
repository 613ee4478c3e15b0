-- saoma: scan-to-log-in tickets (see domain/scan_ticket.rs), shared by every process on this
-- file. Times are fixed-width RFC 3339 text, so comparing them as text compares the times.
CREATE TABLE IF NOT EXISTS saoma_scan_tickets (
    scene TEXT NOT NULL PRIMARY KEY,
    provider TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    browser_secret_hash TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('waiting', 'scanned', 'confirmed', 'cancelled', 'redeemed')),
    person TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- The sweeper deletes by expiry.
CREATE INDEX IF NOT EXISTS saoma_scan_tickets_expires_at_idx ON saoma_scan_tickets (expires_at);

-- saoma: provider apps' own access tokens (see domain/app_token.rs), one row per AppID, never
-- swept: the row also carries the day's count of forced refreshes.
CREATE TABLE IF NOT EXISTS saoma_app_tokens (
    app_id TEXT NOT NULL PRIMARY KEY,
    access_token TEXT,
    expires_at TEXT,
    lease_holder TEXT,
    lease_until TEXT,
    forced_at TEXT,
    forced_today INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
