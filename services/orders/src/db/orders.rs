use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use omni_contracts::api::{
    AcceptedRequest, ExchangeFor, NewOrder, Order, OrderPayment, OrderReturns, OrderStatus, Payer,
};
use omni_contracts::{
    Currency, FulfillmentId, LocationId, OrderId, PartnerId, PaymentIntentId, ReservationId, Sku,
};
use omni_db::DbConnection;
use omni_db::typed::OptionalText;

use super::schema::{order_exclusions, order_parts, orders};
use crate::domain::parts::{Part, PartState};
use crate::domain::saga::Change;

/// A stored order row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    /// Id.
    #[diesel(deserialize_as = String)]
    pub id: OrderId,
    /// Lifecycle state.
    #[diesel(deserialize_as = String)]
    pub status: OrderStatus,
    /// Channel (the wire name, a metric label).
    pub channel: String,
    /// Partner, for marketplace orders.
    #[diesel(deserialize_as = OptionalText)]
    pub partner_id: Option<PartnerId>,
    /// Partner's order id.
    pub partner_order_id: Option<String>,
    /// The request as JSON.
    pub request: String,
    /// Currency.
    #[diesel(deserialize_as = String)]
    pub currency: Currency,
    /// Total in minor units.
    pub total_minor: i64,
    /// Node holding stock.
    #[diesel(deserialize_as = OptionalText)]
    pub location_id: Option<LocationId>,
    /// The hold.
    #[diesel(deserialize_as = OptionalText)]
    pub reservation_id: Option<ReservationId>,
    /// The fulfillment.
    #[diesel(deserialize_as = OptionalText)]
    pub fulfillment_id: Option<FulfillmentId>,
    /// The payment intent.
    #[diesel(deserialize_as = OptionalText)]
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Accepted at.
    pub created_at: chrono::NaiveDateTime,
    /// Last change.
    pub updated_at: chrono::NaiveDateTime,
    /// The W3C trace context the order arrived with (its later announcement continues that trace).
    pub traceparent: Option<String>,
    /// How often it was routed again.
    pub reroutes: i32,
    /// The `ce_id` of the partner message it arrived in (Kafka intake only).
    pub intake_event_id: Option<String>,
    /// Who placed it (`partner:<id>` or `principal:<name>`; empty for orders from before payers were kept).
    pub placed_by: String,
    /// Captured, as payments reported.
    pub captured_minor: i64,
    /// Refunded, as payments reported.
    pub refunded_minor: i64,
    /// Authorized and released, as payments reported.
    pub voided_minor: i64,
    /// Units returned per SKU, as returns reported (JSON).
    pub returned: String,
    /// The exchange a replacement order was made for (JSON).
    pub exchange_for: Option<String>,
}

impl OrderRow {
    /// The API view of the row.
    pub fn to_order(&self) -> omni_db::Result<Order> {
        let corrupt =
            |what: String| omni_db::Error::Inconsistent(format!("order {} has a corrupt {what}", self.id));
        let request = stored_request(&self.request).map_err(|e| corrupt(e.to_string()))?;
        let returns = OrderReturns::of(&request.lines, &self.returned()?);
        Ok(Order {
            id: self.id,
            status: self.status,
            partner_id: self.partner_id.clone(),
            partner_order_id: self.partner_order_id.clone(),
            request,
            placed_by: Payer::parse(&self.placed_by).unwrap_or_default(),
            total_minor: self.total_minor,
            location_id: self.location_id.clone(),
            failure_reason: self.failure_reason.clone(),
            payment: OrderPayment::of(
                self.total_minor,
                self.status,
                self.captured_minor,
                self.refunded_minor,
                self.voided_minor,
            ),
            returns,
            exchange_for: self
                .exchange_for
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt(format!("exchange_for: {e}")))?,
            created_at: DateTime::<Utc>::from_naive_utc_and_offset(self.created_at, Utc),
            updated_at: DateTime::<Utc>::from_naive_utc_and_offset(self.updated_at, Utc),
        })
    }

    /// Units returned per SKU.
    pub fn returned(&self) -> omni_db::Result<BTreeMap<Sku, u32>> {
        serde_json::from_str(&self.returned).map_err(|e| {
            omni_db::Error::Inconsistent(format!("order {} has a corrupt returned: {e}", self.id))
        })
    }
}

/// Keeps the exchange a replacement order was made for.
pub fn set_exchange_for(conn: &mut DbConnection, id: OrderId, exchange: &ExchangeFor) -> omni_db::Result<()> {
    let json = serde_json::to_string(exchange).map_err(|e| omni_db::Error::Inconsistent(e.to_string()))?;
    diesel::update(orders::table.find(id.to_string()))
        .set(orders::exchange_for.eq(Some(json)))
        .execute(conn)?;
    Ok(())
}

/// Counts `units` more of `sku` returned on the order (in the caller's transaction).
pub fn add_returned(conn: &mut DbConnection, id: OrderId, sku: &Sku, units: u32) -> omni_db::Result<bool> {
    let Some(row) = find(conn, id)? else {
        return Ok(false);
    };
    let mut returned = row.returned()?;
    *returned.entry(sku.clone()).or_insert(0) += units;
    diesel::update(orders::table.find(id.to_string()))
        .set(orders::returned.eq(serde_json::to_string(&returned).unwrap_or_default()))
        .execute(conn)?;
    Ok(true)
}

/// Reads a stored request. An order stored before orders kept payment methods has its card tenders as tokens:
/// it is shown with each token's payment-method reference instead (its row still holds the token).
fn stored_request(json: &str) -> serde_json::Result<AcceptedRequest> {
    serde_json::from_str::<AcceptedRequest>(json).or_else(|e| {
        serde_json::from_str::<NewOrder>(json)
            .map(NewOrder::accepted)
            .map_err(|_| e)
    })
}

/// Stores new orders (status `accepted`), each with the `ce_id` of the partner message it arrived in (if any), in
/// a fixed number of statements whatever their number, skipping any whose partner order id the partner used before
/// (the unique index decides, and waits for a concurrent transaction storing the same one); returns the ids of the
/// orders stored. The others' first orders are found with [`find_by_partner`]. The orders carry the caller's trace
/// context.
pub fn insert_new<'a>(
    conn: &mut DbConnection,
    new_orders: impl IntoIterator<Item = (&'a Order, Option<&'a str>)>,
) -> omni_db::Result<HashSet<OrderId>> {
    let traceparent = current_traceparent();
    let rows = new_orders
        .into_iter()
        .map(|(order, event_id)| NewRow::of(order, event_id, traceparent.as_deref()))
        .collect::<omni_db::Result<Vec<_>>>()?;
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    match conn {
        DbConnection::Pg(pg) => {
            // Most batches repeat no partner order: they go in with `COPY`, in a savepoint. It skips the speculative
            // insertion `ON CONFLICT` costs on every row, and the array unpacking and per-row heap insertion of an
            // `INSERT`: 40 % less of PostgreSQL's time than a plain `INSERT … unnest`, which was a quarter less than
            // with `ON CONFLICT` (docs/PERFORMANCE.md). A repeat fails it, and the batch goes in again skipping the
            // repeats.
            let plain = pg.transaction(|pg| {
                diesel::copy_from(orders::table)
                    .from_insertable(&rows)
                    .execute(pg)
            });
            match plain {
                Ok(_) => return Ok(rows.iter().map(|row| row.order_id).collect()),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {}
                Err(e) => return Err(e.into()),
            }
            let stored: Vec<StoredId> = bind_new_rows(&rows).load(pg)?;
            let stored: HashSet<String> = stored.into_iter().map(|s| s.id).collect();
            Ok(rows
                .iter()
                .filter(|row| stored.contains(&row.id))
                .map(|row| row.order_id)
                .collect())
        }
        DbConnection::Sqlite(sqlite) => {
            let mut stored = HashSet::new();
            for row in &rows {
                let written = diesel::insert_into(orders::table)
                    .values(row)
                    .on_conflict((orders::partner_id, orders::partner_order_id))
                    .do_nothing()
                    .execute(sqlite)?;
                if written == 1 {
                    stored.insert(row.order_id);
                }
            }
            Ok(stored)
        }
    }
}

/// Stores the rows whose partner order is new, waiting for a concurrent transaction storing the same one; returns
/// the ids stored. One column per array: one prepared statement whatever the batch's size (a multi-row VALUES list
/// is a new statement for every size, parsed and planned each time).
const INSERT_NEW_SKIPPING_REPEATS: &str = "INSERT INTO orders (id, status, channel, partner_id, partner_order_id, \
     request, currency, total_minor, created_at, updated_at, promise_by, traceparent, intake_event_id, placed_by) \
     SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
     $8::BIGINT[], $9::TIMESTAMP[], $9::TIMESTAMP[], $10::TIMESTAMP[], $11::TEXT[], $12::TEXT[], $13::TEXT[]) \
     ON CONFLICT (partner_id, partner_order_id) DO NOTHING RETURNING id";

/// [`INSERT_NEW_SKIPPING_REPEATS`] with the rows bound, one array per column.
fn bind_new_rows<'a>(
    rows: &'a [NewRow<'a>],
) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    diesel::sql_query(INSERT_NEW_SKIPPING_REPEATS)
        .into_boxed()
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.status).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.channel).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.partner_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.partner_order_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.request.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.currency).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.total_minor).collect::<Vec<_>>())
        .bind::<Array<Timestamp>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamp>>, _>(rows.iter().map(|r| r.promise_by).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.traceparent).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.intake_event_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.placed_by).collect::<Vec<_>>())
}

/// A new order's row (status `accepted`; created and updated at once), borrowing what it can from the order.
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct NewRow<'a> {
    #[diesel(skip_insertion)]
    order_id: OrderId,
    id: String,
    status: &'static str,
    channel: &'static str,
    partner_id: Option<&'a str>,
    partner_order_id: Option<&'a str>,
    request: String,
    currency: &'a str,
    total_minor: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    promise_by: Option<chrono::NaiveDateTime>,
    traceparent: Option<&'a str>,
    intake_event_id: Option<&'a str>,
    placed_by: &'a str,
}

impl<'a> NewRow<'a> {
    fn of(
        order: &'a Order,
        intake_event_id: Option<&'a str>,
        traceparent: Option<&'a str>,
    ) -> omni_db::Result<Self> {
        Ok(Self {
            order_id: order.id,
            id: order.id.to_string(),
            status: order.status.as_str(),
            channel: order.request.channel.as_str(),
            partner_id: order.partner_id.as_ref().map(PartnerId::as_str),
            partner_order_id: order.partner_order_id.as_deref(),
            request: serde_json::to_string(&order.request)
                .map_err(|e| omni_db::Error::Inconsistent(e.to_string()))?,
            currency: order.request.currency.as_str(),
            total_minor: order.total_minor,
            created_at: order.created_at.naive_utc(),
            updated_at: order.created_at.naive_utc(),
            promise_by: order.request.promise_by.map(|p| p.naive_utc()),
            traceparent,
            intake_event_id,
            placed_by: order.placed_by.as_str(),
        })
    }
}

#[derive(QueryableByName)]
struct StoredId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The caller's trace context, kept with a new order.
fn current_traceparent() -> Option<String> {
    let mut headers = Vec::new();
    omni_kafka::trace::inject_current(&mut headers);
    headers
        .into_iter()
        .find(|(k, _)| k == "traceparent")
        .map(|(_, v)| v)
}

/// The orders in flight, as the partial index `orders_in_flight` defines them. A literal, not binds: a prepared
/// statement's generic plan can use a partial index only when the query states its predicate as written.
const IN_FLIGHT: &str = "status = 'accepted' AND dispatched_at IS NOT NULL";

/// Orders sent on to routing that have no hold yet.
pub fn in_flight(conn: &mut DbConnection) -> omni_db::Result<i64> {
    Ok(orders::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(IN_FLIGHT))
        .count()
        .get_result(conn)?)
}

/// Accepted orders not sent on yet, closest promise date first (none last), then oldest first.
pub fn waiting(conn: &mut DbConnection, limit: i64) -> omni_db::Result<Vec<OrderRow>> {
    Ok(orders::table
        .filter(orders::dispatched_at.is_null())
        .filter(orders::status.eq(OrderStatus::Accepted.as_str()))
        .order((
            orders::promise_by.is_null().asc(),
            orders::promise_by.asc(),
            orders::created_at.asc(),
            orders::id.asc(),
        ))
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)?)
}

/// Records that the order was sent on now (its step's clock starts).
pub fn mark_dispatched(conn: &mut DbConnection, id: OrderId) -> omni_db::Result<()> {
    let now = omni_db::now();
    diesel::update(orders::table.find(id.to_string()))
        .set((orders::dispatched_at.eq(now), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Orders in `status` (and sent on) unchanged since before `before`: `(id, updated_at)`, oldest first.
pub fn stale(
    conn: &mut DbConnection,
    status: OrderStatus,
    before: chrono::NaiveDateTime,
    limit: i64,
) -> omni_db::Result<Vec<(String, chrono::NaiveDateTime)>> {
    Ok(orders::table
        .filter(orders::status.eq(status.as_str()))
        .filter(orders::dispatched_at.is_not_null())
        .filter(orders::updated_at.lt(before))
        .order(orders::updated_at.asc())
        .limit(limit)
        .select((orders::id, orders::updated_at))
        .load(conn)?)
}

/// One order.
pub fn find(conn: &mut DbConnection, id: OrderId) -> omni_db::Result<Option<OrderRow>> {
    Ok(orders::table
        .find(id.to_string())
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

/// The order a partner already sent under its own id.
pub fn find_by_partner(
    conn: &mut DbConnection,
    partner: &PartnerId,
    partner_order_id: &str,
) -> omni_db::Result<Option<OrderRow>> {
    Ok(orders::table
        .filter(orders::partner_id.eq(partner.as_str()))
        .filter(orders::partner_order_id.eq(partner_order_id))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

/// Orders oldest first (ids are time-ordered), after `after`, at most `limit`.
///
/// With a status, each part is read through its own index: the orders sent on to routing through
/// `orders_sent_on_by_status` (status, then id: the page is the index's next entries), the ones not sent on yet
/// through `orders_waiting` (the backlog, whose predicate they match, sorted); the two pages are merged.
pub fn page(
    conn: &mut DbConnection,
    filter: &PageFilter<'_>,
    after: Option<OrderId>,
    limit: i64,
) -> omni_db::Result<Vec<OrderRow>> {
    let status = filter.status;
    let query = || {
        let mut query = orders::table.select(OrderRow::as_select()).into_boxed();
        if let Some(partner) = filter.partner {
            query = query.filter(orders::partner_id.eq(partner.as_str().to_owned()));
        }
        if let Some(stores) = filter.stores {
            query = query.filter(orders::location_id.eq_any(stores.to_vec()));
        }
        if let Some(status) = status {
            query = query.filter(orders::status.eq(status.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(orders::id.gt(after.to_string()));
        }
        query.limit(limit)
    };
    if status.is_none() {
        return Ok(query().order(orders::id.asc()).load(conn)?);
    }
    let mut rows = query()
        .filter(orders::dispatched_at.is_not_null())
        .order(orders::id.asc())
        .load(conn)?;
    // Sorted on `id || ''`, which no index orders: otherwise PostgreSQL may walk the primary key from `after`,
    // through every order sent on before it finds the backlog at the end (41.7 ms against 4.1 ms, 200,000 orders
    // with 10,000 waiting, `EXPLAIN ANALYZE`).
    rows.extend(
        query()
            .filter(orders::dispatched_at.is_null())
            .order(orders::id.concat("").asc())
            .load(conn)?,
    );
    rows.sort_unstable_by_key(|row| row.id);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows)
}

/// Which orders a page holds.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageFilter<'a> {
    /// Only this partner's.
    pub partner: Option<&'a PartnerId>,
    /// Only those held at one of these stores (a store-scoped caller).
    pub stores: Option<&'a [String]>,
    /// Only those in this state.
    pub status: Option<OrderStatus>,
}

#[derive(AsChangeset)]
#[diesel(table_name = orders)]
struct Changes<'a> {
    status: Option<&'static str>,
    location_id: Option<&'a str>,
    reservation_id: Option<&'a str>,
    fulfillment_id: Option<&'a str>,
    payment_intent_id: Option<&'a str>,
    failure_reason: Option<&'a str>,
    request: Option<&'a str>,
    updated_at: chrono::NaiveDateTime,
}

/// Applies a saga step's change (fields left `None` are unchanged).
pub fn apply(conn: &mut DbConnection, id: OrderId, step: &Change) -> omni_db::Result<()> {
    let request = step
        .request
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| {
            omni_db::Error::Inconsistent(format!("order {id}: its request cannot be stored: {e}"))
        })?;
    let (location_id, reservation_id, fulfillment_id, payment_intent_id) = (
        step.location_id.as_ref().map(LocationId::as_str),
        step.reservation_id.map(|r| r.to_string()),
        step.fulfillment_id.map(|f| f.to_string()),
        step.payment_intent_id.map(|p| p.to_string()),
    );
    let changes = Changes {
        status: step.status.map(OrderStatus::as_str),
        location_id,
        reservation_id: reservation_id.as_deref(),
        fulfillment_id: fulfillment_id.as_deref(),
        payment_intent_id: payment_intent_id.as_deref(),
        failure_reason: step.failure_reason.as_deref(),
        request: request.as_deref(),
        updated_at: omni_db::now(),
    };
    diesel::update(orders::table.find(id.to_string()))
        .set(&changes)
        .execute(conn)?;
    if let Some(location) = &step.exclude {
        diesel::update(orders::table.find(id.to_string()))
            .set(orders::reroutes.eq(orders::reroutes + 1))
            .execute(conn)?;
        let attempt: i32 = orders::table
            .find(id.to_string())
            .select(orders::reroutes)
            .get_result(conn)?;
        let already = order_exclusions::table
            .find((id.to_string(), location.as_str()))
            .count()
            .get_result::<i64>(conn)?;
        if already == 0 {
            diesel::insert_into(order_exclusions::table)
                .values((
                    order_exclusions::order_id.eq(id.to_string()),
                    order_exclusions::location_id.eq(location.as_str()),
                    order_exclusions::attempt.eq(attempt),
                ))
                .execute(conn)?;
        }
    }
    let money = step.money;
    if money != Default::default() {
        diesel::update(orders::table.find(id.to_string()))
            .set((
                orders::captured_minor.eq(orders::captured_minor + money.captured),
                orders::refunded_minor.eq(orders::refunded_minor + money.refunded),
                orders::voided_minor.eq(orders::voided_minor + money.voided),
            ))
            .execute(conn)?;
    }
    apply_parts(conn, id, &step.new_parts, &step.moved_parts)
}

/// Records a plan's parts (a part already known keeps where it is: a replayed `sourced` changes nothing) and
/// moves parts.
fn apply_parts(
    conn: &mut DbConnection,
    id: OrderId,
    new: &[Part],
    moved: &[(FulfillmentId, PartState)],
) -> omni_db::Result<()> {
    if !new.is_empty() {
        let mut position: i32 = order_parts::table
            .filter(order_parts::order_id.eq(id.to_string()))
            .count()
            .get_result::<i64>(conn)?
            .try_into()
            .unwrap_or(i32::MAX);
        for part in new {
            let known = order_parts::table
                .find(part.fulfillment_id.to_string())
                .count()
                .get_result::<i64>(conn)?;
            if known > 0 {
                continue;
            }
            diesel::insert_into(order_parts::table)
                .values((
                    order_parts::fulfillment_id.eq(part.fulfillment_id.to_string()),
                    order_parts::order_id.eq(id.to_string()),
                    order_parts::reservation_id.eq(part.reservation_id.to_string()),
                    order_parts::location_id.eq(part.location_id.as_str()),
                    order_parts::state.eq(part.state.as_str()),
                    order_parts::position.eq(position),
                ))
                .execute(conn)?;
            position += 1;
        }
    }
    for (part, state) in moved {
        diesel::update(
            order_parts::table
                .find(part.to_string())
                .filter(order_parts::order_id.eq(id.to_string())),
        )
        .set(order_parts::state.eq(state.as_str()))
        .execute(conn)?;
    }
    Ok(())
}

/// The order's parts, in the order they were planned.
pub fn parts(conn: &mut DbConnection, id: OrderId) -> omni_db::Result<Vec<Part>> {
    let rows: Vec<(String, String, String, String)> = order_parts::table
        .filter(order_parts::order_id.eq(id.to_string()))
        .order(order_parts::position.asc())
        .select((
            order_parts::fulfillment_id,
            order_parts::reservation_id,
            order_parts::location_id,
            order_parts::state,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(fulfillment, reservation, location, state)| {
            let corrupt = |e: &dyn std::fmt::Display| {
                omni_db::Error::Inconsistent(format!("order {id} has a corrupt part {fulfillment}: {e}"))
            };
            Ok(Part {
                fulfillment_id: FulfillmentId::parse(&fulfillment).map_err(|e| corrupt(&e))?,
                reservation_id: ReservationId::parse(&reservation).map_err(|e| corrupt(&e))?,
                location_id: LocationId::parse(&location).map_err(|e| corrupt(&e))?,
                state: PartState::try_from(state.as_str()).map_err(|e| corrupt(&e))?,
            })
        })
        .collect()
}

/// The nodes that refused the order's hold, in the order they refused.
pub fn exclusions(conn: &mut DbConnection, id: OrderId) -> omni_db::Result<Vec<LocationId>> {
    let codes: Vec<String> = order_exclusions::table
        .filter(order_exclusions::order_id.eq(id.to_string()))
        .order(order_exclusions::attempt.asc())
        .select(order_exclusions::location_id)
        .load(conn)?;
    codes
        .iter()
        .map(|code| {
            LocationId::parse(code)
                .map_err(|e| omni_db::Error::Inconsistent(format!("order {id} has a corrupt exclusion: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_flight_query_states_the_partial_index_predicate_as_the_migration_wrote_it() {
        let migration = include_str!("../../migrations/2026-11-26-000001_dispatch_indexes/up.sql");
        assert!(
            migration.contains(&format!("WHERE {IN_FLIGHT};")),
            "orders_in_flight's predicate is `{IN_FLIGHT}`"
        );
        assert!(IN_FLIGHT.contains(&format!("status = '{}'", OrderStatus::Accepted.as_str())));
    }

    /// A new order for the published pickup example, under `partner_order_id`.
    fn example_order(partner_order_id: &str) -> anyhow::Result<Order> {
        use crate::domain::intake::{PartnerBounds, PartnerStanding, check_partner_order};
        let bounds = PartnerBounds {
            allowed_tiers: vec![
                omni_contracts::api::CustomerTier::Standard,
                omni_contracts::api::CustomerTier::Vip,
            ],
            ..PartnerBounds::default()
        };
        use crate::app::accept::{PartnerRef, new_order};
        let example = include_bytes!("../../../../docs/schemas/examples/pickup-in-store.json");
        let partner_order =
            crate::domain::partner_schema::parse(example, 1 << 20).map_err(anyhow::Error::msg)?;
        let (request, total_minor) = check_partner_order(
            &partner_order,
            &PartnerStanding::Enabled(bounds),
            partner_order.placed_at,
        )
        .map_err(anyhow::Error::msg)?;
        let payer = omni_contracts::api::Payer::partner(&partner_order.partner_id);
        let partner = PartnerRef {
            partner_id: partner_order.partner_id,
            partner_order_id: partner_order_id.to_owned(),
        };
        Ok(new_order(request.accepted(), Some(partner), total_minor, payer))
    }

    /// On both backends: a page of one status holds the orders sent on to routing and those still waiting (read
    /// through different indexes), merged oldest first, and paging on from the last one misses none.
    #[tokio::test]
    async fn a_status_page_merges_the_orders_sent_on_and_the_waiting_ones_oldest_first() -> anyhow::Result<()>
    {
        use omni_db::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let database = TestDatabase::create(backend)?;
            let db = database.migrated(crate::MIGRATIONS).await?;
            let orders: Vec<Order> = (0..7)
                .map(|n| example_order(&format!("P-{n}")))
                .collect::<anyhow::Result<_>>()?;
            let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
            let listed = db
                .transaction(move |conn| -> omni_db::Result<_> {
                    insert_new(conn, orders.iter().map(|o| (o, None)))?;
                    // Sent on: 0, 2, 3 (3 then cancelled), 5; waiting: 1, 4 (cancelled while waiting), 6.
                    for n in [0, 2, 3, 5] {
                        mark_dispatched(conn, orders[n].id)?;
                    }
                    let cancelled = Change {
                        status: Some(OrderStatus::Cancelled),
                        ..Change::default()
                    };
                    apply(conn, orders[3].id, &cancelled)?;
                    apply(conn, orders[4].id, &cancelled)?;
                    let mut pages = Vec::new();
                    let mut after = None;
                    loop {
                        let page = page(
                            conn,
                            &PageFilter {
                                status: Some(OrderStatus::Accepted),
                                ..PageFilter::default()
                            },
                            after,
                            2,
                        )?;
                        let Some(last) = page.last() else { break };
                        after = Some(last.id);
                        pages.push(page.iter().map(|r| r.id).collect::<Vec<_>>());
                    }
                    let cancelled = page(
                        conn,
                        &PageFilter {
                            status: Some(OrderStatus::Cancelled),
                            ..PageFilter::default()
                        },
                        None,
                        10,
                    )?;
                    Ok((pages, cancelled.into_iter().map(|r| r.id).collect::<Vec<_>>()))
                })
                .await?;
            let (pages, cancelled) = listed;
            let id = |n: usize| ids[n];
            anyhow::ensure!(
                pages == vec![vec![id(0), id(1)], vec![id(2), id(5)], vec![id(6)]],
                "{backend:?}: accepted pages {pages:?}"
            );
            anyhow::ensure!(
                cancelled == vec![id(3), id(4)],
                "{backend:?}: cancelled {cancelled:?}"
            );
        }
        Ok(())
    }

    /// On both backends: a batch stores every new order as it was; a later batch naming a partner order stored
    /// before stores only its new ones (on PostgreSQL, the `COPY` fails and the batch goes in again skipping the
    /// repeat), and the partner order keeps its first order.
    #[tokio::test]
    async fn a_batch_stores_its_new_orders_and_skips_a_partner_order_stored_before() -> anyhow::Result<()> {
        use omni_db::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let database = TestDatabase::create(backend)?;
            let db = database.migrated(crate::MIGRATIONS).await?;
            let [a, b, a_again, c] = ["A", "B", "A", "C"].map(example_order);
            let (a, b, a_again, c) = (a?, b?, a_again?, c?);
            let first = {
                let (a, b) = (a.clone(), b.clone());
                db.transaction(move |conn| insert_new(conn, [(&a, Some("ce-a")), (&b, Some("ce-b"))]))
                    .await?
            };
            anyhow::ensure!(
                first == HashSet::from([a.id, b.id]),
                "{backend:?}: first batch {first:?}"
            );
            let second = {
                let (a_again, c) = (a_again.clone(), c.clone());
                db.transaction(move |conn| insert_new(conn, [(&a_again, Some("ce-a2")), (&c, Some("ce-c"))]))
                    .await?
            };
            anyhow::ensure!(
                second == HashSet::from([c.id]),
                "{backend:?}: second batch {second:?}"
            );
            let partner = a
                .partner_id
                .clone()
                .ok_or_else(|| anyhow::anyhow!("a partner order"))?;
            let (stored_a, stored_c, repeat) = db
                .transaction(move |conn| -> omni_db::Result<_> {
                    Ok((
                        find_by_partner(conn, &partner, "A")?,
                        find(conn, c.id)?,
                        find(conn, a_again.id)?,
                    ))
                })
                .await?;
            let stored_a = stored_a.ok_or_else(|| anyhow::anyhow!("{backend:?}: A is not stored"))?;
            anyhow::ensure!(
                stored_a.intake_event_id.as_deref() == Some("ce-a"),
                "{backend:?}: {stored_a:?}"
            );
            let read = stored_a.to_order()?;
            anyhow::ensure!(
                (read.id, &read.request, read.total_minor, read.status)
                    == (a.id, &a.request, a.total_minor, a.status),
                "{backend:?}: A reads back as it was stored"
            );
            let stored_c = stored_c.ok_or_else(|| anyhow::anyhow!("{backend:?}: C is not stored"))?;
            anyhow::ensure!(
                stored_c.created_at == stored_c.updated_at && stored_c.status == OrderStatus::Accepted
            );
            anyhow::ensure!(repeat.is_none(), "{backend:?}: the repeat made a second order");
        }
        Ok(())
    }

    /// On both backends: the lists of refused nodes kept comma-separated before `order_exclusions` come over as
    /// rows, in the order they refused, and a later refusal adds to them.
    #[tokio::test]
    async fn refused_nodes_stored_before_the_exclusions_table_survive_its_migration() -> anyhow::Result<()> {
        use diesel::connection::SimpleConnection;
        use omni_db::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let database = TestDatabase::create(backend)?;
            let db = database
                .migrated_before(crate::MIGRATIONS, "2026-12-07-000001_order_exclusions")
                .await?;
            let (refused_twice, never_refused) = (example_order("P-1")?, example_order("P-2")?);
            let (a, b) = (refused_twice.id, never_refused.id);
            db.run(move |conn| -> omni_db::Result<()> {
                conn.batch_execute(&format!(
                    "INSERT INTO orders (id, status, channel, request, currency, total_minor, created_at, \
                     updated_at, excluded_locations, reroutes) VALUES \
                     ('{a}', 'accepted', 'marketplace', '{{}}', 'EUR', 1, '2026-12-01 10:00:00', \
                      '2026-12-01 10:00:00', 'STORE-B,STORE_A.1', 2), \
                     ('{b}', 'accepted', 'marketplace', '{{}}', 'EUR', 1, '2026-12-01 10:00:00', \
                      '2026-12-01 10:00:00', '', 0)"
                ))?;
                Ok(())
            })
            .await?;
            db.migrate(crate::MIGRATIONS).await?;
            let (before, never, after) = db
                .transaction(move |conn| -> omni_db::Result<_> {
                    let before = exclusions(conn, a)?;
                    let never = exclusions(conn, b)?;
                    let third = Change {
                        exclude: Some(
                            LocationId::parse("STORE-C")
                                .map_err(|e| omni_db::Error::Inconsistent(e.to_string()))?,
                        ),
                        ..Change::default()
                    };
                    apply(conn, a, &third)?;
                    apply(conn, a, &third)?;
                    Ok((before, never, exclusions(conn, a)?))
                })
                .await?;
            let codes = |l: &[LocationId]| l.iter().map(|l| l.to_string()).collect::<Vec<_>>();
            assert_eq!(codes(&before), ["STORE-B", "STORE_A.1"], "{backend:?}");
            assert!(never.is_empty(), "{backend:?}");
            assert_eq!(codes(&after), ["STORE-B", "STORE_A.1", "STORE-C"], "{backend:?}");
        }
        Ok(())
    }
}
