//! Subscribers that stop reading (SPEC §1, §9): a socket that takes no bytes
//! for `--write-timeout` is cut as a slow consumer even when its channel has
//! gone quiet, the metrics name that reason, and readers on the same channel
//! are not disturbed. Real binary, real sockets, SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{Backend, TestServer, eventually, metric_value, next_text};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

on_both_backends!(
    a_socket_that_takes_nothing_is_dropped_on_a_quiet_channel,
    an_sse_stream_that_takes_nothing_ends_on_a_quiet_channel,
);

const WRITE_TIMEOUT: &str = "1";
const WRITE_TIMEOUT_SERIES: &str =
    "channelhub_slow_consumer_disconnects_total{reason=\"write_timeout\"}";
const QUEUE_SERIES: &str = "channelhub_slow_consumer_disconnects_total{reason=\"queue\"}";

/// Publishes `batches` batches of ten 50 KB events: with a few, more than
/// every socket buffer between the server and a client that never reads,
/// and far less than the queue bound (1024 frames, 8 MiB), so only the write
/// deadline can cut the client.
async fn publish_large(server: &TestServer, channel: &str, batches: usize) -> usize {
    let pad = "x".repeat(50_000);
    for batch in 0..batches {
        let events: Vec<Value> = (0..10)
            .map(|i| json!({"data": {"batch": batch, "i": i, "pad": pad}}))
            .collect();
        server.publish(channel, json!({"events": events})).await;
    }
    batches * 10
}

async fn a_socket_that_takes_nothing_is_dropped_on_a_quiet_channel(backend: Backend) {
    let server = TestServer::start_with(backend, &["--write-timeout", WRITE_TIMEOUT]).await;
    server.create_channel(json!({"id": "quiet"})).await;
    let mut stuck = server.ws_small_buffer("/channels/quiet/ws").await;
    let mut reader = server.ws("/channels/quiet/ws").await;
    assert_eq!(server.subscribers("quiet").await, 2);

    // 4 MB, then nothing more: the channel is quiet from here on.
    const EVENTS: usize = 80;
    let reading = tokio::spawn(async move {
        for _ in 0..EVENTS {
            next_text(&mut reader).await;
        }
        reader
    });
    assert_eq!(publish_large(&server, "quiet", EVENTS / 10).await, EVENTS);
    let mut reader = tokio::time::timeout(common::scaled(Duration::from_secs(30)), reading)
        .await
        .expect("the reading subscriber got all 80 events within 30 s")
        .unwrap();

    eventually(
        "the stuck socket to be dropped (subscribers back to 1) on the quiet channel",
        || async { server.subscribers("quiet").await == 1 },
    )
    .await;
    let metrics = server.metrics().await;
    assert_eq!(
        metric_value(&metrics, WRITE_TIMEOUT_SERIES),
        Some(1.0),
        "the write deadline is named as the reason: {metrics}"
    );
    assert_eq!(
        metric_value(&metrics, QUEUE_SERIES).unwrap_or(0.0),
        0.0,
        "the queue bound was never reached: {metrics}"
    );

    // The reader outlived the quiet spell and still gets what comes next.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = server.publish_raw("quiet", json!({"data": "after"})).await;
    assert_eq!(next_text(&mut reader).await, body);

    // The stuck client, reading at last, finds what the kernel still held
    // and then the end: a 1008 close if it fit, otherwise a cut connection.
    let (texts, ending) = tokio::time::timeout(common::scaled(Duration::from_secs(20)), async {
        let mut texts = 0;
        loop {
            match stuck.next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(frame))) => return (texts, frame.map(|f| f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (texts, None),
            }
        }
    })
    .await
    .expect("the stuck socket ends within 20 s once read");
    assert!(
        texts < EVENTS,
        "the stuck client cannot have got all {EVENTS} events ({texts})"
    );
    if let Some(code) = ending {
        assert_eq!(code, CloseCode::Policy, "a close, if any, is 1008");
    }
}

async fn an_sse_stream_that_takes_nothing_ends_on_a_quiet_channel(backend: Backend) {
    let server = TestServer::start_with(backend, &["--write-timeout", WRITE_TIMEOUT]).await;
    server.create_channel(json!({"id": "quiet-stream"})).await;

    // A raw HTTP client with a small receive buffer that reads the response
    // head, so the stream is known to be open, and then nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut stream = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /api/v1/channels/quiet-stream/stream HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    tokio::time::timeout(common::scaled(Duration::from_secs(10)), async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "the stream closed"
            );
            head.push(byte[0]);
        }
    })
    .await
    .expect("the SSE response head within 10 s");
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // 8 MB: past the socket buffers, the HTTP layer's own buffer and the
    // session's few messages, yet under the queue bound's 1024 frames.
    publish_large(&server, "quiet-stream", 16).await;
    eventually(
        "the SSE session to give up on the stalled stream",
        || async { metric_value(&server.metrics().await, WRITE_TIMEOUT_SERIES) == Some(1.0) },
    )
    .await;
    let metrics = server.metrics().await;
    assert_eq!(
        metric_value(&metrics, QUEUE_SERIES).unwrap_or(0.0),
        0.0,
        "the queue bound was never reached: {metrics}"
    );
    drop(stream);
}
