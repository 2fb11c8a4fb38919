//! `/v1/returns`: open a return (or the whole return at the counter), read it, decide it (a store manager), receive
//! its units, withdraw it.

pub mod by_code;
pub mod cancel;
pub mod create;
pub mod decide;
pub mod receive;
pub mod show;

use omni_contracts::returns::{Return, ReturnMethod};
use omni_http::{ApiError, Code, Principal};

use crate::app::State;
use crate::db::order_views;

/// Whether `principal` may act on a return of `order` at `location`: a partner only on its own orders, an associate
/// or store manager only at one of their stores (any order: returns are taken anywhere), everyone else on any.
pub async fn may_act(
    state: &State,
    principal: &Principal,
    order_id: omni_contracts::OrderId,
    location: Option<&str>,
) -> Result<(), ApiError> {
    let order = state
        .db
        .run(move |conn| order_views::find(conn, order_id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {order_id}")))?;
    if principal.partner_id.is_some() {
        return if principal.sees(order.partner_id.as_ref(), []) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("order {order_id}")))
        };
    }
    match location {
        Some(store) if !principal.works_at(store) => Err(ApiError::new(
            Code::Forbidden,
            format!("{} does not work at {store}", principal.name),
        )),
        None if !principal.locations.is_empty() => Err(ApiError::new(
            Code::Forbidden,
            format!(
                "{} works at stores: returns by mail are taken by unscoped staff",
                principal.name
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `principal` decides what the policy leaves to a store manager (and may override refunds).
pub fn is_manager(principal: &Principal) -> bool {
    principal.has(omni_config::Role::Manager) || principal.has(omni_config::Role::Admin)
}

/// The store a return is taken at, if in store.
pub fn store_of(method: &ReturnMethod) -> Option<&str> {
    match method {
        ReturnMethod::InStore { location_id } => Some(location_id.as_str()),
        ReturnMethod::ByMail => None,
    }
}

/// The return named in the path, if `principal` sees it (otherwise, as for an unknown one: 404).
pub async fn visible(state: &State, principal: &Principal, id: &str) -> Result<Return, ApiError> {
    let id =
        omni_contracts::ReturnId::parse(id).map_err(|e| ApiError::new(Code::InvalidPath, e.to_string()))?;
    let found = state
        .db
        .run(move |conn| crate::db::returns::find(conn, id))
        .await?;
    match found {
        Some(r) if sees(state, principal, &r).await? => Ok(r),
        _ => Err(ApiError::not_found(format!("return {id}"))),
    }
}

/// Whether `principal` sees `r`: a partner its own orders' returns, an associate those taken at its stores.
pub async fn sees(state: &State, principal: &Principal, r: &Return) -> Result<bool, ApiError> {
    let stores: Vec<&str> = store_of(&r.method)
        .into_iter()
        .chain(r.units.iter().map(|u| u.location_id.as_str()))
        .collect();
    if principal.partner_id.is_some() {
        let order_id = r.order_id;
        let order = state
            .db
            .run(move |conn| order_views::find(conn, order_id))
            .await?;
        return Ok(order.is_some_and(|o| principal.sees(o.partner_id.as_ref(), [])));
    }
    Ok(principal.sees(None, stores))
}
