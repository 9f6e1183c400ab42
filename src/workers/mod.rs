//! Background loops. Each stops on shutdown.

pub mod gc;
pub mod health;

pub use gc::GarbageCollector;
