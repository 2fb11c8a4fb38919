pub mod record_movement;
