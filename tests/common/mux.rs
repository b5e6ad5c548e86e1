//! The multiplexed socket (`/api/v1/ws`) as tests drive it: JSON frames
//! over a real WebSocket client.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use super::{Deadline, TestServer, Ws, next_text, scaled};

pub const NIL: &str = "00000000000000000000000000";

/// A multiplexed socket as a test drives it.
pub struct Mux(pub Ws);

impl Mux {
    pub async fn open(server: &TestServer, bearer: Option<&str>) -> (Mux, Value) {
        let mut mux = Mux(server.ws_with_header("/ws", bearer).await);
        let hello = mux.next().await;
        assert!(hello.get("hello").is_some(), "{hello}");
        (mux, hello["hello"].clone())
    }

    pub async fn send(&mut self, frame: Value) {
        self.0.send(Message::text(frame.to_string())).await.unwrap();
    }

    /// The next text frame, as JSON.
    pub async fn next(&mut self) -> Value {
        serde_json::from_str(&next_text(&mut self.0).await).unwrap()
    }

    /// Frames up to and including the first that `done` accepts.
    pub async fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Deadline::after(Duration::from_secs(20));
        let mut frames = Vec::new();
        loop {
            let frame = deadline.within(|| what.to_owned(), self.next()).await;
            let last = done(&frame);
            frames.push(frame);
            if last {
                return frames;
            }
        }
    }

    /// Subscribes and reads through `caught_up`: returns `subscribed`'s
    /// payload and every frame in between (gap notices, replayed events).
    pub async fn subscribe(&mut self, body: Value) -> (Value, Vec<Value>) {
        let channel = body["channel"].as_str().unwrap().to_owned();
        self.send(json!({ "subscribe": body })).await;
        let subscribed = self.next().await;
        assert_eq!(
            subscribed["subscribed"]["channel"],
            channel.as_str(),
            "{subscribed}"
        );
        let mut frames = self
            .until("caught_up", |f| {
                f["caught_up"]["channel"] == channel.as_str()
            })
            .await;
        frames.pop();
        (subscribed["subscribed"].clone(), frames)
    }

    /// A command that must be refused: its `error` payload.
    pub async fn refused(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        let answer = self.next().await;
        assert!(answer.get("error").is_some(), "{answer}");
        answer["error"].clone()
    }

    /// Reads to the close frame: its code and the text frames before it.
    pub async fn closed(&mut self) -> (Option<CloseCode>, Vec<Value>) {
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(scaled(Duration::from_secs(20)), self.0.next())
                .await
                .expect("no close within 20 s")
            {
                Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => return (frame.map(|f| f.code), frames),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return (None, frames),
            }
        }
    }
}

pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("an event").to_owned())
        .collect()
}

pub async fn publish_n(server: &TestServer, channel: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let event = server
            .publish(channel, json!({"type": "tick", "data": {"i": i}}))
            .await;
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    ids
}
