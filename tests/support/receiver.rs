//! A real HTTP receiver for delivery tests: an actix-web server on 127.0.0.1:0 that
//! answers from a script (then a default reply) and records every request, as a Slack,
//! Teams or webhook endpoint would. Shared by the delivery and API test binaries.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<&'static str>,
    pub body: &'static str,
    pub delay: Duration,
}

pub fn reply(status: u16) -> Reply {
    Reply { status, retry_after: None, body: "", delay: Duration::ZERO }
}

pub struct Recorded {
    pub at: Instant,
    pub headers: HashMap<String, String>,
    pub body: String,
}

pub struct ReceiverState {
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Reply>,
    pub requests: Mutex<Vec<Recorded>>,
    /// Ids of requests answered 2xx: what a deduplicating receiver processed.
    pub processed: Mutex<HashSet<String>>,
    arrived: Notify,
}

pub struct Receiver {
    pub url: String,
    pub state: web::Data<ReceiverState>,
}

async fn receive(state: web::Data<ReceiverState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
        .collect::<HashMap<_, _>>();
    let reply = state.script.lock().unwrap().pop_front().unwrap_or_else(|| state.otherwise.lock().unwrap().clone());
    tokio::time::sleep(reply.delay).await;
    if (200..300).contains(&reply.status) {
        let id = headers.get("webhook-id").or(headers.get("idempotency-key")).cloned().unwrap_or_default();
        state.processed.lock().unwrap().insert(id);
    }
    let body = String::from_utf8(body.to_vec()).unwrap();
    state.requests.lock().unwrap().push(Recorded { at: Instant::now(), headers, body });
    state.arrived.notify_one();
    let mut response = HttpResponse::build(StatusCode::from_u16(reply.status).unwrap());
    if let Some(value) = reply.retry_after {
        response.insert_header(("Retry-After", value));
    }
    if (300..400).contains(&reply.status) {
        response.insert_header(("Location", "http://127.0.0.1:9/elsewhere"));
    }
    response.body(reply.body)
}

impl Receiver {
    /// Answers `script` in order, then `otherwise` forever.
    pub fn start(script: impl IntoIterator<Item = Reply>, otherwise: Reply) -> Self {
        let state = web::Data::new(ReceiverState {
            script: Mutex::new(script.into_iter().collect()),
            otherwise: Mutex::new(otherwise),
            requests: Mutex::default(),
            processed: Mutex::default(),
            arrived: Notify::new(),
        });
        let data = state.clone();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("receiver binds");
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self { url: format!("http://127.0.0.1:{port}/services/T0/B0/SECRETPATH"), state }
    }

    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    pub fn processed(&self) -> usize {
        self.state.processed.lock().unwrap().len()
    }

    pub fn header(&self, request: usize, name: &str) -> Option<String> {
        self.state.requests.lock().unwrap()[request].headers.get(name).cloned()
    }

    pub fn body(&self, request: usize) -> String {
        self.state.requests.lock().unwrap()[request].body.clone()
    }

    /// From now on, answers `reply` once the script is used up.
    pub fn answer_otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = reply;
    }

    /// Waits (bounded) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while self.count() < n {
                self.state.arrived.notified().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("expected {n} requests, got {}", self.count()));
    }
}
