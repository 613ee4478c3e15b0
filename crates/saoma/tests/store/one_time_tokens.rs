//! One-time codes: one per user and kind, consumed once, killed by wrong guesses.

use super::*;

const PHONE: &str = "8613800000000";

async fn alice(store: &SharedStore) -> User {
    let mut alice = user(None);
    alice.phone = Some(PHONE.into());
    store.create_user(&alice, &[]).await.expect("alice");
    alice
}

conformance!(
    a_new_code_replaces_the_last_of_its_kind,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let first = OneTimeToken::new(alice.id, TokenType::Confirmation, PHONE, "111111", now());
        store.issue_one_time_token(&first).await.expect("first");
        assert_eq!(
            store
                .one_time_token_of(alice.id, TokenType::Confirmation)
                .await
                .expect("q"),
            Some(first.clone())
        );
        // Its wrong guesses go with it when a new code replaces it.
        assert!(store.take_guess(first.id, 5).await.expect("guess"));
        let second = OneTimeToken::new(alice.id, TokenType::Confirmation, PHONE, "222222", now());
        store.issue_one_time_token(&second).await.expect("second");
        let stored = store
            .one_time_token_of(alice.id, TokenType::Confirmation)
            .await
            .expect("q")
            .expect("stored");
        assert_eq!(stored, second);
        assert_eq!(stored.wrong_guesses, 0);
        assert!(stored.matches("222222", None) && !stored.matches("111111", None));
        // Other kinds are separate slots.
        assert_eq!(
            store
                .one_time_token_of(alice.id, TokenType::Recovery)
                .await
                .expect("q"),
            None
        );
        // Codes go with their user.
        store.delete_user(alice.id).await.expect("delete");
        assert_eq!(
            store
                .one_time_token_of(alice.id, TokenType::Confirmation)
                .await
                .expect("q"),
            None
        );
    }
);

conformance!(
    codes_are_found_by_destination_and_kind,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let bob = user(Some("bob@example.com"));
        store.create_user(&bob, &[]).await.expect("bob");
        let recovery = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "1", now());
        let change = OneTimeToken::new(bob.id, TokenType::PhoneChange, PHONE, "2", now());
        let elsewhere = OneTimeToken::new(bob.id, TokenType::Recovery, "8613900000000", "3", now());
        for token in [&recovery, &change, &elsewhere] {
            store.issue_one_time_token(token).await.expect("issue");
        }
        let ids = |tokens: Vec<OneTimeToken>| tokens.into_iter().map(|t| t.id).collect::<Vec<_>>();
        let sms = [TokenType::Confirmation, TokenType::Recovery];
        assert_eq!(
            ids(store.one_time_tokens_for(PHONE, &sms).await.expect("q")),
            vec![recovery.id]
        );
        assert_eq!(
            ids(store
                .one_time_tokens_for(PHONE, &[TokenType::PhoneChange])
                .await
                .expect("q")),
            vec![change.id]
        );
        assert!(store
            .one_time_tokens_for("8613700000000", &sms)
            .await
            .expect("q")
            .is_empty());
    }
);

conformance!(
    a_code_is_consumed_once_even_concurrently,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let code = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "123456", now());
        store.issue_one_time_token(&code).await.expect("issue");
        assert!(!store
            .consume_one_time_token(code.id, "not-its-hash")
            .await
            .expect("wrong hash"));
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (store, code) = (store.clone(), code.clone());
            attempts.spawn(async move {
                store
                    .consume_one_time_token(code.id, &code.token_hash)
                    .await
                    .expect("consume")
            });
        }
        let won = attempts.join_all().await.into_iter().filter(|w| *w).count();
        assert_eq!(won, 1, "exactly one consumer wins");
        assert_eq!(
            store
                .one_time_token_of(alice.id, TokenType::Recovery)
                .await
                .expect("q"),
            None
        );
    }
);

conformance!(
    wrong_guesses_kill_a_code_at_the_limit,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let code = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "123456", now());
        store.issue_one_time_token(&code).await.expect("issue");
        for guess in 1..=3 {
            assert!(store.take_guess(code.id, 3).await.expect("guess"));
            let stored = store
                .one_time_token_of(alice.id, TokenType::Recovery)
                .await
                .expect("q")
                .expect("alive");
            assert_eq!(stored.wrong_guesses, guess);
        }
        // Dead, but kept (its send time holds the resend interval) with its count.
        assert!(!store.take_guess(code.id, 3).await.expect("fourth"));
        let dead = store
            .one_time_token_of(alice.id, TokenType::Recovery)
            .await
            .expect("q")
            .expect("kept");
        assert_eq!(dead.wrong_guesses, 3);
        // A guess at a code that is gone gets no try.
        assert!(store
            .consume_one_time_token(code.id, &code.token_hash)
            .await
            .expect("gone"));
        assert!(!store.take_guess(code.id, 3).await.expect("gone"));
    }
);

conformance!(
    guesses_at_once_get_no_more_tries_than_the_limit,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let code = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "123456", now());
        store.issue_one_time_token(&code).await.expect("issue");
        let mut guesses = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let store = store.clone();
            guesses.spawn(async move { store.take_guess(code.id, 3).await.expect("guess") });
        }
        let tried = guesses.join_all().await.into_iter().filter(|t| *t).count();
        assert_eq!(tried, 3);
    }
);

// The resend interval, decided under a lock: a code sent after `not_before` blocks another,
// and of many requests at once for a user's first code exactly one issues.
conformance!(
    a_code_is_not_replaced_inside_the_resend_interval,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let sent_at = now();
        let first = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "111111", sent_at);
        let codes: Vec<OneTimeToken> = (0..8)
            .map(|i| {
                let code = format!("{:06}", 200_000 + i);
                OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, &code, sent_at)
            })
            .collect();
        let not_before = sent_at - Duration::seconds(60);
        let mut attempts = tokio::task::JoinSet::new();
        for code in codes.into_iter().chain(std::iter::once(first)) {
            let store = store.clone();
            attempts.spawn(async move {
                store
                    .issue_one_time_token_unless_sent_after(&code, not_before)
                    .await
                    .expect("issue")
            });
        }
        let issued = attempts.join_all().await;
        assert_eq!(issued.iter().filter(|ok| **ok).count(), 1, "{issued:?}");

        let later = OneTimeToken::new(alice.id, TokenType::Recovery, PHONE, "333333", sent_at);
        assert!(!store
            .issue_one_time_token_unless_sent_after(&later, sent_at - Duration::seconds(1))
            .await
            .expect("inside"));
        assert!(store
            .issue_one_time_token_unless_sent_after(&later, sent_at + Duration::seconds(1))
            .await
            .expect("after"));
        let stored = store
            .one_time_token_of(alice.id, TokenType::Recovery)
            .await
            .expect("q")
            .expect("stored");
        assert!(stored.matches("333333", None));
    }
);

conformance!(
    links_are_found_by_hash_and_cleared_with_a_user_change,
    |store: SharedStore| async move {
        let alice = alice(&store).await;
        let address = "alice@example.com";
        let link =
            OneTimeToken::new(alice.id, TokenType::Recovery, address, "123456", now()).for_pkce();
        let change = OneTimeToken::new(
            alice.id,
            TokenType::EmailChangeNew,
            "new@example.com",
            "654321",
            now(),
        );
        for token in [&link, &change] {
            store.issue_one_time_token(token).await.expect("issue");
        }
        let recovery = [TokenType::Recovery];
        assert_eq!(
            store
                .one_time_tokens_by_hash(&link.token_hash, &recovery)
                .await
                .expect("q"),
            vec![link.clone()]
        );
        // The hash of another kind, or without its prefix, finds nothing.
        assert!(store
            .one_time_tokens_by_hash(&link.token_hash, &[TokenType::Confirmation])
            .await
            .expect("q")
            .is_empty());
        let bare = link.token_hash.trim_start_matches("pkce_");
        assert!(store
            .one_time_tokens_by_hash(bare, &recovery)
            .await
            .expect("q")
            .is_empty());
        // A user change that voids the user's codes removes every kind, in its transaction.
        let changes = UserChanges {
            clear_one_time_tokens: true,
            ..Default::default()
        };
        store
            .change_user(alice.id, &changes, now())
            .await
            .expect("change")
            .expect("alice");
        for kind in [TokenType::Recovery, TokenType::EmailChangeNew] {
            assert_eq!(
                store.one_time_token_of(alice.id, kind).await.expect("q"),
                None
            );
        }
    }
);
