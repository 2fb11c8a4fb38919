pub mod balance;
pub mod issue;
