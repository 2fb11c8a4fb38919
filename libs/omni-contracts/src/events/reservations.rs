use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use crate::envelope::AggregateKey;
use crate::ids::{LocationId, OrderId, ReservationId, Sku};
use crate::money::Quantity;
use crate::topic::Topic;

/// Events on `omni.reservations.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReservationEvent {
    /// Every line is held at the location.
    Held(ReservationHeld),
    /// Some line was short; nothing is held.
    Rejected(ReservationRejected),
    /// Stock left a location (a POS sale, a count) while units there were held: some holds are short.
    Shortage(StockShortage),
    /// An order's hold lapsed before it was paid for (the sweeper released it).
    Expired(ReservationExpired),
}

crate::event_payload!(ReservationEvent on Topic::Reservations, {
    Held(ReservationHeld) = "omni.reservation.held",
    Rejected(ReservationRejected) = "omni.reservation.rejected",
    Shortage(StockShortage) = "omni.reservation.shortage",
    Expired(ReservationExpired) = "omni.reservation.expired",
});

/// `omni.reservation.expired`: an order's hold lapsed and its units are on sale again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationExpired {
    /// The hold.
    pub reservation_id: ReservationId,
    /// The order it was for.
    pub order_id: OrderId,
    /// Where.
    pub location_id: LocationId,
}

/// `omni.reservation.shortage`: on-hand fell below what is held; the newest holds are the short ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockShortage {
    /// Where.
    pub location_id: LocationId,
    /// What.
    pub sku: Sku,
    /// On-hand after the movement.
    pub on_hand: i64,
    /// Units held there.
    pub reserved: i64,
    /// Units held beyond on-hand.
    pub short_units: i64,
    /// The holds that cannot all be served, newest first.
    pub reservations: Vec<ReservationId>,
    /// Their orders (holds placed by the saga), to be re-routed.
    pub orders: Vec<OrderId>,
}

impl AggregateKey for StockShortage {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}

/// One line of a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldLine {
    /// The SKU.
    pub sku: Sku,
    /// Units held.
    pub quantity: Quantity,
}

/// `omni.reservation.held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationHeld {
    /// The hold.
    pub reservation_id: ReservationId,
    /// The order it is for.
    pub order_id: OrderId,
    /// Where.
    pub location_id: LocationId,
    /// What.
    pub lines: Vec<HoldLine>,
    /// When it lapses unless extended or committed.
    pub expires_at: DateTime<Utc>,
    /// The plan the hold belongs to, as routing sent it (`omni.fulfillment.sourced`'s `plan`): whichever of the
    /// two reaches orders first tells it the order's parts. Empty for holds not placed for routing, and older
    /// events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<super::plans::PlannedPart>,
    /// The part of the order this plan replaces (`sourced`'s `replaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<crate::ids::FulfillmentId>,
}

/// A line that could not be held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shortage {
    /// The SKU.
    pub sku: Sku,
    /// Units asked for.
    pub requested: i64,
    /// Units available to promise at the location.
    pub available: i64,
}

/// `omni.reservation.rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationRejected {
    /// The hold that was asked for.
    pub reservation_id: ReservationId,
    /// The order it was for.
    pub order_id: OrderId,
    /// Where.
    pub location_id: LocationId,
    /// What was short.
    pub shortages: Vec<Shortage>,
    /// The plan the hold belongs to, as routing sent it (`omni.fulfillment.sourced`'s `plan`): whichever of the
    /// two reaches orders first tells it the order's parts. Empty for holds not placed for routing, and older
    /// events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<super::plans::PlannedPart>,
    /// The part of the order this plan replaces (`sourced`'s `replaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<crate::ids::FulfillmentId>,
}

keyed_by_order!(ReservationHeld, ReservationRejected, ReservationExpired);
