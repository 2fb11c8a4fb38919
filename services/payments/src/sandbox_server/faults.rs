//! What the sandbox server does to its answers on demand, for fault tests (`omni psp-sandbox --lose-replies-percent
//! … --slow-ms … --webhook-url … --duplicate-webhooks-percent …`): it loses a share of its replies after doing the
//! work (the caller sees a 503 and asks again with the same key), answers slowly, and reports each result to
//! payments' webhook endpoint, signed, sometimes twice.

use std::time::Duration;

use rand::Rng;

use crate::domain::webhook::{SIGNATURE_HEADER, sign};

/// The faults and the webhook target.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of replies lost after the work is done, in percent.
    pub lose_replies_percent: u8,
    /// How long each answer takes.
    pub slow: Duration,
    /// Where to send webhooks (payments' `/v1/payments/webhooks/sandbox`), if anywhere.
    pub webhook_url: Option<String>,
    /// The secret webhooks are signed with.
    pub webhook_secret: Vec<u8>,
    /// Share of webhooks sent twice, in percent.
    pub duplicate_webhooks_percent: u8,
}

impl Faults {
    /// Whether this reply is lost.
    pub fn lose_reply(&self) -> bool {
        self.lose_replies_percent > 0 && rand::rng().random_range(0..100) < self.lose_replies_percent
    }

    /// Waits as long as an answer takes.
    pub async fn answer_slowly(&self) {
        if !self.slow.is_zero() {
            tokio::time::sleep(self.slow).await;
        }
    }

    /// Reports an operation's result to the webhook target, in the background (once, or twice on demand).
    pub fn report(&self, operation_id: &str, kind: &str, amount_minor: i64, succeeded: bool) {
        let Some(url) = self.webhook_url.clone() else {
            return;
        };
        let body = serde_json::json!({
            "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "type": if succeeded { "operation.succeeded" } else { "operation.failed" },
            "operation_id": operation_id,
            "kind": kind,
            "amount_minor": amount_minor,
        })
        .to_string();
        let times = if self.duplicate_webhooks_percent > 0
            && rand::rng().random_range(0..100) < self.duplicate_webhooks_percent
        {
            2
        } else {
            1
        };
        let secret = self.webhook_secret.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..times {
                let signature = sign(&secret, chrono::Utc::now().timestamp(), body.as_bytes());
                let sent = http
                    .post(&url)
                    .header(SIGNATURE_HEADER, signature)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if let Err(e) = sent {
                    tracing::debug!(error = %e.without_url(), "The sandbox could not deliver a webhook.");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpRequest, HttpServer, web};

    use super::*;
    use crate::domain::webhook::verify;

    #[test]
    fn replies_are_lost_only_as_asked() {
        let never = Faults::default();
        let always = Faults {
            lose_replies_percent: 100,
            ..Faults::default()
        };
        assert!((0..100).all(|_| !never.lose_reply()));
        assert!((0..100).all(|_| always.lose_reply()));
    }

    #[tokio::test]
    async fn each_result_is_reported_signed_and_twice_when_asked() -> anyhow::Result<()> {
        type Seen = Arc<Mutex<Vec<(Option<String>, String)>>>;
        let seen: Seen = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let kept = seen.clone();
        let server = HttpServer::new(move || {
            let kept = kept.clone();
            App::new().route(
                "/hook",
                web::post().to(move |request: HttpRequest, body: String| {
                    let kept = kept.clone();
                    async move {
                        let signature = request
                            .headers()
                            .get(SIGNATURE_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        kept.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((signature, body));
                        "ok"
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        let faults = Faults {
            webhook_url: Some(url),
            webhook_secret: b"whsec".to_vec(),
            duplicate_webhooks_percent: 100,
            ..Faults::default()
        };
        faults.report("intent:capture-final:0:capture", "capture", 1_999, true);
        let mut waited = 0;
        while seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
            < 2
            && waited < 1_200
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
            waited += 1;
        }
        handle.stop(true).await;
        let seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        assert_eq!(seen.len(), 2, "sent twice: {seen:?}");
        assert_eq!(seen[0].1, seen[1].1, "the same event both times");
        for (signature, body) in &seen {
            let now = chrono::Utc::now().timestamp();
            assert_eq!(
                verify(b"whsec", signature.as_deref(), body.as_bytes(), now),
                Ok(())
            );
            assert!(
                body.contains("\"operation.succeeded\"") && body.contains("capture-final"),
                "{body}"
            );
        }
        Ok(())
    }
}
