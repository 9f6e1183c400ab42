//! Background loops. Each stops on shutdown.

pub mod evacuation;
pub mod gc;
pub mod health;
pub mod repair;
pub mod scrub;
pub mod usage;

pub use gc::GarbageCollector;
