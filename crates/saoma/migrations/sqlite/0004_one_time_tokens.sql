-- One-time codes in GoTrue's `one_time_tokens` shape (see the Postgres migration), and
-- saoma's count of wrong guesses per code beside it.
CREATE TABLE IF NOT EXISTS one_time_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_type TEXT NOT NULL CHECK (token_type IN (
        'confirmation_token', 'reauthentication_token', 'recovery_token',
        'email_change_token_new', 'email_change_token_current', 'phone_change_token'
    )),
    token_hash TEXT NOT NULL CHECK (length(token_hash) > 0),
    relates_to TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_time_tokens_user_id_token_type_key
    ON one_time_tokens (user_id, token_type);
CREATE INDEX IF NOT EXISTS one_time_tokens_relates_to_idx ON one_time_tokens (relates_to);
CREATE INDEX IF NOT EXISTS one_time_tokens_created_at_idx ON one_time_tokens (created_at);

CREATE TABLE IF NOT EXISTS saoma_one_time_token_guesses (
    token_id TEXT NOT NULL PRIMARY KEY REFERENCES one_time_tokens (id) ON DELETE CASCADE,
    wrong_guesses INTEGER NOT NULL
);
