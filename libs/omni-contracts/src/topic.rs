//! Logical topics and their default physical names (DESIGN.md §3).

use serde::{Deserialize, Serialize};

/// A logical Kafka topic. Physical names default to [`Topic::default_name`] and can be overridden by config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Partner marketplace orders into Omni.
    OrdersInbound,
    /// Partner orders that failed their schema or business checks.
    OrdersInboundDlq,
    /// Order lifecycle events.
    Orders,
    /// Stock movements: receipts, POS sales, counts, adjustments, restocks.
    Inventory,
    /// Holds placed, rejected, released.
    Reservations,
    /// Sellable quantity per SKU (compacted, key = SKU).
    Availability,
    /// Sourcing decisions and fulfillment lifecycles.
    Fulfillment,
    /// Payment intents (never card data).
    Payments,
    /// Return authorizations and receipts.
    Returns,
    /// Locations and SKUs.
    Catalog,
    /// Context signals such as local weather.
    Signals,
}

impl Topic {
    /// Every topic, in a stable order.
    pub const ALL: [Topic; 11] = [
        Topic::OrdersInbound,
        Topic::OrdersInboundDlq,
        Topic::Orders,
        Topic::Inventory,
        Topic::Reservations,
        Topic::Availability,
        Topic::Fulfillment,
        Topic::Payments,
        Topic::Returns,
        Topic::Catalog,
        Topic::Signals,
    ];

    /// The physical name used when config does not override it.
    pub const fn default_name(self) -> &'static str {
        match self {
            Topic::OrdersInbound => "omni.orders.inbound.v1",
            Topic::OrdersInboundDlq => "omni.orders.inbound.dlq.v1",
            Topic::Orders => "omni.orders.v1",
            Topic::Inventory => "omni.inventory.v1",
            Topic::Reservations => "omni.reservations.v1",
            Topic::Availability => "omni.availability.v1",
            Topic::Fulfillment => "omni.fulfillment.v1",
            Topic::Payments => "omni.payments.v1",
            Topic::Returns => "omni.returns.v1",
            Topic::Catalog => "omni.catalog.v1",
            Topic::Signals => "omni.signals.v1",
        }
    }

    /// The config key of the topic (`kafka.topics.<key>`).
    pub const fn key(self) -> &'static str {
        match self {
            Topic::OrdersInbound => "orders_inbound",
            Topic::OrdersInboundDlq => "orders_inbound_dlq",
            Topic::Orders => "orders",
            Topic::Inventory => "inventory",
            Topic::Reservations => "reservations",
            Topic::Availability => "availability",
            Topic::Fulfillment => "fulfillment",
            Topic::Payments => "payments",
            Topic::Returns => "returns",
            Topic::Catalog => "catalog",
            Topic::Signals => "signals",
        }
    }

    /// Whether the topic is log-compacted (latest value per key).
    pub const fn compacted(self) -> bool {
        matches!(self, Topic::Availability)
    }
}
