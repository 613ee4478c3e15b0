ALTER TABLE flow_state ADD COLUMN provider_code_hash TEXT;
