//! Returns customers ask for themselves, with the return code they were sent for their order: by mail only (the
//! items are graded when they come), refunded to the original tenders. Wrong codes are counted per order and per
//! client address in a transaction of their own; past either limit within the window every try is refused, right
//! code or not, until the oldest counted one ages out. An unknown order answers as a wrong code does.

use chrono::{DateTime, Utc};
use omni_contracts::returns::{CustomerReturn, NewReturn, RefundTo, ReturnMethod};

use crate::app::State;
use crate::app::returns::{Asker, Opened, open};
use crate::db::return_codes;
use crate::error::ReturnError;

/// How many wrong codes are allowed, and over how long.
#[derive(Debug, Clone, Copy)]
pub struct CodeLimits {
    /// Per order.
    pub per_order: i64,
    /// Per client address.
    pub per_client: i64,
    /// The window they count in.
    pub window: chrono::Duration,
}

/// Opens the customer's return if the code is the order's, asked from `client` at `now`.
pub async fn open_with_code(
    state: &State,
    asked: CustomerReturn,
    client: String,
    now: DateTime<Utc>,
) -> Result<Opened, ReturnError> {
    let limits = state.code_limits;
    let CustomerReturn {
        return_code,
        request_id,
        order_id,
        lines,
    } = asked;
    let since = (now - limits.window).naive_utc();
    let who = client.clone();
    let (for_order, from_client, digest) = state
        .db
        .run(move |conn| -> omni_db::Result<(i64, i64, Option<String>)> {
            let (for_order, from_client) = return_codes::failures(conn, order_id, &who, since)?;
            Ok((for_order, from_client, return_codes::digest_of(conn, order_id)?))
        })
        .await?;
    if for_order >= limits.per_order || from_client >= limits.per_client {
        return Err(ReturnError::TooManyCodes(limits.window.num_minutes().max(1)));
    }
    if digest.as_deref() != Some(omni_http::codes::digest(&return_code).as_str()) {
        let who = client.clone();
        state
            .db
            .transaction(move |conn| return_codes::record_failure(conn, order_id, &who))
            .await?;
        return Err(ReturnError::WrongCode);
    }
    let asked = NewReturn {
        request_id,
        order_id,
        lines,
        method: ReturnMethod::ByMail,
        refund_to: RefundTo::OriginalTenders,
        units: Vec::new(),
        exchange: None,
    };
    let name = format!("customer@{client}");
    let by = Asker {
        payer: omni_contracts::api::Payer::principal(&name),
        name,
        manager: false,
    };
    open(state, asked, by, now).await
}
