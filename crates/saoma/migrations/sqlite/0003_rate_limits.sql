CREATE TABLE IF NOT EXISTS saoma_rate_limits (
    key TEXT NOT NULL PRIMARY KEY,
    tokens REAL NOT NULL,
    updated_at REAL NOT NULL
);
