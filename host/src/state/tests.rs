//! The store's rules against a real SQLite file.

use super::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

const ROOMY: StoreLimits = StoreLimits { total: 1 << 20 };

#[test]
fn writes_survive_reopening_and_each_vat_sees_only_its_own() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("state.db");
    let a = VatKey::new("s1", "a");
    let b = VatKey::new("s1", "b");
    runtime().block_on(async {
        let database = Database::open(Some(&path)).expect("open");
        database
            .write(&a, ROOMY, vec![("k".to_owned(), b"1".to_vec())], Vec::new())
            .await
            .expect("write");
        assert_eq!(database.get(&b, "k".to_owned()).await, Ok(None));
    });
    runtime().block_on(async {
        let database = Database::open(Some(&path)).expect("reopen");
        assert_eq!(
            database.get(&a, "k".to_owned()).await,
            Ok(Some(b"1".to_vec()))
        );
        assert_eq!(database.usage(&a), 2);
    });
}

#[test]
fn a_write_past_the_quota_fails_whole_and_keeps_nothing() {
    let vat = VatKey::new("s1", "a");
    runtime().block_on(async {
        let database = Database::open(None).expect("open");
        let small = StoreLimits { total: 10 };
        database
            .write(&vat, small, vec![("a".to_owned(), vec![0; 4])], Vec::new())
            .await
            .expect("fits");
        let over = database
            .write(
                &vat,
                small,
                vec![("b".to_owned(), vec![0; 2]), ("c".to_owned(), vec![0; 4])],
                Vec::new(),
            )
            .await;
        assert_eq!(over, Err(StoreError::Quota(10)));
        assert_eq!(database.get(&vat, "b".to_owned()).await, Ok(None));
        assert_eq!(database.usage(&vat), 5);
        // Replacing a value counts only the difference.
        database
            .write(&vat, small, vec![("a".to_owned(), vec![0; 9])], Vec::new())
            .await
            .expect("a replacement that fits");
        assert_eq!(database.usage(&vat), 10);
    });
}

#[test]
fn keys_page_by_prefix_in_order_and_forget_removes_a_subcluster() {
    let vat = VatKey::new("s2", "a");
    let other = VatKey::new("s20", "a");
    runtime().block_on(async {
        let database = Database::open(None).expect("open");
        let sets = ["x/3", "x/1", "y/1", "x/2"]
            .iter()
            .map(|key| ((*key).to_owned(), Vec::new()))
            .collect();
        database
            .write(&vat, ROOMY, sets, Vec::new())
            .await
            .expect("write");
        database
            .write(
                &other,
                ROOMY,
                vec![("x/1".to_owned(), Vec::new())],
                Vec::new(),
            )
            .await
            .expect("write");
        let page = database
            .keys(&vat, "x/".to_owned(), None, 2)
            .await
            .expect("keys");
        assert_eq!(page, ["x/1", "x/2"]);
        let next = database
            .keys(&vat, "x/".to_owned(), Some("x/2".to_owned()), 2)
            .await
            .expect("keys");
        assert_eq!(next, ["x/3"]);
        database.forget("s2").await.expect("forget");
        assert_eq!(
            database.keys(&vat, String::new(), None, 10).await,
            Ok(vec![])
        );
        assert_eq!(database.usage(&vat), 0);
        assert_eq!(
            database.keys(&other, String::new(), None, 10).await,
            Ok(vec!["x/1".to_owned()])
        );
    });
}

#[test]
fn oversized_keys_and_values_are_refused_before_anything_is_written() {
    let vat = VatKey::new("s1", "a");
    runtime().block_on(async {
        let database = Database::open(None).expect("open");
        let long_key = "k".repeat(MAX_KEY + 1);
        assert_eq!(
            database.get(&vat, long_key.clone()).await,
            Err(StoreError::KeyTooLong(MAX_KEY as u32))
        );
        let big = vec![0; MAX_VALUE + 1];
        assert_eq!(
            database
                .write(
                    &vat,
                    StoreLimits { total: u64::MAX },
                    vec![("k".to_owned(), big)],
                    Vec::new()
                )
                .await,
            Err(StoreError::ValueTooLarge(MAX_VALUE as u32))
        );
    });
}
