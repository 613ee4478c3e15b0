-- saoma: rate-limit token buckets, shared by every saoma process on this database.
-- `updated_at` is in seconds since the epoch (double precision keeps the refill arithmetic
-- in one statement).
CREATE TABLE IF NOT EXISTS auth.saoma_rate_limits (
    key text NOT NULL PRIMARY KEY,
    tokens double precision NOT NULL,
    updated_at double precision NOT NULL
);
