//! The one integration test binary. Every test talks to a real gateway over TCP on 127.0.0.1
//! with real S3 clients, real RocksDB and real provider directories.
// Test and benchmark code: sizes and counts are small constants (a wrong cast fails the test it
// sits in), and string building favours reading over the last allocation.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::format_push_string,
    clippy::format_collect,
    clippy::similar_names,
    clippy::items_after_statements,
    reason = "test code; see the comment above"
)]

mod common;

/// Access control: users, keys and grants; every operation × every kind of principal.
mod access;
/// Bucket settings, object tags, retention and ACLs: every such operation × every principal.
mod access_settings;
/// The dependency rules of DESIGN.md §2.2.
mod architecture;
/// SigV4 header, presigned and streaming auth; tampering and anonymous refusals.
mod auth;
/// Headless Chromium: a form upload and a presigned read across origins.
mod browser;
/// Bucket policies and public access blocks.
mod bucket_policy;
/// Bucket lifecycle, names, location and residency binding.
mod buckets;
/// Checksums in headers and in both trailer modes; Content-MD5.
mod checksums;
/// boto3 and the aws CLI.
mod clients;
/// Providers see only ciphertext under opaque names; tampering never yields wrong bytes.
mod confidentiality;
/// The smaller S3 behaviours: SSE vocabulary, bucket pages, owners, request ids, framing.
mod conformance;
/// The web console: login, pages, CSRF, CSP.
mod console;
/// The console's compliance report, HTML and PDF.
mod console_report;
/// CORS: rules, preflights and grants on answers.
mod cors;
/// Durable provider-side deletions: evacuated replicas deleted once their provider is back.
mod deletions;
/// Crash consistency and garbage collection with the real binary.
mod durability;
/// Erasure coding: 4 + 2 Reed–Solomon shards over six providers, killed, damaged and slow.
mod erasure;
/// A bucket's ETag mode: MD5 by default, BLAKE3 in `fast` buckets, and real clients over them.
mod etag_mode;
/// Replication under injected faults: killed, slow, failing, black-holed and corrupting providers.
mod faults;
/// Known answers of format v1: committed provider files read byte for byte.
mod format_vectors;
/// POST object: signed HTML form uploads.
mod forms;
/// Hostile input: path-like and non-XML keys, floods, lying bodies, slow clients.
mod hostile;
/// The transit KMS (OpenBao): wrapping, rotation, outages, credentials, shredding, secrets.
mod kms;
/// Lifecycle rules: the configuration, x-amz-expiration, and the job under a test clock.
mod lifecycle;
/// ListObjects v1/v2: order, prefixes, delimiters, pagination, url encoding.
mod listing;
/// Bounded memory for a 1 GiB object.
mod memory;
/// The metadata log at the providers: acknowledged changes are logged, unlogged ones caught up.
mod metalog;
/// Multipart uploads, part copies, multipart ETags and validation.
mod multipart;
/// Object Lock: retention and legal hold against every S3 way of removing a version.
mod object_lock;
/// Single PUT/GET/HEAD/DELETE, metadata, ETags, copies, conditionals, refusals (501).
mod objects;
/// Prometheus scrape, health, alerts, dashboard, request ids in logs.
mod observability;
/// Config errors and graceful shutdown of the real binary.
mod process;
/// Byte ranges and partNumber reads against the plaintext.
mod ranges;
/// Losing the gateway's disk loses nothing: rebuild from the providers' log.
mod rebuild;
/// The same after a SIGKILL, for a random workload checked against a model.
mod rebuild_model;
/// Remote S3 providers: probe, moto, TLS, provider multipart.
mod remote;
/// W-of-N writes, the durable repair queue, failover reads.
mod replication;
/// Residency at run time: admin API and CLI changes, evacuation, the audit log.
mod residency;
/// Two gateways on one PostgreSQL: shared visibility, conditions, repair handover.
mod scale_out;
/// The SigV4 tamper matrix: header auth, presigned URLs, signed aws-chunked bodies.
mod sigv4_tamper;
/// SSE-C: objects under a customer's key, refused without it, copies, uploads.
mod sse_c;
/// Object tagging: sets, limits, copies, uploads and versions.
mod tagging;
/// Someone who writes the metadata store without the KEK: rewritten audit chains, swapped records.
mod tampering;
/// HTTPS on the S3 listener and SIGHUP reload.
mod tls;
/// `souverain meta verify`: the store against the providers' replicas and log; its repair mode.
mod verify;
/// Object versioning: version ids, delete markers, the null version, ListObjectVersions.
mod versioning;
/// Random versioning sequences against a model of S3's rules (RocksDB and PostgreSQL).
mod versioning_model;
