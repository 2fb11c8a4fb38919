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

/// The value of `delivered` units at the order's prices, in minor units: each unit priced as the order's lines of
/// its SKU, in line order (a SKU on two lines at two prices is priced line by line). Units of a SKU the order does
/// not have, or beyond what it ordered, are worth nothing: nobody is charged for what they did not order.
pub fn delivered_value(
    lines: &[omni_contracts::api::OrderLine],
    delivered: &[omni_contracts::events::HoldLine],
) -> i64 {
    let mut value: i64 = 0;
    for unit in delivered {
        let mut left = i64::from(unit.quantity.get());
        for line in lines.iter().filter(|l| l.sku == unit.sku) {
            let take = left.min(i64::from(line.quantity.get()));
            value = value.saturating_add(take.saturating_mul(line.unit_price_minor.minor()));
            left -= take;
            if left == 0 {
                break;
            }
        }
    }
    value
}

#[cfg(test)]
mod value_tests {
    use omni_contracts::api::{OrderLine, UnitPrice};
    use omni_contracts::events::HoldLine;
    use omni_contracts::{Quantity, Sku};

    use super::delivered_value;

    fn line(sku: &str, quantity: i64, price: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price_minor: UnitPrice::try_from(price).unwrap(),
        }
    }

    fn units(sku: &str, quantity: i64) -> HoldLine {
        HoldLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    #[test]
    fn delivered_units_are_charged_at_their_lines_prices_and_never_beyond_what_was_ordered() {
        let lines = [line("A", 2, 1500), line("B", 1, 999), line("A", 1, 1000)];
        assert_eq!(delivered_value(&lines, &[units("A", 1)]), 1500);
        assert_eq!(
            delivered_value(&lines, &[units("A", 3), units("B", 1)]),
            1500 * 2 + 1000 + 999
        );
        assert_eq!(delivered_value(&lines, &[units("A", 9)]), 4000);
        assert_eq!(delivered_value(&lines, &[units("C", 1)]), 0);
    }
}
