//! The event store's own tests: appends that span channels and
//! idempotency keys claimed in one group, on both databases.
use super::*;
use crate::{
    model::{NewChannel, NewEvent},
    store::{Store, open},
};

fn channel(id: &str) -> NewChannel {
    NewChannel {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        tags: Vec::new(),
        is_public: true,
        meta: serde_json::json!({}),
        config: Default::default(),
        retention: Default::default(),
    }
}

fn batch(channel_id: &str, values: &[i64]) -> AppendBatch {
    AppendBatch {
        channel_id: channel_id.into(),
        publisher: Publisher::admin(),
        token_id: None,
        events: values
            .iter()
            .map(|v| NewEvent::new(None, serde_json::json!(v), None))
            .collect(),
        idempotency: None,
    }
}

/// One group over several channels, interleaved, one of them missing:
/// each channel gets its own events in publish order after its own last
/// id, and its counters move by exactly its events.
async fn one_append_spans_channels(store: &dyn Store) {
    let now = crate::model::now_millis();
    for id in ["a", "b", "c"] {
        store.create_channel(&channel(id), now).await.unwrap();
    }
    let first = store.append_events(&[batch("c", &[0])]).await.unwrap();
    let group = [
        batch("b", &[1, 2]),
        batch("missing", &[3]),
        batch("c", &[4]),
        batch("b", &[5]),
        batch("a", &[6]),
    ];
    let appended = store.append_events(&group).await.unwrap();
    let stored: Vec<Option<Vec<i64>>> = appended
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            BatchOutcome::Stored(events) => {
                Some(events.iter().map(|e| e.data.as_i64().unwrap()).collect())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        stored,
        [
            Some(vec![1, 2]),
            None,
            Some(vec![4]),
            Some(vec![5]),
            Some(vec![6])
        ]
    );
    assert!(matches!(appended.outcomes[1], BatchOutcome::ChannelGone));
    let BatchOutcome::Stored(before) = &first.outcomes[0] else {
        panic!("the first append stored its event");
    };
    for (id, values, count) in [
        ("a", vec![6], 1),
        ("b", vec![1, 2, 5], 3),
        ("c", vec![0, 4], 2),
    ] {
        let events = store
            .list_events(
                id,
                &EventQuery {
                    limit: 100,
                    ..EventQuery::default()
                },
            )
            .await
            .unwrap();
        let read: Vec<i64> = events.iter().map(|e| e.data.as_i64().unwrap()).collect();
        assert_eq!(read, values, "channel {id}");
        let channel = store.get_channel(id).await.unwrap().unwrap();
        assert_eq!(channel.event_count, count, "channel {id}");
        assert_eq!(channel.last_event_id, events.last().map(|e| e.id.clone()));
    }
    let c = store
        .list_events(
            "c",
            &EventQuery {
                after: Some(before[0].id.clone()),
                limit: 100,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(c.len(), 1, "c's new event sorts after its earlier one");
}

fn keyed(channel_id: &str, value: i64, key: &str) -> AppendBatch {
    AppendBatch {
        idempotency: Some(IdempotencyKey {
            key: key.into(),
            fingerprint: format!("{channel_id}-{value}"),
            expired_before: crate::model::now_millis() - 60_000,
        }),
        ..batch(channel_id, &[value])
    }
}

/// A group's keys are claimed together: a key used before, or earlier in
/// the same group on the same channel, stores nothing; the same key on
/// another channel is another key.
async fn keys_claimed_in_one_group(store: &dyn Store) {
    let now = crate::model::now_millis();
    for id in ["ka", "kb"] {
        store.create_channel(&channel(id), now).await.unwrap();
    }
    store.append_events(&[keyed("ka", 0, "old")]).await.unwrap();
    let group = [
        keyed("ka", 1, "k"),
        keyed("ka", 2, "k"),
        keyed("kb", 3, "k"),
        keyed("ka", 4, "old"),
        batch("ka", &[5]),
    ];
    let appended = store.append_events(&group).await.unwrap();
    let kinds: Vec<&str> = appended
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            BatchOutcome::Stored(_) => "stored",
            BatchOutcome::KeyUsed { .. } => "key used",
            BatchOutcome::ChannelGone => "gone",
        })
        .collect();
    assert_eq!(
        kinds,
        ["stored", "key used", "stored", "key used", "stored"]
    );
    let query = EventQuery {
        limit: 100,
        ..EventQuery::default()
    };
    let values = |events: Vec<Event>| -> Vec<i64> {
        events.iter().map(|e| e.data.as_i64().unwrap()).collect()
    };
    assert_eq!(
        values(store.list_events("ka", &query).await.unwrap()),
        [0, 1, 5]
    );
    assert_eq!(values(store.list_events("kb", &query).await.unwrap()), [3]);
    // What a key's first use recorded: its fingerprint and its values.
    let first_use = async |key: &str| {
        let first = store
            .idempotent_result("ka", key, 0)
            .await
            .unwrap()
            .unwrap();
        (first.fingerprint, values(first.events))
    };
    assert_eq!(first_use("k").await, ("ka-1".to_string(), vec![1]));
    assert_eq!(
        store.get_channel("ka").await.unwrap().unwrap().event_count,
        3
    );

    // A key whose first use is older than the window is claimed afresh.
    let mut renewed = keyed("ka", 6, "old");
    if let Some(key) = renewed.idempotency.as_mut() {
        key.expired_before = crate::model::now_millis() + 1_000;
    }
    let appended = store.append_events(&[renewed]).await.unwrap();
    assert!(matches!(appended.outcomes[0], BatchOutcome::Stored(_)));
    assert_eq!(first_use("old").await, ("ka-6".to_string(), vec![6]));
    let all = store.list_events("ka", &query).await.unwrap();
    assert_eq!(values(all), [0, 1, 5, 6]);
}

#[tokio::test]
async fn sqlite_group_appends() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = open(&url).await.unwrap();
    one_append_spans_channels(&*store).await;
    keys_claimed_in_one_group(&*store).await;
}

#[tokio::test]
async fn postgres_group_appends() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI sets TEST_DATABASE_URL: this test must not be skipped there"
        );
        eprintln!("SKIPPED: TEST_DATABASE_URL is not set");
        return;
    };
    let name = format!(
        "channelhub_unit_{}",
        Ulid::generate().to_string().to_lowercase()
    );
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    let create = format!("CREATE DATABASE {name}");
    sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(create))
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    let store = open(&format!("{base}/{name}")).await.unwrap();
    one_append_spans_channels(&*store).await;
    keys_claimed_in_one_group(&*store).await;
    drop(store);
    let drop_db = format!("DROP DATABASE {name} WITH (FORCE)");
    sqlx::Executor::execute(&mut admin, sqlx::AssertSqlSafe(drop_db))
        .await
        .unwrap();
}
