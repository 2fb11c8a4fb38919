//! Returns' rules, free of I/O: the policy and its snapshot ([`policy`]), what an order can still return
//! ([`returnable`]) and what a unit refunds ([`refund`]).

pub mod policy;
pub mod refund;
pub mod returnable;
