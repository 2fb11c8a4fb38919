//! HTTP clients for the mesh's APIs: [`Client`], raw (status and JSON body, for tests of refusals), and the typed
//! [`CatalogApi`], [`AllocationApi`], [`OrdersApi`] and [`PaymentsApi`] over `omni_contracts::api`, which the demo
//! and the tests use so that a contract change breaks them at compile time.

use std::time::Duration;

use anyhow::Context;
use omni_contracts::api::{
    Availability, CardToken, IssueStoredValue, Location, NewOrder, NewRefund, Order, RefundReceipt,
    SkuRecord, StockMovement, StoredValueView,
};
use omni_contracts::{OrderId, Sku};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Calls one service with an API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

/// A response's status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: serde_json::Value,
}

impl Answer {
    /// Decodes the body.
    pub fn json<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_value(self.body.clone()).with_context(|| format!("unexpected body: {}", self.body))
    }
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8083`) sending `key`.
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.into(),
            key: key.into(),
        }
    }

    /// The same service with another key.
    pub fn with_key(&self, key: impl Into<String>) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            key: key.into(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    /// `GET path` as text (e.g. `/metrics`).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?
            .text()
            .await?)
    }

    /// `DELETE path`.
    pub async fn delete_path(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }

    /// `POST path` with a JSON body and extra headers.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// `PUT path` with a JSON body and extra headers.
    pub async fn put<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self.http.put(format!("{}{path}", self.base)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// `DELETE path` with extra headers.
    pub async fn delete_with(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let mut request = self.http.delete(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let response = request.bearer_auth(&self.key).send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body })
    }
}

/// A call a service refused: what was asked and its `{code, message, type}` answer.
#[derive(Debug, thiserror::Error)]
#[error("{what} answered {status}: {body}")]
pub struct Refused {
    /// The call, e.g. `POST /v1/locations`.
    pub what: String,
    /// HTTP status.
    pub status: u16,
    /// The error body.
    pub body: serde_json::Value,
}

/// Whether an upsert created the record or found it (changed or the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// 201.
    Created,
    /// 200.
    Existed,
}

impl Answer {
    /// The body as `T` when the status is one of `ok`, otherwise [`Refused`].
    fn expect<T: DeserializeOwned>(self, what: String, ok: &[u16]) -> anyhow::Result<T> {
        if ok.contains(&self.status) {
            self.json()
        } else {
            Err(Refused {
                what,
                status: self.status,
                body: self.body,
            }
            .into())
        }
    }
}

/// Catalog's API, typed over `omni_contracts::api`: a contract change breaks its callers at compile time.
#[derive(Debug, Clone)]
pub struct CatalogApi(pub Client);

impl CatalogApi {
    /// `POST /v1/locations`: creates or changes a store or warehouse.
    pub async fn put_location(&self, location: &Location) -> anyhow::Result<Upserted> {
        upserted(
            self.0.post("/v1/locations", location, &[]).await?,
            "POST /v1/locations",
        )
    }

    /// `POST /v1/skus`: creates or changes a SKU.
    pub async fn put_sku(&self, sku: &SkuRecord) -> anyhow::Result<Upserted> {
        upserted(self.0.post("/v1/skus", sku, &[]).await?, "POST /v1/skus")
    }
}

fn upserted(answer: Answer, what: &str) -> anyhow::Result<Upserted> {
    match answer.status {
        201 => Ok(Upserted::Created),
        200 => Ok(Upserted::Existed),
        status => Err(Refused {
            what: what.to_owned(),
            status,
            body: answer.body,
        }
        .into()),
    }
}

/// Allocation's API, typed.
#[derive(Debug, Clone)]
pub struct AllocationApi(pub Client);

impl AllocationApi {
    /// `POST /v1/inventory/movements`; `Refused` with 422 while allocation has not learned the location or SKU.
    pub async fn record_movement(&self, movement: &StockMovement) -> anyhow::Result<()> {
        let answer = self.0.post("/v1/inventory/movements", movement, &[]).await?;
        answer.expect::<serde_json::Value>("POST /v1/inventory/movements".into(), &[200, 201])?;
        Ok(())
    }

    /// `GET /v1/availability/{sku}`.
    pub async fn availability(&self, sku: &Sku) -> anyhow::Result<Availability> {
        let what = format!("GET /v1/availability/{sku}");
        self.0
            .get(&format!("/v1/availability/{sku}"))
            .await?
            .expect(what, &[200])
    }
}

/// Orders' API, typed.
#[derive(Debug, Clone)]
pub struct OrdersApi(pub Client);

impl OrdersApi {
    /// `POST /v1/orders` with `Idempotency-Key: key`: the order (the first answer again for a repeated key).
    pub async fn place(&self, order: &NewOrder, key: &str) -> anyhow::Result<Order> {
        self.0
            .post("/v1/orders", order, &[("Idempotency-Key", key)])
            .await?
            .expect("POST /v1/orders".into(), &[200, 201])
    }

    /// `GET /v1/orders/{id}`.
    pub async fn get(&self, id: OrderId) -> anyhow::Result<Order> {
        self.0
            .get(&format!("/v1/orders/{id}"))
            .await?
            .expect(format!("GET /v1/orders/{id}"), &[200])
    }
}

/// Payments' API, typed.
#[derive(Debug, Clone)]
pub struct PaymentsApi(pub Client);

impl PaymentsApi {
    /// `POST /v1/payments/tokens`: a card token bound to the caller. (`TokenizeCard` is deliberately not
    /// serializable: card data is sent from here, never kept.)
    pub async fn tokenize(&self, number: &str, exp_month: u8, exp_year: u16) -> anyhow::Result<CardToken> {
        let card = serde_json::json!({ "number": number, "exp_month": exp_month, "exp_year": exp_year });
        self.0
            .post("/v1/payments/tokens", &card, &[])
            .await?
            .expect("POST /v1/payments/tokens".into(), &[201])
    }

    /// `POST /v1/payments/gift-cards`: a gift card or store credit (its code in the answer that issues it).
    pub async fn issue_stored_value(&self, issue: &IssueStoredValue) -> anyhow::Result<StoredValueView> {
        self.0
            .post("/v1/payments/gift-cards", issue, &[])
            .await?
            .expect("POST /v1/payments/gift-cards".into(), &[200, 201])
    }

    /// `POST /v1/payments/refunds`.
    pub async fn refund(&self, refund: &NewRefund) -> anyhow::Result<RefundReceipt> {
        self.0
            .post("/v1/payments/refunds", refund, &[])
            .await?
            .expect("POST /v1/payments/refunds".into(), &[200, 201])
    }
}
