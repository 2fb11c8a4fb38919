//! What routing plans: the parts of an order, named on `omni.fulfillment.sourced` and echoed by allocation on the
//! hold's `omni.reservation.held` and `rejected`.

use serde::{Deserialize, Serialize};

use crate::ids::{FulfillmentId, LocationId, ReservationId};

/// One part of a split order: a fulfillment at a node with its own hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedPart {
    /// Its fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its hold.
    pub reservation_id: ReservationId,
    /// Its node.
    pub location_id: LocationId,
}
