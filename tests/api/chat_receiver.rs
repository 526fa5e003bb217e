//! A chat tool's webhook receiver on loopback: it keeps every POST it gets
//! (path and JSON body) and answers from a script, one answer per request
//! (status, Retry-After, a delay), then 200 once the script is used up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::helpers::loopback_site;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<&'static str>,
    pub delay: Duration,
    pub body: &'static str,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            retry_after: None,
            delay: Duration::ZERO,
            body: "",
        }
    }

    pub fn retry_after(mut self, value: &'static str) -> Answer {
        self.retry_after = Some(value);
        self
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }

    pub fn body(mut self, body: &'static str) -> Answer {
        self.body = body;
        self
    }
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: Value,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Answer>>,
    received: Mutex<Vec<Received>>,
    /// Every answer takes this long at least (a receiver some way off).
    latency: Mutex<Duration>,
}

pub struct Receiver {
    pub base: String,
    state: Arc<State>,
    _server: actix_web::dev::ServerHandle,
}

async fn receive(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let answer = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::status(200).body("ok"));
    let latency = *state.latency.lock().unwrap();
    actix_web::rt::time::sleep(answer.delay + latency).await;
    state.received.lock().unwrap().push(Received {
        path: request.path().to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status: answer.status,
    });
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap());
    if let Some(wait) = answer.retry_after {
        response.insert_header(("retry-after", wait));
    }
    response.body(answer.body)
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let (base, handle) = loopback_site("127.0.0.1", 2, move |receiver| {
            receiver
                .app_data(data.clone())
                .default_service(web::to(receive));
        });
        Receiver {
            base,
            state,
            _server: handle,
        }
    }

    /// The webhook address of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().unwrap() = latency;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Requests a path got.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}
