//! Orders' use cases: accepting an order, dispatching accepted orders, moving an order through the saga, and a
//! return's replacement order.

pub mod accept;
pub mod dispatch;
pub mod exchange;
pub mod intake;
pub mod saga;

use std::sync::Arc;

use omni_db::Db;
use tokio::sync::Notify;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The orders database.
    pub db: Db,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// Wakes the dispatcher when slots may have freed (a reply moved an order on, a cancel, a timeout).
    pub dispatch: Arc<Notify>,
    /// Wakes the dispatcher when new orders wait (it sends them only if the last round left room).
    pub arrived: Arc<Notify>,
    /// Partners, limits and the saga's clocks.
    pub settings: Arc<omni_config::OrdersSettings>,
    /// `omni_orders_total{channel, state}`: orders entering each state.
    pub orders_total: prometheus::IntCounterVec,
}

impl State {
    /// Counts an order entering a state (`None`: nothing moved).
    pub fn count(&self, moved: saga::Moved) {
        if let Some((channel, state)) = moved {
            self.orders_total.with_label_values(&[&channel, &state]).inc();
        }
    }

    /// After a commit that moved orders on or stored events: wakes the relay and the dispatcher.
    pub fn changed(&self) {
        self.relay.notify_one();
        self.dispatch.notify_one();
    }

    /// After a commit that stored new orders (and nothing else): wakes the relay and tells the dispatcher they
    /// wait. While every slot is taken, this costs the dispatcher nothing: new orders cannot free a slot.
    pub fn orders_arrived(&self) {
        self.relay.notify_one();
        self.arrived.notify_one();
    }
}
