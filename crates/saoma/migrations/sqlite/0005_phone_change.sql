-- A pending new number and when its code was sent, as GoTrue's users table has them
-- (`''` for no pending number, as GoTrue stores it).
ALTER TABLE users ADD COLUMN phone_change TEXT DEFAULT '';
ALTER TABLE users ADD COLUMN phone_change_sent_at TEXT;
