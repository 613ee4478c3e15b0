-- The email flows' columns of GoTrue's users table: a pending new address (`''` for none, as
-- GoTrue stores it), how far its double confirmation got, and when reauthentication was asked.
ALTER TABLE users ADD COLUMN email_change TEXT DEFAULT '';
ALTER TABLE users ADD COLUMN email_change_sent_at TEXT;
ALTER TABLE users ADD COLUMN email_change_confirm_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN reauthentication_sent_at TEXT;
CREATE INDEX IF NOT EXISTS one_time_tokens_token_hash_idx ON one_time_tokens (token_hash);
