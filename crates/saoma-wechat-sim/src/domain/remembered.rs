//! What the simulator remembers of the codes, tokens and tickets it handed out, each
//! forgotten a fixed time after it was made.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Entries under random keys, each forgotten `MEMORY_SECS` after it was inserted, on the next
/// insert after that (as WeChat forgets: lookups decide expiry themselves, this only bounds
/// what is kept). The insertion order is kept beside the map, so an insert forgets only the
/// oldest entries that are due: O(1) amortised. Sweeping the whole map on each insert cost
/// O(entries), and the entries grew with every login (a refresh token remembers 31 days): a
/// long `saoma dev` spent more on sweeping than on answering.
/// At most this many of each kind: a refresh token is remembered 31 days, and a dev server
/// under a login benchmark would otherwise keep every one (~1 KiB each) for that long. The
/// oldest go first; a forgotten token answers "invalid", as one WeChat no longer knows. Only
/// a load test gets there: at the QR benchmark's ~3,400 logins/s, entries last about a
/// minute (a page left open meanwhile sees its code "unknown" rather than "expired").
pub const MOST_REMEMBERED: usize = 200_000;

#[derive(Debug)]
pub struct Remembered<V, const MEMORY_SECS: u64> {
    entries: HashMap<String, V>,
    /// Keys in insertion order with their insertion time (`now` only moves forward).
    order: VecDeque<(Instant, String)>,
}

impl<V, const MEMORY_SECS: u64> Default for Remembered<V, MEMORY_SECS> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V, const MEMORY_SECS: u64> Remembered<V, MEMORY_SECS> {
    const MEMORY: Duration = Duration::from_secs(MEMORY_SECS);

    /// Remembers `value` under `key` (a fresh random id), forgetting what is due at `now`,
    /// and the oldest entries past [`MOST_REMEMBERED`].
    pub fn insert(&mut self, key: String, value: V, now: Instant) {
        // The queue stays in time order even if a caller's `now` was taken before another's
        // (an entry is then forgotten a little late, never early).
        let now = self.order.back().map_or(now, |(last, _)| now.max(*last));
        while let Some((made, _)) = self.order.front() {
            let due = now.saturating_duration_since(*made) >= Self::MEMORY;
            if !due && self.order.len() < MOST_REMEMBERED {
                break;
            }
            if let Some((_, forgotten)) = self.order.pop_front() {
                self.entries.remove(&forgotten);
            }
        }
        self.order.push_back((now, key.clone()));
        let replaced = self.entries.insert(key, value);
        // A key met twice would be forgotten with its first insert's time.
        debug_assert!(replaced.is_none(), "a key was handed out twice");
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry is kept for its memory and forgotten by the first insert after it; the ones
    /// made later stay.
    #[test]
    fn entries_are_forgotten_by_the_first_insert_after_their_memory() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let mut remembered = Remembered::<_, 600>::default();
        remembered.insert("a".into(), 1, start);
        remembered.insert("b".into(), 2, start + 5 * minute);
        remembered.insert(
            "c".into(),
            3,
            start + 10 * minute - Duration::from_millis(1),
        );
        assert_eq!(remembered.get("a"), Some(&1), "still within its memory");
        remembered.insert("d".into(), 4, start + 10 * minute);
        assert_eq!(remembered.get("a"), None, "forgotten at its memory's end");
        assert_eq!(remembered.get("b"), Some(&2));
        remembered.insert("e".into(), 5, start + 16 * minute);
        assert_eq!(remembered.get("b"), None);
        assert_eq!(remembered.get("c"), Some(&3));
        assert_eq!(remembered.len(), 3);
    }

    /// A storm of inserts keeps only what is within memory.
    #[test]
    fn a_long_run_keeps_only_the_last_memory_s_worth() {
        let start = Instant::now();
        let mut remembered = Remembered::<_, 10>::default();
        for i in 0..100_000_u64 {
            remembered.insert(i.to_string(), i, start + Duration::from_millis(i));
        }
        assert_eq!(remembered.len(), 10_000);
        assert_eq!(remembered.get("89999"), None);
        assert_eq!(remembered.get("90000"), Some(&90_000));
    }

    /// Within memory, past [`MOST_REMEMBERED`] the oldest are forgotten: what a long
    /// `saoma dev` holds is bounded whatever the rate.
    #[test]
    fn at_most_the_newest_entries_are_kept() {
        let start = Instant::now();
        let mut remembered = Remembered::<_, 3600>::default();
        let total = MOST_REMEMBERED + 10;
        for i in 0..total {
            remembered.insert(i.to_string(), i, start);
        }
        assert_eq!(remembered.len(), MOST_REMEMBERED);
        assert_eq!(remembered.get("9"), None);
        assert_eq!(remembered.get("10"), Some(&10));
        assert_eq!(remembered.get(&(total - 1).to_string()), Some(&(total - 1)));
    }
}
