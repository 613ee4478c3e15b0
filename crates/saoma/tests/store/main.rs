//! The store conformance suite: every check runs against SQLite and against Postgres
//! (the latter needs `SAOMA_TEST_PG_URL`; `scripts/test` always provides one).
//!
//! Every method of every store trait is exercised on both backends; one module per aggregate,
//! as the traits are split. A new method gets a row here and a check in its module.
//!
//! | Method                        | Checked by                                              |
//! |-------------------------------|---------------------------------------------------------|
//! | UserStore::create_user        | users::users_round_trip, users::emails_and_identities_are_unique |
//! | UserStore::create_account     | users::an_account_is_written_whole_or_not_at_all        |
//! | UserStore::change_user        | users::users_round_trip, users::concurrent_changes_to_one_user_all_hold, users::identities_change_with_the_user_in_one_transaction, users::a_sign_ins_identity_and_metadata_change_together_or_not_at_all, one_time_tokens::links_are_found_by_hash_and_cleared_with_a_user_change |
//! | UserStore::user_by_id         | users::users_round_trip                                 |
//! | UserStore::principal          | users::principal_reads_user_session_and_identities_together, users::concurrent_principal_reads_each_get_their_own_answer, backends::* |
//! | UserStore::user_by_email      | users::users_round_trip, users::soft_deleting_frees_the_email_and_ends_everything |
//! | UserStore::user_by_phone     | users::users_are_found_by_phone                         |
//! | UserStore::list_users         | users::users_are_listed_oldest_first_in_pages           |
//! | UserStore::delete_user        | users::deleting_a_user_deletes_what_hangs_off_it        |
//! | UserStore::soft_delete_user   | users::soft_deleting_frees_the_email_and_ends_everything |
//! | IdentityStore::identities_of  | identities::identities_are_found_added_changed_and_removed |
//! | IdentityStore::identity_by_provider | identities::identities_are_found_added_changed_and_removed |
//! | IdentityStore::identities_by_provider_id | identities::identities_are_found_added_changed_and_removed |
//! | IdentityStore::add_identity   | identities::identities_are_found_added_changed_and_removed |
//! | IdentityStore::delete_identity | identities::identities_are_found_added_changed_and_removed |
//! | IdentityStore::update_identity | identities::identities_are_found_added_changed_and_removed |
//! | SessionStore::create_session  | sessions::sessions_and_sign_in_stamp                    |
//! | SessionStore::session_by_id   | sessions::sessions_and_sign_in_stamp                    |
//! | SessionStore::record_amr_claim | sessions::every_amr_method_is_kept_in_order            |
//! | SessionStore::end_sessions    | sessions::ending_sessions_by_scope                      |
//! | SessionStore::rotate_refresh_token | sessions::rotation_follows_gotrue_rules, sessions::rotation_without_family_revocation, sessions::expired_sessions_do_not_refresh, sessions::a_rotation_writes_its_audit_entry_with_it, sessions::a_rotations_audit_entry_survives_any_metadata, sessions::a_rotation_answers_the_user_and_identities_as_stored, backends::sqlite_refuses_a_refresh_for_metadata_that_is_not_json_and_keeps_the_token |
//! | SessionStore::rotate_gotrue_refresh_token | sessions::a_stored_hash_is_never_a_gotrue_token, sessions::postgres_rotates_a_token_gotrue_issued |
//! | SessionStore::present_refresh_token | sessions::a_token_is_presented_as_the_client_sent_it |
//! | FlowStore::create_flow        | flows::a_flow_is_completed_once_and_used_once           |
//! | FlowStore::flow_by_id         | flows::a_flow_is_completed_once_and_used_once           |
//! | FlowStore::pending_flow_of    | flows::an_email_links_flow_is_found_by_its_user_and_method_until_completed |
//! | FlowStore::flow_by_auth_code  | flows::a_flow_is_completed_once_and_used_once           |
//! | FlowStore::complete_flow      | flows::a_flow_is_completed_once_and_used_once           |
//! | FlowStore::delete_flow        | flows::a_flow_is_completed_once_and_used_once           |
//! | OneTimeTokenStore::issue_one_time_token_unless_sent_after | one_time_tokens::a_code_is_not_replaced_inside_the_resend_interval |
//! | OneTimeTokenStore::issue_one_time_token | one_time_tokens::a_new_code_replaces_the_last_of_its_kind, housekeeping::the_sweeper_deletes_only_what_nothing_can_use |
//! | OneTimeTokenStore::one_time_token_of | one_time_tokens::a_new_code_replaces_the_last_of_its_kind |
//! | OneTimeTokenStore::one_time_tokens_for | one_time_tokens::codes_are_found_by_destination_and_kind |
//! | OneTimeTokenStore::one_time_tokens_by_hash | one_time_tokens::links_are_found_by_hash_and_cleared_with_a_user_change |
//! | OneTimeTokenStore::consume_one_time_token | one_time_tokens::a_code_is_consumed_once_even_concurrently |
//! | OneTimeTokenStore::take_guess | one_time_tokens::wrong_guesses_kill_a_code_at_the_limit, one_time_tokens::guesses_at_once_get_no_more_tries_than_the_limit |
//! | RateLimitStore::take_rate_limit_token | rate_limits::buckets_empty_and_refill, housekeeping::the_sweeper_deletes_only_what_nothing_can_use |
//! | ScanTicketStore::create_scan_ticket | scan_tickets::a_ticket_reads_back_as_created_and_its_scene_is_unique, housekeeping::the_sweeper_deletes_only_what_nothing_can_use |
//! | ScanTicketStore::scan_ticket  | scan_tickets::a_ticket_reads_back_as_created_and_its_scene_is_unique |
//! | ScanTicketStore::advance_scan_ticket | scan_tickets::a_ticket_moves_only_from_the_listed_statuses, scan_tickets::an_expired_ticket_does_not_move, scan_tickets::two_confirms_at_once_only_one_wins |
//! | AppTokenStore::app_token      | app_tokens::the_first_holder_keeps_the_lease_until_it_runs_out, app_tokens::only_the_holder_stores_and_storing_ends_the_lease |
//! | AppTokenStore::lease_app_token | app_tokens::the_first_holder_keeps_the_lease_until_it_runs_out, app_tokens::two_nodes_leasing_at_once_only_one_wins, housekeeping::the_sweeper_deletes_only_what_nothing_can_use |
//! | AppTokenStore::store_app_token | app_tokens::only_the_holder_stores_and_storing_ends_the_lease, app_tokens::forced_refreshes_are_counted_per_utc_day |
//! | AppTokenStore::release_app_token_lease | app_tokens::a_released_lease_is_free_for_the_next_holder |
//! | AuditStore::record_audit      | audit::audit_entries_are_listed_newest_first_in_pages   |
//! | AuditStore::list_audit        | audit::audit_entries_are_listed_newest_first_in_pages   |
//! | Housekeeping::migrate         | housekeeping::migrations_are_idempotent_and_concurrent_safe |
//! | Housekeeping::ping            | housekeeping::migrations_are_idempotent_and_concurrent_safe |
//! | Housekeeping::pool_stats      | housekeeping::pool_stats_count_open_and_idle_connections |
//! | Housekeeping::sweep           | housekeeping::the_sweeper_deletes_only_what_nothing_can_use |

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../common/db.rs"]
mod db;

use std::future::Future;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use saoma::{
    domain::{
        app_token::AppToken,
        audit::{Action, AuditEntry},
        flow::FlowState,
        one_time_token::{OneTimeToken, TokenType},
        refresh::{RefreshTokenKey, RotationPolicy},
        session::LogoutScope,
        user_changes::IdentityChange,
        Identity, Session, User, UserChanges,
    },
    store::{self, NewAccount, Rotation, SharedStore, StoreError},
};
use serde_json::json;
use uuid::Uuid;

use db::{Backend, TestDb};

/// Runs `check` on a fresh, migrated store of `backend`.
async fn with_store<F, Fut>(backend: Backend, check: F)
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Postgres && db::pg_admin_url().is_none() {
        eprintln!("SKIPPED: set SAOMA_TEST_PG_URL to run the Postgres conformance checks");
        return;
    }
    let db = TestDb::new(backend).await;
    let store = store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    check(store).await;
}

/// Declares one conformance check as a test per backend.
macro_rules! conformance {
    ($name:ident, $check:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                with_store(Backend::Sqlite, $check).await;
            }
            #[tokio::test]
            async fn postgres() {
                with_store(Backend::Postgres, $check).await;
            }
        }
    };
}

/// Stores round timestamps to microseconds.
fn now() -> DateTime<Utc> {
    Utc::now().round_subsecs(6)
}

fn user(email: Option<&str>) -> User {
    let mut user = User::new(Uuid::new_v4(), "authenticated", "email", now());
    user.email = email.map(str::to_owned);
    user.encrypted_password = Some("$2b$10$hash".into());
    user.user_metadata = json!({"full_name": "微信用户", "n": 1});
    user
}

/// A `wechat_qr` identity of `user`, created at `at`, with a nickname.
fn wechat_identity(user: &User, openid: &str, at: DateTime<Utc>) -> Identity {
    let mut wechat = Identity::email(user.id, "unused", at);
    wechat.provider = "wechat_qr".into();
    wechat.provider_id = openid.into();
    wechat.email = None;
    wechat.last_sign_in_at = None;
    wechat.identity_data = json!({"nickname": "小明"});
    wechat
}

const POLICY: RotationPolicy = RotationPolicy {
    rotation_enabled: true,
    reuse_interval: Duration::seconds(10),
};

async fn session_for(store: &SharedStore, user: &User, key: &RefreshTokenKey) -> (Session, String) {
    let session = Session::new(user.id, "password", now());
    let token = key.mint();
    store
        .create_session(&session, &token, None)
        .await
        .expect("session");
    (session, token.token_hash)
}

/// Alice, signed up without identities, with one session: the subject of the token checks.
async fn alice_with_a_session(store: &SharedStore) -> (User, Session) {
    let alice = user(Some("alice@example.com"));
    store.create_user(&alice, &[]).await.expect("alice");
    let key = RefreshTokenKey::derive(b"conformance secret");
    let (session, _) = session_for(store, &alice, &key).await;
    (alice, session)
}

mod app_tokens;
mod audit;
mod backends;
mod flows;
mod housekeeping;
mod identities;
mod one_time_tokens;
mod rate_limits;
mod scan_tickets;
mod sessions;
mod users;
