-- saoma: the provider's code (hashed) of a completed flow, to answer WeChat's duplicate
-- redirects with the same result instead of an error.
ALTER TABLE auth.flow_state ADD COLUMN IF NOT EXISTS provider_code_hash text NULL;
