//! Why returns' operations fail: each variant says what the caller sees (its HTTP code is chosen in `routes`,
//! its Kafka fate here, by variant).

/// Why the order read model could not take an order event.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The order's lines cannot be written down as JSON: the event can never be recorded.
    #[error("order {order_id}: its lines cannot be stored: {source}")]
    Unstorable {
        /// The order.
        order_id: omni_contracts::OrderId,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for ReadModelError {
    fn from(e: diesel::result::Error) -> Self {
        ReadModelError::Db(omni_db::Error::Query(e))
    }
}

impl From<ReadModelError> for omni_kafka::HandlerError {
    fn from(e: ReadModelError) -> Self {
        match e {
            ReadModelError::Db(db) => db.into(),
            permanent @ ReadModelError::Unstorable { .. } => {
                omni_kafka::HandlerError::Permanent(permanent.to_string())
            }
        }
    }
}
