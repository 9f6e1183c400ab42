//! The background jobs' names, as the metadata store, the admin API and the metrics know them.

/// Moves replicas that break their bucket's policy.
pub const EVACUATION: &str = "evacuation";
/// Checks every replica at rest.
pub const SCRUB: &str = "scrub";
/// Rewraps data keys under a new KEK version or a bucket's own KEK.
pub const ROTATION: &str = "rotation";
/// Applies the buckets' lifecycle rules.
pub const LIFECYCLE: &str = "lifecycle";
/// Every job the admin API reports on.
pub const ALL: [&str; 4] = [EVACUATION, SCRUB, ROTATION, LIFECYCLE];
