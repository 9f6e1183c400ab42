//! Background loops. Each stops on shutdown.

pub mod gc;

pub use gc::GarbageCollector;
