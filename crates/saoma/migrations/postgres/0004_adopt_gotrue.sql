-- saoma on a database where Supabase Auth (GoTrue) already ran its migrations. 0001 creates
-- tables only when they are missing, so GoTrue's tables stay as GoTrue left them; this adds
-- what saoma writes and GoTrue does not have. Every statement is a no-op on saoma's own schema
-- and on a database it already adopted, and none of them gets in the way of GoTrue's later
-- migrations (they add their columns with IF NOT EXISTS too).

-- saoma: the nonce a refresh token is derived from (see domain/refresh.rs). GoTrue's rows keep
-- it NULL: their `token` is the plaintext GoTrue handed out, rotated into saoma's form on use.
ALTER TABLE auth.refresh_tokens ADD COLUMN IF NOT EXISTS nonce varchar(64) NULL;

-- GoTrue before its 2026-01 flow_state migration: no redirect or linking target on a flow, and
-- a PKCE challenge and an auth code required from the start. saoma stores a flow before the
-- provider answers (so without a code) and also for implicit flows (without a challenge).
-- The columns are GoTrue's own, with GoTrue's types, so its later migration finds them.
ALTER TABLE auth.flow_state
    ADD COLUMN IF NOT EXISTS referrer text NULL,
    ADD COLUMN IF NOT EXISTS linking_target_id uuid NULL,
    ALTER COLUMN auth_code DROP NOT NULL,
    ALTER COLUMN code_challenge DROP NOT NULL,
    ALTER COLUMN code_challenge_method DROP NOT NULL;
