-- One-time codes (phone sign-in) in GoTrue's own `auth.one_time_tokens`, created only where
-- missing and with GoTrue's names and types: on a database GoTrue already migrated this is a
-- no-op, and GoTrue's own migration (which also creates only what is missing) still runs
-- after it. Codes are stored as GoTrue stores them: SHA-224 hashes, never the code.
DO $$ BEGIN
    CREATE TYPE auth.one_time_token_type AS ENUM (
        'confirmation_token', 'reauthentication_token', 'recovery_token',
        'email_change_token_new', 'email_change_token_current', 'phone_change_token'
    );
EXCEPTION
    WHEN duplicate_object THEN NULL;
END $$;

CREATE TABLE IF NOT EXISTS auth.one_time_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_type auth.one_time_token_type NOT NULL,
    token_hash text NOT NULL,
    relates_to text NOT NULL,
    created_at timestamp without time zone NOT NULL DEFAULT now(),
    updated_at timestamp without time zone NOT NULL DEFAULT now(),
    CHECK (char_length(token_hash) > 0)
);
CREATE INDEX IF NOT EXISTS one_time_tokens_token_hash_hash_idx
    ON auth.one_time_tokens USING hash (token_hash);
CREATE INDEX IF NOT EXISTS one_time_tokens_relates_to_hash_idx
    ON auth.one_time_tokens USING hash (relates_to);
CREATE UNIQUE INDEX IF NOT EXISTS one_time_tokens_user_id_token_type_key
    ON auth.one_time_tokens (user_id, token_type);

-- saoma only: wrong guesses per code (GoTrue keeps no count). Goes with its code.
CREATE TABLE IF NOT EXISTS auth.saoma_one_time_token_guesses (
    token_id uuid NOT NULL PRIMARY KEY REFERENCES auth.one_time_tokens (id) ON DELETE CASCADE,
    wrong_guesses integer NOT NULL
);
