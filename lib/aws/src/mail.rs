//! E-mail through Amazon SES (v2 API): plain-text notifications from the deployment's sender
//! address (`MailSenderIdentity` in the template). Locally the emulator records each message
//! (readable at its `/moto-api/data.json`, under `ses` → `Message`).

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::dynamo::StoreError;

/// SES's limit on a message's recipients.
pub const MAX_RECIPIENTS: usize = 50;

/// The sender and a client for SES.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: Client,
    from: String,
}

impl Mailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// Sends `text` with `subject` to `to`; SES's message id.
    pub async fn send(&self, to: &str, subject: &str, text: &str) -> Result<String, StoreError> {
        let utf8 = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| StoreError::Unexpected(e.to_string()))
        };
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(utf8(subject)?)
                            .body(Body::builder().text(utf8(text)?).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(out.message_id.unwrap_or_default())
    }
}
