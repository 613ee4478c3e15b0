//! `POST /signup`: an email account, or an anonymous one.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{
        accounts,
        email::flows::{self, LinkOptions},
        rate_limit::{self, Bucket},
        tokens, user, AuthError, AuthResult, Client,
    },
    domain::{email, password, user::UserView, Identity, User},
    mail::EmailAction,
    state::AppState,
    store::StoreError,
};

/// An anonymous user, signed in at once.
pub async fn anonymous(state: &AppState, metadata: Value, client: &Client) -> AuthResult<Value> {
    if !state.config.external.anonymous_users.enabled {
        return Err(AuthError::AnonymousProviderDisabled);
    }
    refuse_if_signups_disabled(state)?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    rate_limit::check(state, Bucket::AnonymousUsers, client).await?;
    let now = state.clock.now();
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, "anonymous", now);
    // Anonymous users have no provider until they link one, as in GoTrue.
    user.app_metadata = json!({});
    user.is_anonymous = true;
    user.user_metadata = metadata;
    let session = accounts::create(state, &user, &[], "anonymous", Some("anonymous"), client)
        .await?
        .ok_or_else(|| AuthError::internal("anonymous sign-up without a session"))?;
    tokens::issued(state, &user, &[], &session)
}

/// An email account: signed in at once when sign-ups are confirmed automatically, else the
/// user to confirm (GoTrue's answer either way).
pub async fn with_email(
    state: &AppState,
    address: &str,
    password: String,
    metadata: Value,
    client: &Client,
    options: &LinkOptions,
) -> AuthResult<Value> {
    let config = &state.config;
    refuse_if_signups_disabled(state)?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    if password.is_empty() {
        return Err(AuthError::validation("Signup requires a valid password"));
    }
    user::check_password_strength(config, &password)?;
    if !config.external.email.enabled {
        return Err(AuthError::EmailProviderDisabled(
            "Email signups are disabled",
        ));
    }
    let address = email::normalize(address).map_err(AuthError::validation)?;
    // Hash before looking the address up, so that a taken address answers as slowly as a new one.
    let hash = password::hash(password.clone(), config.password.bcrypt_cost)
        .await
        .map_err(AuthError::internal)?;

    if let Some(existing) = state.store.user_by_email(&address).await? {
        return existing_account(state, client, &existing, &password, metadata, options).await;
    }

    let now = state.clock.now();
    let mut user = User::new(Uuid::new_v4(), &config.jwt.aud, "email", now);
    user.email = Some(address.clone());
    user.encrypted_password = Some(hash);
    user.user_metadata = metadata;
    if config.mailer.autoconfirm {
        // GoTrue's confirmation also marks the metadata (the identity's flag stays false).
        user.email_confirmed_at = Some(now);
        if let Value::Object(meta) = &mut user.user_metadata {
            meta.insert("email_verified".into(), json!(true));
        }
    }
    let identity = Identity::email(user.id, &address, now);
    let sign_in = config.mailer.autoconfirm.then_some("password");
    let identities = std::slice::from_ref(&identity);
    match accounts::create(state, &user, identities, "email", sign_in, client).await {
        // Lost a race with a concurrent sign-up for the same address.
        Err(StoreError::Conflict(_)) => {
            let existing = state
                .store
                .user_by_email(&address)
                .await?
                .ok_or_else(|| AuthError::internal("user vanished"))?;
            existing_account(
                state,
                client,
                &existing,
                &password,
                user.user_metadata.clone(),
                options,
            )
            .await
        }
        Err(other) => Err(other.into()),
        Ok(Some(session)) => tokens::issued(state, &user, identities, &session),
        Ok(None) => {
            // The confirmation mail; without it the account could never be confirmed, so it
            // goes when the mail cannot.
            let user =
                flows::mail_new_account(state, client, &user, EmailAction::Signup, options).await?;
            view(&user, identities)
        }
    }
}

/// Answered before any rate limit: a client told "no sign-ups here" should not be told to
/// wait and try again.
fn refuse_if_signups_disabled(state: &AppState) -> AuthResult<()> {
    if state.config.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    Ok(())
}

/// GoTrue's answer to a sign-up for a taken address: an error when sign-ups are confirmed at
/// once (the caller would get a session otherwise), else a look-alike user so that sign-up
/// cannot be used to find out who has an account.
async fn existing_account(
    state: &AppState,
    client: &Client,
    existing: &User,
    given_password: &str,
    metadata: Value,
    options: &LinkOptions,
) -> AuthResult<Value> {
    if state.config.mailer.autoconfirm {
        return Err(AuthError::UserAlreadyExists);
    }
    if existing.email_confirmed_at.is_none() {
        // Another confirmation mail; the metadata stays as it was, as GoTrue keeps it. The
        // password stays only if this sign-up gave the same one: two sign-ups with different
        // passwords mean one of them is not the address's holder (anyone may sign an address
        // up), and whichever link gets followed must not confirm the account with the other's
        // password. The holder sets one after confirming (recovery, magic link).
        let same = password::verify(
            given_password.to_owned(),
            existing.encrypted_password.clone(),
            state.config.password.bcrypt_cost,
        )
        .await
        .map_err(AuthError::internal)?;
        let existing = if same {
            existing.clone()
        } else {
            flows::drop_squatted_password(state, existing.clone()).await?
        };
        let user = flows::mail(state, client, &existing, EmailAction::Signup, options).await?;
        return user::user_json(state, &user).await;
    }
    let now = state.clock.now();
    let mut decoy = User::new(Uuid::new_v4(), &existing.aud, "email", now);
    decoy.role = String::new();
    decoy.email = existing.email.clone();
    decoy.confirmation_sent_at = Some(now);
    decoy.user_metadata = metadata;
    view(&decoy, &[])
}

fn view(user: &User, identities: &[Identity]) -> AuthResult<Value> {
    serde_json::to_value(UserView::new(user, identities)).map_err(AuthError::internal)
}
