//! What happens to a return between its opening and its items: a store manager's decision on one the policy left
//! to a manager, the customer's (or staff's) withdrawal, and the expiry of one whose items (or decision) never
//! came. Each takes the order's lock, checks the return's state again under it, and writes the change, its event
//! and its audit entry in one transaction; each frees the units when the return ends.

use chrono::{DateTime, Utc};
use omni_contracts::ReturnId;
use omni_contracts::events::{ReturnApproved, ReturnCancelled, ReturnDeclined, ReturnEvent, ReturnExpired};
use omni_contracts::returns::{Declined, Return, ReturnDecision, ReturnStatus};
use omni_db::DbConnection;

use crate::app::State;
use crate::app::announce;
use crate::app::exchange;
use crate::db::returns;
use crate::domain::policy::rules;
use crate::error::ReturnError;
use crate::metrics::Outcome;

/// A store manager's decision, by `by` (audited), on a return the policy left to one: approved, it awaits its
/// items; declined, its units can be returned again. Deciding again as decided answers the return as it is.
pub async fn decide(
    state: &State,
    id: ReturnId,
    decision: ReturnDecision,
    by: String,
) -> Result<Return, ReturnError> {
    if decision.reason.trim().is_empty() || decision.reason.len() > 500 {
        return Err(ReturnError::Invalid("reason: 1 to 500 characters".into()));
    }
    let expires_at = Utc::now() + state.items_within;
    let decided = state
        .db
        .transaction(move |conn| -> Result<(Return, bool), ReturnError> {
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            omni_db::lock_transaction(conn, &format!("returns.order.{}", found.order_id))?;
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            match (found.status, decision.approve) {
                (ReturnStatus::Requested, _) => {}
                (ReturnStatus::AwaitingItems, true) | (ReturnStatus::Declined, false) => {
                    return Ok((found, false));
                }
                (other, _) => return Err(ReturnError::NotDecidable(id, other)),
            }
            let rule = found.awaiting_manager.as_ref().map(|r| r.rule.clone());
            if decision.approve {
                returns::approve(conn, id, expires_at)?;
                announce(
                    conn,
                    ReturnEvent::Approved(ReturnApproved {
                        return_id: id,
                        order_id: found.order_id,
                        by: by.clone(),
                    }),
                )?;
                exchange::request(conn, &found)?;
            } else {
                let declined = Declined {
                    rule: rules::MANAGER.into(),
                    reason: decision.reason.clone(),
                };
                returns::decline(conn, id, &declined)?;
                exchange::end_with_return(conn, &found, "the return was declined")?;
                announce(
                    conn,
                    ReturnEvent::Declined(ReturnDeclined {
                        return_id: id,
                        order_id: found.order_id,
                        rule: declined.rule,
                        reason: declined.reason,
                    }),
                )?;
            }
            omni_db::audit::record(
                conn,
                &by,
                if decision.approve {
                    "return.approved"
                } else {
                    "return.declined"
                },
                &id.to_string(),
                &serde_json::json!({ "rule": rule, "reason": decision.reason }),
            )?;
            Ok((returns::find(conn, id)?.ok_or(ReturnError::Vanished(id))?, true))
        })
        .await?;
    if decided.1 {
        state.relay.notify_one();
        if decided.0.status == ReturnStatus::Declined {
            state.metrics.count(Outcome::Declined);
        }
    }
    Ok(decided.0)
}

/// Withdraws a return whose items have not come, by `by` (audited): its units can be returned again.
pub async fn cancel(state: &State, id: ReturnId, by: String) -> Result<Return, ReturnError> {
    let cancelled = state
        .db
        .transaction(move |conn| -> Result<(Return, bool), ReturnError> {
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            omni_db::lock_transaction(conn, &format!("returns.order.{}", found.order_id))?;
            let found = returns::find(conn, id)?.ok_or(ReturnError::UnknownReturn(id))?;
            match found.status {
                ReturnStatus::Cancelled => return Ok((found, false)),
                ReturnStatus::Requested | ReturnStatus::Approved | ReturnStatus::AwaitingItems => {}
                other => return Err(ReturnError::NotCancellable(id, other)),
            }
            returns::set_status(conn, id, ReturnStatus::Cancelled)?;
            exchange::end_with_return(conn, &found, "the return was cancelled")?;
            omni_db::audit::record(
                conn,
                &by,
                "return.cancelled",
                &id.to_string(),
                &serde_json::json!({ "order_id": found.order_id }),
            )?;
            announce(
                conn,
                ReturnEvent::Cancelled(ReturnCancelled {
                    return_id: id,
                    order_id: found.order_id,
                    by: by.clone(),
                }),
            )?;
            Ok((returns::find(conn, id)?.ok_or(ReturnError::Vanished(id))?, true))
        })
        .await?;
    if cancelled.1 {
        state.relay.notify_one();
        state.metrics.count(Outcome::Cancelled);
    }
    Ok(cancelled.0)
}

/// Expires a return still waiting at `now` for items (or a manager's decision) that should have come (the expiry
/// job's step, in the caller's transaction): its units can be returned again. Whether it did.
pub fn expire(conn: &mut DbConnection, id: ReturnId, now: DateTime<Utc>) -> Result<bool, ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(false);
    };
    omni_db::lock_transaction(conn, &format!("returns.order.{}", found.order_id))?;
    let Some(found) = returns::find(conn, id)? else {
        return Ok(false);
    };
    let overdue = found.expires_at.is_some_and(|at| at <= now);
    let waiting = matches!(
        found.status,
        ReturnStatus::AwaitingItems | ReturnStatus::Requested
    );
    if !waiting || !overdue {
        return Ok(false);
    }
    returns::set_status(conn, id, ReturnStatus::Expired)?;
    exchange::end_with_return(conn, &found, "the returned units never came")?;
    omni_db::audit::record(
        conn,
        EXPIRY_ACTOR,
        "return.expired",
        &id.to_string(),
        &serde_json::json!({ "order_id": found.order_id, "expires_at": found.expires_at }),
    )?;
    announce(
        conn,
        ReturnEvent::Expired(ReturnExpired {
            return_id: id,
            order_id: found.order_id,
        }),
    )?;
    Ok(true)
}

/// Who expires returns, in the audit log.
pub const EXPIRY_ACTOR: &str = "omni:returns";
