//! Outgoing webhook requests: one POST per attempt, made so that a registered URL cannot be
//! turned against the deployment itself.
//!
//! - **Addresses checked before connecting.** The client resolves names with its own
//!   resolver, which refuses an answer with any address that is not public unicast
//!   (`kopek_domain::webhooks::is_public`); the connection goes to the addresses checked, so
//!   a name cannot resolve to a public address for the check and a private one for the
//!   connection. A URL naming an address is checked the same way. Deployments that deliver
//!   inside their own network (and the tests' loopback receivers) allow private addresses
//!   explicitly (`KOPEK_WEBHOOKS_ALLOW_PRIVATE`).
//! - **No redirects**: a 3xx answer is a failed attempt, recorded with its status.
//! - **A deadline** of [`TIMEOUT`] for the whole exchange, and at most
//!   [`KEPT_RESPONSE`] bytes of the answer read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use kopek_domain::webhooks::{Attempt, EndpointUrl, KEPT_RESPONSE, TIMEOUT, is_public, trimmed};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Refuses names that resolve to an address a delivery may not reach.
#[derive(Debug, Clone, Copy)]
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !allow_private && !is_public(a.ip())) {
                return Err(Box::new(Refused(format!(
                    "{host} resolves to {}, which is not a public address",
                    bad.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// Sends webhook requests. Cheap to clone; build once per cold start.
#[derive(Debug, Clone)]
pub struct HookClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl HookClient {
    /// A client that refuses private addresses unless `allow_private`.
    pub fn new(allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent("Kopek-Webhooks/1")
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Whether private addresses are allowed (a deployment's explicit choice).
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` with `headers` to `url`: the attempt as it went, never an error.
    pub async fn post(
        &self,
        url: &EndpointUrl,
        headers: &[(&'static str, String)],
        body: String,
        at: DateTime<Utc>,
    ) -> Attempt {
        let started = Instant::now();
        let failed = |error: String, started: Instant| Attempt {
            at,
            status_code: None,
            duration_ms: started.elapsed().as_millis() as u64,
            response: String::new(),
            error: Some(error),
        };
        if let Some(ip) = url.literal_ip()
            && !self.allow_private
            && !is_public(ip)
        {
            return failed(format!("{ip} is not a public address"), started);
        }
        let mut request = self
            .client
            .post(url.as_str())
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e), started),
        };
        let status = response.status().as_u16();
        let mut kept = Vec::new();
        while kept.len() < KEPT_RESPONSE {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Attempt {
            at,
            status_code: Some(status),
            duration_ms: started.elapsed().as_millis() as u64,
            response: trimmed(&kept),
            error: None,
        }
    }
}

/// What went wrong, in words an admin reads in the delivery log.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        source = s.source();
    }
    if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    }
}
