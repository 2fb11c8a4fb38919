//! Settling a return once its money is made: `omni.payment.refunded` of its refund, `store_credit_issued` of its
//! credit, or (with an exchange) both its credit and its rest (`app::exchange`).

use omni_contracts::events::{ReturnEvent, ReturnSettled};
use omni_contracts::returns::{ReturnStatus, StoreCreditRef};
use omni_contracts::{Money, ReturnId};
use omni_db::DbConnection;

use crate::app::announce;
use crate::db::returns;
use crate::error::ReturnError;

/// Settles the return a refund was for, once (`omni.payment.refunded` of `return-<id>`, or
/// `store_credit_issued`, with the credit); whether it did.
pub fn settle(
    conn: &mut DbConnection,
    id: ReturnId,
    refunded: Money,
    credit: Option<StoreCreditRef>,
) -> Result<bool, ReturnError> {
    let Some(found) = returns::find(conn, id)? else {
        return Ok(false);
    };
    if found.status != ReturnStatus::Graded {
        return Ok(false);
    }
    returns::set_status(conn, id, ReturnStatus::Settled)?;
    if let Some(credit) = &credit {
        returns::keep_store_credit(conn, id, credit)?;
    }
    announce(
        conn,
        ReturnEvent::Settled(ReturnSettled {
            return_id: id,
            order_id: found.order_id,
            refunded,
            refund_to: found.refund_to.as_str().into(),
        }),
    )?;
    Ok(true)
}
