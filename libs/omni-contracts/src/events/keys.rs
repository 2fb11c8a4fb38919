//! How events are keyed on their topic: most by the order they concern, so one order's events stay in order.

/// Keys each listed event type by its `order_id`.
macro_rules! keyed_by_order {
    ($($ty:ty),+) => {$(
        impl AggregateKey for $ty {
            fn aggregate_key(&self) -> String {
                self.order_id.to_string()
            }
        }
    )+};
}
pub(crate) use keyed_by_order;
