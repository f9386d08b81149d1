//! A webhook receiver on loopback for the tests: it records every request (headers and
//! body), answers the first `fail_first` requests with 500 — or every request with a chosen
//! status — and otherwise 204, and counts which event ids it accepted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    fail_first: usize,
    always: Option<u16>,
    redirect_to: Option<String>,
    requests: Vec<Received>,
}

/// A running receiver; it stops when dropped with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut inner = inner.lock().expect("the receiver's state");
    let status = if let Some(to) = &inner.redirect_to {
        let to = to.clone();
        inner.requests.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            status: 302,
        });
        return (StatusCode::FOUND, [("location", to)]).into_response();
    } else if let Some(always) = inner.always {
        always
    } else if inner.fail_first > 0 {
        inner.fail_first -= 1;
        500
    } else {
        204
    };
    inner.requests.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    let code = StatusCode::from_u16(status).expect("a status");
    (code, "receiver says hello").into_response()
}

impl Receiver {
    /// A receiver that fails its first `fail_first` requests.
    pub async fn start(fail_first: usize) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            fail_first,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves");
        });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// From now on, answer every request with `status` (`None`: back to normal).
    pub fn answer_always(&self, status: Option<u16>) {
        self.inner.lock().expect("state").always = status;
    }

    /// From now on, answer every request with a redirect to `to`.
    pub fn redirect_to(&self, to: &str) {
        self.inner.lock().expect("state").redirect_to = Some(to.to_owned());
    }

    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().expect("state").requests.clone()
    }

    /// How often each event id was accepted (answered 2xx).
    pub fn accepted(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self
            .requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
        {
            *counts.entry(r.id.clone()).or_default() += 1;
        }
        counts
    }
}
