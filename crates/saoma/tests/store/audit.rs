//! The audit log.

use super::*;

conformance!(
    audit_entries_are_listed_newest_first_in_pages,
    |store: SharedStore| async move {
        let alice = user(Some("alice@example.com"));
        let t = now();
        let entries: Vec<AuditEntry> = (0..3)
            .map(|i| {
                AuditEntry::new(
                    Action::Login,
                    &alice,
                    json!({ "provider": "email", "n": i }),
                    "203.0.113.7",
                    t + Duration::seconds(i),
                )
            })
            .collect();
        for entry in &entries {
            store.record_audit(entry).await.expect("record");
        }
        let (page, total) = store.list_audit(0, 2).await.expect("page");
        assert_eq!(total, 3);
        assert_eq!(page, vec![entries[2].clone(), entries[1].clone()]);
        let (rest, total) = store.list_audit(2, 2).await.expect("rest");
        assert_eq!((rest, total), (vec![entries[0].clone()], 3));
    }
);
