//! The multiplexed socket's credentials: per-subscription tokens, the
//! connection credential and `refresh` (re-authorization, identity, races
//! with revocation), the address's limits on credentials presented over the
//! socket, and a subscription on another node. Real WebSocket client, real
//! binary, SQLite and PostgreSQL (two nodes on PostgreSQL); tokens minted
//! with jsonwebtoken.

mod common;

use std::time::Duration;

use common::{
    ADMIN, Backend, LIMIT_LOOPBACK, TestServer, jwt,
    mux::{Mux, NIL, ids, publish_n},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    refresh_reauthorizes_what_stood_on_the_connection_credential,
    subscribe_tokens_are_hashed_within_the_address_rate,
    a_refresh_from_another_key_is_another_identity,
    a_refreshed_subscription_replays_under_the_new_credential,
    a_credential_revoked_while_a_refresh_rechecks_ends_what_stands_on_it,
    a_refresh_costs_a_command_per_recheck,
);

async fn refresh_reauthorizes_what_stood_on_the_connection_credential(backend: Backend) {
    let server = jwt::start(backend, &[]).await;
    for id in ["alpha", "beta"] {
        server
            .create_channel(json!({"id": id, "is_public": false}))
            .await;
    }
    server.create_channel(json!({"id": "open"})).await;
    let (beta_token, _) = server.create_token("beta", "subscribe", json!({})).await;
    let claims = |sub: &str, scopes: &str, ttl: i64| {
        let scopes: Vec<&str> = scopes.split(' ').collect();
        json!({"sub": sub, "scopes": scopes, "aud": jwt::AUDIENCE, "exp": jwt::now() + ttl})
    };
    let first = jwt::hs256(jwt::SECRET, claims("user-1", "sub:alpha sub:beta", 600));
    let (mut mux, hello) = Mux::open(&server, Some(&first)).await;
    assert_eq!(hello["credential"]["kind"], "jwt");
    assert_eq!(hello["credential"]["sub"], "user-1");
    mux.subscribe(json!({"channel": "alpha"})).await;
    mux.subscribe(json!({"channel": "beta"})).await;
    mux.subscribe(json!({"channel": "open"})).await;

    // Another identity may not take the socket over.
    let stranger = jwt::hs256(jwt::SECRET, claims("user-2", "sub:alpha", 600));
    let error = mux
        .refused(json!({"refresh": {"ref": "r0", "token": stranger}}))
        .await;
    assert_eq!(
        (error["ref"].as_str(), error["status"].as_u64()),
        (Some("r0"), Some(403))
    );
    let error = mux
        .refused(json!({"refresh": {"token": "eyJ.not.valid"}}))
        .await;
    assert_eq!(error["status"], 401);

    // The same identity with fewer scopes: beta ends, alpha and open stay.
    let narrower = jwt::hs256(jwt::SECRET, claims("user-1", "sub:alpha", 1200));
    mux.send(json!({"refresh": {"ref": "r1", "token": narrower}}))
        .await;
    let frames = mux
        .until("refreshed", |f| f.get("refreshed").is_some())
        .await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["unsubscribed"]["channel"], "beta");
    assert_eq!(frames[0]["unsubscribed"]["code"], 4001);
    assert_eq!(frames[1]["refreshed"]["ref"], "r1");
    assert!(frames[1]["refreshed"]["expires_at"].is_string());
    for channel in ["alpha", "open"] {
        let event = server.publish(channel, json!({"data": 1})).await;
        assert_eq!(mux.next().await, event);
    }
    // A subscription with its own token does not stand on the connection's.
    mux.subscribe(json!({"channel": "beta", "token": beta_token}))
        .await;
    let again = jwt::hs256(jwt::SECRET, claims("user-1", "sub:alpha", 1200));
    mux.send(json!({"refresh": {"token": again}})).await;
    assert!(mux.next().await.get("refreshed").is_some());
    let event = server.publish("beta", json!({"data": 2})).await;
    assert_eq!(mux.next().await, event);
}

/// Nodes share PostgreSQL; this runs where it is (always under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_on_another_node_follows_publishes_and_revocations() {
    if !common::postgres_available(
        "a_subscription_on_another_node_follows_publishes_and_revocations",
    ) {
        return;
    }
    let first = TestServer::start(Backend::Postgres).await;
    let second = first.join();
    first
        .create_channel(json!({"id": "shared", "is_public": false}))
        .await;
    first.create_channel(json!({"id": "open"})).await;
    let (token, record) = first.create_token("shared", "subscribe", json!({})).await;
    let (mut mux, _) = Mux::open(&second, None).await;
    mux.subscribe(json!({"channel": "shared", "token": token}))
        .await;
    mux.subscribe(json!({"channel": "open"})).await;
    let event = first.publish("shared", json!({"data": "across"})).await;
    assert_eq!(mux.next().await, event);
    let (status, _) = first
        .call(
            Method::DELETE,
            &format!("/channels/shared/tokens/{}", record["id"].as_str().unwrap()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let frame = mux
        .until("the revocation", |f| f.get("unsubscribed").is_some())
        .await;
    assert_eq!(frame.last().unwrap()["unsubscribed"]["code"], 4001);
    let event = first.publish("open", json!({"data": "still"})).await;
    assert_eq!(mux.next().await, event);
}

/// The edge limits count a credential not yet verified against its
/// presenter's address, so that hashing is bounded by the address's
/// connect rate; a subscribe frame's `token` is counted the same way.
async fn subscribe_tokens_are_hashed_within_the_address_rate(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[
            LIMIT_LOOPBACK,
            "--connect-rate",
            "0.1",
            "--connect-burst",
            "3",
        ],
    )
    .await;
    server
        .create_channel(json!({"id": "vault", "is_public": false}))
        .await;
    let (token, _) = server.create_token("vault", "subscribe", json!({})).await;
    // chs_<id>_<secret>: the same id, other secrets of the right shape.
    let prefix = &token[..token.len() - 43];
    let hashed_before = server.metric("channelhub_token_hash_checks_total").await;
    let (mut mux, _) = Mux::open(&server, None).await;
    let mut refused = 0;
    for i in 0..20 {
        let guess = format!("{prefix}{i:0>43}");
        let error = mux
            .refused(json!({"subscribe": {"channel": "vault", "token": guess}}))
            .await;
        match error["status"].as_u64() {
            Some(401) => {}
            Some(429) => {
                assert!(error["retry_after"].as_u64().unwrap() >= 1, "{error}");
                refused += 1;
            }
            _ => panic!("{error}"),
        }
    }
    let hashed = server.metric("channelhub_token_hash_checks_total").await - hashed_before;
    // One connect was spent; the address may make three at once.
    assert!(
        hashed <= 3.0,
        "{hashed} argon2 verifications from one address whose connect budget is 3"
    );
    assert!(refused >= 17, "{refused} guesses refused");
    // A token this node has verified (here by a read) costs nothing more.
    let (status, _) = server
        .call(Method::GET, "/channels/vault", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    mux.subscribe(json!({"channel": "vault", "token": token}))
        .await;
}

/// A JWT's identity is its key and subject: another key's token for the
/// same `sub` is another identity, and may not take the socket over.
async fn a_refresh_from_another_key_is_another_identity(backend: Backend) {
    let server = jwt::start(backend, &[]).await;
    jwt::private_channel(&server, "alpha").await;
    let tenant_a = jwt::AppKey::new("tenant-a");
    tenant_a.register(&server, json!({})).await;
    let tenant_b = jwt::AppKey::new("tenant-b");
    tenant_b.register(&server, json!({})).await;
    let claims = json!({"sub": "alice", "scopes": ["sub:alpha"], "aud": jwt::AUDIENCE, "exp": jwt::now() + 600});
    let first = tenant_a.mint(claims.clone());
    let (mut mux, hello) = Mux::open(&server, Some(&first)).await;
    assert_eq!(hello["credential"]["sub"], "alice");
    mux.subscribe(json!({"channel": "alpha"})).await;
    for other in [
        tenant_b.mint(claims.clone()),
        jwt::hs256(jwt::SECRET, claims.clone()),
    ] {
        mux.send(json!({"refresh": {"token": other}})).await;
        let answer = mux.next().await;
        assert_eq!(
            answer["error"]["status"], 403,
            "another key's token took the socket over: {answer}"
        );
    }
    // The same key and subject may.
    let again = tenant_a.mint(claims);
    mux.send(json!({"refresh": {"token": again}})).await;
    assert!(mux.next().await.get("refreshed").is_some());
}

/// A subscription refreshed while its replay waits its turn replays under
/// the credential it stands on now, not the one it was admitted with.
async fn a_refreshed_subscription_replays_under_the_new_credential(backend: Backend) {
    let server = jwt::start(backend, &["--write-timeout", "60"]).await;
    server.create_channel(json!({"id": "big"})).await;
    jwt::private_channel(&server, "vault").await;
    // About 10 MB on `big`: its replay holds `vault`'s in the queue while
    // the socket's buffers are full.
    let pad = "b".repeat(4 * 1024);
    for _ in 0..25 {
        let events: Vec<Value> = (0..100)
            .map(|i| json!({"data": {"i": i, "pad": pad}}))
            .collect();
        server.publish("big", json!({"events": events})).await;
    }
    let stored = publish_n(&server, "vault", 3).await;
    let claims = |jti: &str| json!({"sub": "user-1", "jti": jti, "scopes": ["sub:vault"], "aud": jwt::AUDIENCE, "exp": jwt::now() + 600});
    let old = jwt::hs256(jwt::SECRET, claims("old"));
    let new = jwt::hs256(jwt::SECRET, claims("new"));
    let mut mux = Mux(server.ws_small_buffer(&format!("/ws?token={old}")).await);
    assert!(mux.next().await.get("hello").is_some());
    mux.send(json!({"subscribe": {"channel": "big", "after": NIL}}))
        .await;
    mux.send(json!({"subscribe": {"channel": "vault", "after": NIL}}))
        .await;
    mux.send(json!({"refresh": {"ref": "r", "token": new}}))
        .await;
    let frames = mux
        .until("refreshed", |f| f.get("refreshed").is_some())
        .await;
    assert!(
        frames.iter().any(|f| f["subscribed"]["channel"] == "vault"),
        "vault was admitted before the refresh"
    );
    assert!(
        !frames.iter().any(|f| f["caught_up"].is_object()),
        "big's replay is still running, vault's still queued"
    );
    // The client moved to the new token; the old one is revoked.
    let (status, body) = server
        .call(
            Method::POST,
            "/revocations",
            Some(ADMIN),
            Some(json!({"jti": "old"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let frames = mux
        .until("vault's replay ends", |f| {
            f["caught_up"]["channel"] == "vault" || f["unsubscribed"]["channel"] == "vault"
        })
        .await;
    let last = frames.last().unwrap();
    assert!(
        last.get("caught_up").is_some(),
        "vault stands on the new token, yet its replay ran under the old one: {last}"
    );
    let replayed: Vec<Value> = frames
        .iter()
        .filter(|f| f["channel_id"] == "vault")
        .cloned()
        .collect();
    assert_eq!(ids(&replayed), stored);
}

/// A refresh re-checks each subscription that stood on the connection
/// credential, then swaps their access. A close order that arrives between
/// a subscription's re-check and the swap must be judged against the new
/// access too: revoking the new credential then ends the subscription. The
/// window is narrow, so each attempt revokes at another moment of the
/// refresh; every subscription must end in every attempt.
async fn a_credential_revoked_while_a_refresh_rechecks_ends_what_stands_on_it(backend: Backend) {
    const CHANNELS: usize = 80;
    const ATTEMPTS: u32 = 8;
    let server = jwt::start(backend, &["--ws-commands-per-second", "2000"]).await;
    let channels: Vec<String> = (0..CHANNELS).map(|i| format!("p-{i}")).collect();
    for channel in &channels {
        jwt::private_channel(&server, channel).await;
    }
    let claims = |jti: &str| json!({"sub": "user-1", "jti": jti, "scopes": ["sub:p-*"], "aud": jwt::AUDIENCE, "exp": jwt::now() + 600});
    let open = |attempt: u32| {
        let server = &server;
        let channels = &channels;
        async move {
            let old = jwt::hs256(jwt::SECRET, claims(&format!("old-{attempt}")));
            let (mut mux, _) = Mux::open(server, Some(&old)).await;
            for channel in channels {
                mux.send(json!({"subscribe": {"channel": channel}})).await;
            }
            mux.until("every caught_up", {
                let last = channels.last().unwrap().clone();
                move |f| f["caught_up"]["channel"] == last.as_str()
            })
            .await;
            mux
        }
    };
    // How long a refresh of every subscription takes here.
    let mut mux = open(0).await;
    let started = std::time::Instant::now();
    let calm = jwt::hs256(jwt::SECRET, claims("calm"));
    mux.send(json!({"refresh": {"token": calm}})).await;
    mux.until("refreshed", |f| f.get("refreshed").is_some())
        .await;
    let refresh_takes = started.elapsed();
    drop(mux);

    for attempt in 1..=ATTEMPTS {
        let mut mux = open(attempt).await;
        let jti = format!("new-{attempt}");
        let new = jwt::hs256(jwt::SECRET, claims(&jti));
        let delay = refresh_takes.mul_f64(f64::from(attempt) / f64::from(ATTEMPTS));
        mux.send(json!({"refresh": {"token": new}})).await;
        let revoke = {
            let request = server
                .http
                .post(server.url("/revocations"))
                .bearer_auth(ADMIN)
                .json(&json!({"jti": jti}));
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                request.send().await.unwrap().status()
            })
        };
        let frames = mux
            .until("the refresh's answer", |f| {
                f.get("refreshed").is_some() || f.get("error").is_some()
            })
            .await;
        assert_eq!(revoke.await.unwrap(), StatusCode::CREATED);
        if frames.last().unwrap().get("error").is_some() {
            continue; // revoked before the credential was read: no window
        }
        // Whatever ends now ends; then each channel publishes once.
        while common::next_text_within(&mut mux.0, Duration::from_millis(500))
            .await
            .is_some()
        {}
        for channel in &channels {
            server.publish(channel, json!({"data": "after"})).await;
        }
        let mut leaked = Vec::new();
        while let Some(text) =
            common::next_text_within(&mut mux.0, Duration::from_millis(500)).await
        {
            let f: Value = serde_json::from_str(&text).unwrap();
            if let Some(channel) = f["channel_id"].as_str() {
                leaked.push(channel.to_owned());
            }
        }
        assert!(
            leaked.is_empty(),
            "attempt {attempt} (revoked {delay:?} into a {refresh_takes:?} refresh): \
             {} subscriptions still read on the revoked credential: {leaked:?}",
            leaked.len()
        );
    }
}

/// A refresh re-checks every subscription that stands on the connection
/// credential (a store read each): it costs one command per re-check, so a
/// socket cannot turn its command rate into a hundred times as many reads.
async fn a_refresh_costs_a_command_per_recheck(backend: Backend) {
    let server = jwt::start(backend, &["--ws-commands-per-second", "2"]).await;
    let claims =
        json!({"sub": "u", "scopes": ["sub:r-*"], "aud": jwt::AUDIENCE, "exp": jwt::now() + 600});
    let token = jwt::hs256(jwt::SECRET, claims.clone());
    for i in 0..9 {
        jwt::private_channel(&server, &format!("r-{i}")).await;
    }
    let (mut mux, _) = Mux::open(&server, Some(&token)).await;
    // The burst is ten commands; nine subscribes take nine.
    for i in 0..9 {
        mux.subscribe(json!({"channel": format!("r-{i}")})).await;
    }
    // The refresh and its nine re-checks need nine: (at most) one is left,
    // plus the two a second that may have come back meanwhile.
    let error = mux
        .refused(json!({"refresh": {"ref": "r1", "token": token}}))
        .await;
    assert_eq!(
        (error["ref"].as_str(), error["status"].as_u64()),
        (Some("r1"), Some(429)),
        "{error}"
    );
    let wait = error["retry_after"].as_u64().expect("retry_after");
    assert!((1..=5).contains(&wait), "{error}");
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    mux.send(json!({"refresh": {"ref": "r2", "token": token}}))
        .await;
    let answer = mux.next().await;
    assert_eq!(answer["refreshed"]["ref"], "r2", "{answer}");
}
