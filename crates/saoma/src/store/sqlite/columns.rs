//! Every column list SQLite statements select, in one place: each row type's decoder in
//! `decode` reads exactly these names.

/// `$t` and each column, comma-separated (`$t`: `""` or a table alias with its dot).
macro_rules! qualified {
    ($t:literal; $first:ident $(, $rest:ident)*) => {
        concat!($t, stringify!($first) $(, ", ", $t, stringify!($rest))*)
    };
}

/// A user's columns, each qualified by `$t`.
macro_rules! user_columns {
    ($t:literal) => {
        qualified!($t; id, aud, role, email, encrypted_password, email_confirmed_at,
            confirmation_sent_at, phone, phone_confirmed_at, phone_change, phone_change_sent_at,
            invited_at, recovery_sent_at, email_change, email_change_sent_at,
            email_change_confirm_status, reauthentication_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, banned_until, is_anonymous,
            created_at, updated_at)
    };
}

/// A session's columns of table `$t` (with its dot), named with the prefix `$a` (see
/// [`super::super::row_shapes::SessionColumns`]); its AMR claims as one JSON array, ordered
/// by when each method was last used, oldest first.
#[rustfmt::skip]
macro_rules! session_columns {
    ($t:literal, $a:literal) => {
        concat!(
            $t, "id AS ", $a, "id, ", $t, "user_id AS ", $a, "user_id, ",
            $t, "aal AS ", $a, "aal, ", $t, "not_after AS ", $a, "not_after, ",
            $t, "refreshed_at AS ", $a, "refreshed_at, ", $t, "user_agent AS ", $a, "user_agent, ",
            $t, "ip AS ", $a, "ip, ", $t, "created_at AS ", $a, "created_at, ",
            $t, "updated_at AS ", $a, "updated_at, ",
            "(SELECT json_group_array(json_object('method', a.authentication_method, \
            'at', a.updated_at) ORDER BY a.updated_at, a.id) FROM mfa_amr_claims a \
            WHERE a.session_id = ", $t, "id) AS ", $a, "amr"
        )
    };
}

/// Public, as the next two and [`FLOW_COLUMNS`], so that the benchmark's engine floor reads
/// rows as saoma does.
pub const USER_COLUMNS: &str = user_columns!("");
pub const IDENTITY_COLUMNS: &str = "id, provider_id, provider, user_id, identity_data, \
    email, last_sign_in_at, created_at, updated_at";
/// Public so that the benchmark's refresh floor reads a session as saoma does.
pub const SESSION_COLUMNS: &str = session_columns!("sessions.", "");
pub(super) const TOKEN_COLUMNS: &str =
    "id, token, nonce, user_id, session_id, parent, revoked, created_at, updated_at";
/// In the order `flow_from_row` reads them: rusqlite's rows are searched by name from the
/// column found last.
pub const FLOW_COLUMNS: &str = "code_challenge, code_challenge_method, id, provider_type, \
    authentication_method, referrer, user_id, auth_code, auth_code_issued_at, \
    provider_access_token, provider_refresh_token, provider_code_hash, linking_target_id, \
    created_at";
pub(super) const AUDIT_COLUMNS: &str = "id, payload, created_at, ip_address";
pub(super) const SCAN_TICKET_COLUMNS: &str = "scene, provider, flow_id, browser_secret_hash, \
    status, person, created_at, expires_at, updated_at";
pub(super) const APP_TOKEN_COLUMNS: &str = "app_id, access_token, expires_at, lease_holder, \
    lease_until, forced_at, forced_today, updated_at";
/// A one-time code with its wrong guesses (from `saoma_one_time_token_guesses`, joined as `g`).
pub(super) const ONE_TIME_TOKEN_COLUMNS: &str = "t.id, t.user_id, t.token_type, t.token_hash, \
    t.relates_to, t.created_at, coalesce(g.wrong_guesses, 0) AS wrong_guesses";

/// The token check (`UserStore::principal`): the user, the session (columns as in
/// `SessionColumns::JOINED`) and the identities as a JSON array, in one statement.
pub const PRINCIPAL_SQL: &str = concat!(
    "SELECT ",
    user_columns!("u."),
    ", ",
    session_columns!("s.", "s_"),
    ", (SELECT json_group_array(json_object('id', i.id, 'provider_id', i.provider_id, \
    'provider', i.provider, 'user_id', i.user_id, 'identity_data', json(i.identity_data), \
    'email', i.email, 'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at, \
    'updated_at', i.updated_at) ORDER BY i.created_at, i.id) \
    FROM identities i WHERE i.user_id = u.id) AS identities \
    FROM users u LEFT JOIN sessions s ON s.id = ?2 AND s.user_id = u.id \
    WHERE u.id = ?1 AND u.deleted_at IS NULL"
);
