//! A Slack-compatible incoming webhook: one HTTP POST of `{"text": ...}` as JSON ("Sending messages using
//! incoming webhooks", https://api.slack.com/messaging/webhooks: the app answers 200 `ok`; Microsoft Teams
//! and Mattermost incoming webhooks take the same `text` field).
//!
//! The POST goes through orgscan's one HTTP stack (the SDK's hyper and rustls client, built in `aws`). The
//! URL is a secret: no error, log line or report names it; errors say "the webhook".

use std::time::Duration;

use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;

use super::{Digest, WebhookUrl};

/// Posts digests to webhooks.
pub struct Poster {
    connector: aws_smithy_http_client::Connector,
    timeout: Duration,
}

impl Poster {
    pub fn new(timeout: Duration) -> Self {
        Self { connector: crate::aws::https_connector(timeout), timeout }
    }

    /// POSTs the digest; a status other than 2xx, a timeout or a refused connection is an error.
    pub async fn post(&self, url: &WebhookUrl, digest: &Digest) -> Result<(), String> {
        let body = serde_json::json!({ "text": format!("*{}*\n{}", digest.subject, digest.text) }).to_string();
        tracing::debug!("notification: posting the digest to the webhook ({} bytes)", body.len());
        let mut req = HttpRequest::new(SdkBody::from(body));
        let fail = |why: String| format!("cannot post the notification to the webhook: {why}");
        req.set_method("POST").map_err(|_| fail("bad method".into()))?;
        // The URL's own parse error would quote it: say only that it does not parse.
        req.set_uri(url.expose()).map_err(|_| fail("its URL does not parse".into()))?;
        req.headers_mut().insert("content-type", "application/json");
        match tokio::time::timeout(self.timeout, self.connector.call(req)).await {
            Err(_) => Err(fail(format!("no answer within {} s", self.timeout.as_secs()))),
            // The connector's error may name the host and path: only its kind is shown.
            Ok(Err(e)) => Err(fail(describe(&e))),
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => Err(fail(format!("HTTP {}", resp.status().as_u16()))),
        }
    }
}

/// What kind of connection failure, without the URL.
fn describe(e: &aws_smithy_runtime_api::client::result::ConnectorError) -> String {
    if e.is_timeout() {
        "the connection timed out".into()
    } else if e.is_io() {
        "the connection failed (refused, reset or not resolvable)".into()
    } else {
        "the HTTP exchange failed".into()
    }
}
