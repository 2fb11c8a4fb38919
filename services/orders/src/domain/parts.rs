//! The parts of an order: one per node that serves it (a split order has several), each its own fulfillment
//! and hold. The saga moves the order on when every part that still counts has moved: reserved once every
//! part is held, released once every part is released, fulfilled once every part shipped or was handed over.

use omni_contracts::{FulfillmentId, LocationId, ReservationId};

/// Where one part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    /// Routed to its node; its hold is asked for.
    Sourced,
    /// Its hold is placed.
    Held,
    /// Its node was told to fulfil it.
    Released,
    /// Its node shipped it or handed it over.
    Completed,
    /// Its node could not take it (hold refused, store refused, shortage): routed again.
    Rerouting,
    /// Routed again: another part (or parts) took its lines.
    Replaced,
    /// No node could take it after a part of the order had left or was on its way: its lines are not served.
    Dropped,
}

impl PartState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sourced => "sourced",
            Self::Held => "held",
            Self::Released => "released",
            Self::Completed => "completed",
            Self::Rerouting => "rerouting",
            Self::Replaced => "replaced",
            Self::Dropped => "dropped",
        }
    }

    /// Whether the part still counts for the order (it was not replaced or dropped).
    pub fn live(self) -> bool {
        !matches!(self, Self::Replaced | Self::Dropped)
    }

    /// Its hold is placed, or more.
    fn held(self) -> bool {
        matches!(self, Self::Held | Self::Released | Self::Completed)
    }

    /// Its node has it, or it left.
    fn released(self) -> bool {
        matches!(self, Self::Released | Self::Completed)
    }
}

impl TryFrom<&str> for PartState {
    type Error = String;
    fn try_from(raw: &str) -> Result<Self, String> {
        Ok(match raw {
            "sourced" => Self::Sourced,
            "held" => Self::Held,
            "released" => Self::Released,
            "completed" => Self::Completed,
            "rerouting" => Self::Rerouting,
            "replaced" => Self::Replaced,
            "dropped" => Self::Dropped,
            other => return Err(format!("unknown part state `{other}`")),
        })
    }
}

/// One part of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its hold.
    pub reservation_id: ReservationId,
    /// Its node.
    pub location_id: LocationId,
    /// Where it is.
    pub state: PartState,
}

/// An order's parts as the saga reads them.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a>(pub &'a [Part]);

impl Parts<'_> {
    /// The part holding `reservation`.
    pub fn by_reservation(&self, reservation: ReservationId) -> Option<&Part> {
        self.0.iter().find(|p| p.reservation_id == reservation)
    }

    /// The part fulfilled by `fulfillment`.
    pub fn by_fulfillment(&self, fulfillment: FulfillmentId) -> Option<&Part> {
        self.0.iter().find(|p| p.fulfillment_id == fulfillment)
    }

    /// The live part with a hold at `location` (a shortage there names it).
    pub fn held_at(&self, location: &LocationId, reservations: &[ReservationId]) -> Option<&Part> {
        self.0
            .iter()
            .filter(|p| p.state.live() && p.location_id == *location)
            .find(|p| reservations.is_empty() || reservations.contains(&p.reservation_id))
    }

    /// Whether every live part other than `except` satisfies `test` (true when there is none: an order whose
    /// parts were never recorded has only the one the event names).
    fn others(&self, except: FulfillmentId, test: impl Fn(PartState) -> bool) -> bool {
        self.0
            .iter()
            .filter(|p| p.fulfillment_id != except && p.state.live())
            .all(|p| test(p.state))
    }

    /// Once `part` is held, every live part is.
    pub fn all_held_with(&self, part: FulfillmentId) -> bool {
        self.others(part, PartState::held)
    }

    /// Once `part` is released, every live part is (or left).
    pub fn all_released_with(&self, part: FulfillmentId) -> bool {
        self.others(part, PartState::released)
    }

    /// Once `part` left, every live part did.
    pub fn all_completed_with(&self, part: FulfillmentId) -> bool {
        self.others(part, |s| s == PartState::Completed)
    }

    /// Whether a live part other than `except` is with its node or left (the order is under way there).
    pub fn others_under_way(&self, except: FulfillmentId) -> bool {
        self.0
            .iter()
            .any(|p| p.fulfillment_id != except && p.state.live() && p.state.released())
    }

    /// Whether a live part other than `except` remains.
    pub fn others_live(&self, except: FulfillmentId) -> bool {
        self.0
            .iter()
            .any(|p| p.fulfillment_id != except && p.state.live())
    }
}
