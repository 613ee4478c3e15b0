-- saoma: scan-to-log-in tickets (see domain/scan_ticket.rs) and provider apps' own access
-- tokens (see domain/app_token.rs), shared by every saoma process on this database. saoma's
-- own tables, beside GoTrue's in `auth` under the `saoma_` prefix GoTrue never uses: on a
-- database GoTrue migrated, nothing of GoTrue's is touched.
CREATE TABLE IF NOT EXISTS auth.saoma_scan_tickets (
    scene text NOT NULL PRIMARY KEY,
    provider text NOT NULL,
    flow_id uuid NOT NULL,
    browser_secret_hash text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('waiting', 'scanned', 'confirmed', 'cancelled', 'redeemed')),
    -- The person as JSON text, kept exactly as written (jsonb would reorder its keys).
    person text NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- The sweeper deletes by expiry.
CREATE INDEX IF NOT EXISTS saoma_scan_tickets_expires_at_idx
    ON auth.saoma_scan_tickets (expires_at);

-- One row per AppID, never swept: the row also carries the day's count of forced refreshes.
CREATE TABLE IF NOT EXISTS auth.saoma_app_tokens (
    app_id text NOT NULL PRIMARY KEY,
    access_token text NULL,
    expires_at timestamptz NULL,
    lease_holder text NULL,
    lease_until timestamptz NULL,
    forced_at timestamptz NULL,
    forced_today integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);
