//! Returns' rules, free of I/O: the policy and its snapshot ([`policy`]), what an order can still return
//! ([`returnable`]), what a unit refunds ([`refund`]) and what an exchange costs and pays ([`exchange`]).

pub mod exchange;
pub mod policy;
pub mod refund;
pub mod returnable;
