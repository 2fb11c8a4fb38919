//! Why fulfillment's operations fail.

/// A routing file that breaks a rule; the message names the rule and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRules(pub String);

/// Why the routing file was not put in force (the rules in force stay).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// It cannot be read.
    #[error("policies.routing_file: cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is refused as a whole.
    #[error("policies.routing_file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        reason: InvalidRules,
    },
}
