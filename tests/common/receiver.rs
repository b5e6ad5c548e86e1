//! A real HTTP server on loopback that records webhook deliveries and
//! answers as a test tells it to.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use poem::{
    EndpointExt, Response, Route, handler,
    http::{HeaderMap, StatusCode as PoemStatus},
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Data,
};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    pub answered: u16,
}

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
    /// Answer 500 forever.
    pub always_fail: bool,
    /// Answer the first request with 429 and this `Retry-After`.
    pub retry_after_first: Option<u64>,
    pub delay: Duration,
    /// The status `retry_after_first` answers with (429 when unset).
    pub retry_after_status: Option<u16>,
    /// Answer every request with this status (after the cases above).
    pub answer_status: Option<u16>,
    /// A `Location` header on every answer (for 3xx answers).
    pub location: Option<String>,
}

#[derive(Default)]
struct ReceiverState {
    behaviour: Behaviour,
    /// Requests that arrived (answered or not yet).
    started: usize,
    received: Vec<Received>,
}

/// A real HTTP server on loopback that records webhook deliveries.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

#[handler]
async fn receive(
    headers: &HeaderMap,
    body: String,
    state: Data<&Arc<Mutex<ReceiverState>>>,
) -> Response {
    let (answer, delay, retry_after, location) = {
        let mut state = state.lock().unwrap();
        state.started += 1;
        let n = state.received.len();
        let b = &state.behaviour;
        let (answer, delay, retry_after) = if b.retry_after_first.is_some() && n == 0 {
            let status = b
                .retry_after_status
                .map_or(PoemStatus::TOO_MANY_REQUESTS, |s| {
                    PoemStatus::from_u16(s).unwrap()
                });
            (status, b.delay, b.retry_after_first)
        } else if b.always_fail || n < b.fail_first {
            (PoemStatus::INTERNAL_SERVER_ERROR, b.delay, None)
        } else if let Some(status) = b.answer_status {
            (PoemStatus::from_u16(status).unwrap(), b.delay, None)
        } else {
            (PoemStatus::OK, b.delay, None)
        };
        (answer, delay, retry_after, b.location.clone())
    };
    tokio::time::sleep(delay).await;
    state.lock().unwrap().received.push(Received {
        headers: headers.clone(),
        body,
        at: Instant::now(),
        answered: answer.as_u16(),
    });
    let mut response = Response::builder().status(answer);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    if let Some(location) = location {
        response = response.header("location", location);
    }
    response.finish()
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        Self::start_on("127.0.0.1:0", behaviour).await
    }

    pub async fn start_on(addr: &str, behaviour: Behaviour) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            behaviour,
            ..ReceiverState::default()
        }));
        let acceptor = TcpListener::bind(addr.to_owned())
            .into_acceptor()
            .await
            .unwrap();
        let local = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let app = Route::new().at("/hook", post(receive)).data(state.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Receiver {
            url: format!("http://{local}/hook"),
            state,
            task,
        }
    }

    /// Answers from now on as `behaviour` says.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// Requests that have arrived, including ones still being answered.
    pub fn started(&self) -> usize {
        self.state.lock().unwrap().started
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Bodies of the requests answered with success, in arrival order.
    pub fn delivered(&self) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|r| r.answered == 200)
            .map(|r| r.body)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
