//! Rate-limit buckets.

use super::*;

conformance!(buckets_empty_and_refill, |store: SharedStore| async move {
    let t = 1_000_000.0;
    let take = |key: &'static str, now: f64| {
        let store = store.clone();
        async move {
            store
                .take_rate_limit_token(key, 3.0, 0.5, now)
                .await
                .expect("take")
        }
    };
    for _ in 0..3 {
        assert!(take("k", t).await);
    }
    assert!(!take("k", t).await, "empty");
    assert!(take("other", t).await, "each key has its own bucket");
    assert!(!take("k", t + 1.0).await, "half a token after one second");
    assert!(take("k", t + 2.0).await, "a whole one after two");
    assert!(!take("k", t + 2.0).await);
    // A long pause fills the bucket to its capacity, no further.
    for _ in 0..3 {
        assert!(take("k", t + 1000.0).await);
    }
    assert!(!take("k", t + 1000.0).await);
});
