-- The same tables as the Postgres `auth` schema, in SQLite's types:
-- uuids and timestamps as TEXT, JSON as TEXT, booleans as INTEGER.
CREATE TABLE IF NOT EXISTS users (
    id TEXT NOT NULL PRIMARY KEY,
    aud TEXT,
    role TEXT,
    email TEXT,
    encrypted_password TEXT,
    email_confirmed_at TEXT,
    invited_at TEXT,
    confirmation_sent_at TEXT,
    recovery_sent_at TEXT,
    last_sign_in_at TEXT,
    raw_app_meta_data TEXT,
    raw_user_meta_data TEXT,
    created_at TEXT,
    updated_at TEXT,
    phone TEXT UNIQUE,
    phone_confirmed_at TEXT,
    banned_until TEXT,
    is_sso_user INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    is_anonymous INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON users (email) WHERE is_sso_user = 0;

CREATE TABLE IF NOT EXISTS identities (
    id TEXT NOT NULL PRIMARY KEY,
    provider_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_data TEXT NOT NULL,
    provider TEXT NOT NULL,
    email TEXT,
    last_sign_in_at TEXT,
    created_at TEXT,
    updated_at TEXT,
    UNIQUE (provider_id, provider)
);
CREATE INDEX IF NOT EXISTS identities_user_id_idx ON identities (user_id);

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT,
    updated_at TEXT,
    factor_id TEXT,
    aal TEXT,
    not_after TEXT,
    refreshed_at TEXT,
    user_agent TEXT,
    ip TEXT,
    tag TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT UNIQUE,
    user_id TEXT,
    revoked INTEGER,
    created_at TEXT,
    updated_at TEXT,
    parent TEXT,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    nonce TEXT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_id_revoked_idx ON refresh_tokens (session_id, revoked);

CREATE TABLE IF NOT EXISTS flow_state (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT,
    auth_code TEXT,
    code_challenge_method TEXT,
    code_challenge TEXT,
    provider_type TEXT NOT NULL,
    provider_access_token TEXT,
    provider_refresh_token TEXT,
    created_at TEXT,
    updated_at TEXT,
    authentication_method TEXT NOT NULL,
    auth_code_issued_at TEXT,
    referrer TEXT,
    linking_target_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_auth_code ON flow_state (auth_code);

CREATE TABLE IF NOT EXISTS audit_log_entries (
    id TEXT NOT NULL PRIMARY KEY,
    payload TEXT,
    created_at TEXT,
    ip_address TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS mfa_amr_claims (
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    authentication_method TEXT NOT NULL,
    UNIQUE (session_id, authentication_method)
);
