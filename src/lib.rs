//! souverain: a sovereign S3 gateway.
//!
//! Applications speak S3 to the gateway; the gateway encrypts every object (AES-256-GCM under a
//! per-object data key) and stores the ciphertext under opaque names on the providers that the
//! bucket's residency policy allows. Metadata (names, sizes, ETags, wrapped keys) stays local.
//!
//! # Layout
//!
//! Dependencies point one way, from the edge inwards:
//!
//! - [`frontend`] speaks S3 (s3s + hyper) and is the only module that knows S3 error codes.
//! - [`service`] orchestrates each operation: placement → keys → datapath → backends → metadata.
//! - [`access`] is pure authorization (who may do what); [`placement`] is pure residency logic; [`datapath`] is the pure on-provider format (format v1).
//! - [`keys`] wraps data keys; [`backend`] stores sealed streams; [`meta`] stores metadata.
//! - [`model`] holds validated plain data shared by every layer.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::clone_on_ref_ptr)]

pub mod access;
pub mod admin;
pub mod app;
pub mod backend;
pub mod config;
pub mod datapath;
pub mod error;
pub mod frontend;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod health;
pub mod keys;
pub mod live_verify;
pub mod meta;
pub mod metalog;
pub mod metrics;
pub mod model;
pub mod placement;
pub mod pools;
pub mod progress;
pub mod replicate;
pub mod report;
pub mod service;
pub mod shutdown;
pub mod tls_client;
pub mod workers;
