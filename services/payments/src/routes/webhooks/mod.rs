pub mod receive;
