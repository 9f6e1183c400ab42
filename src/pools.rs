//! The gateway's blocking work, on named thread pools: one per kind of work, so that
//! `/proc/<pid>/task/*/stat` (and `top -H`, `perf --sort comm`) tells where the CPU goes and a
//! reader can predict which kind saturates first on a larger machine (issue 25 item 4).
//! Every blocking call of the crate goes through [`spawn`] (`tests/it/architecture.rs`).
//!
//! Each pool is the blocking pool of a small runtime of its own: tokio's blocking pool runs the
//! closures on threads it names, grows on demand up to its bound and lets idle threads go after
//! ten seconds; the `JoinHandle` is awaited from any runtime. The runtime also has one (idle)
//! worker thread, so that a task some closure spawns on "the current runtime" still runs.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// A kind of blocking work; each has its own threads, named `sv-<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Plaintext digests of a write: MD5 for the ETag and the requested checksum.
    Hash,
    /// Sealing a write's ciphertext (AES-GCM and the ciphertext digest).
    Seal,
    /// Reed–Solomon coding: a sharded write's parity, a degraded read's or a repair's rebuild.
    Erasure,
    /// Local directory providers' file reads, writes and syncs.
    FileIo,
    /// Metadata engine calls (RocksDB, or waiting on PostgreSQL).
    Metadata,
}

impl Pool {
    /// Every pool, in declaration order: `ALL[pool as usize] == pool`.
    const ALL: [Pool; 5] = [Pool::Hash, Pool::Seal, Pool::Erasure, Pool::FileIo, Pool::Metadata];

    /// The name its threads carry.
    pub fn thread_name(self) -> &'static str {
        match self {
            Pool::Hash => "sv-hash",
            Pool::Seal => "sv-seal",
            Pool::Erasure => "sv-erasure",
            Pool::FileIo => "sv-file-io",
            Pool::Metadata => "sv-metadata",
        }
    }
}

/// The name of the async worker threads of the `serve` runtime (HTTP, TLS, provider requests,
/// decryption of reads).
pub const ASYNC_THREAD_NAME: &str = "sv-async";

/// The most threads of each pool, as tokio's default for its one blocking pool.
const MAX_THREADS_PER_POOL: usize = 512;

static POOLS: OnceLock<Vec<Option<Runtime>>> = OnceLock::new();

/// Runs `f` on a thread of `pool`. If that pool could not be started (the system refused a
/// runtime), it runs on the current runtime's blocking pool instead: unnamed, never lost.
pub fn spawn<F, R>(pool: Pool, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let pools = POOLS.get_or_init(|| Pool::ALL.iter().map(|p| build(*p)).collect());
    match pools.get(pool as usize).and_then(Option::as_ref) {
        Some(runtime) => runtime.spawn_blocking(f),
        None => tokio::task::spawn_blocking(f),
    }
}

fn build(pool: Pool) -> Option<Runtime> {
    match Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name(pool.thread_name())
        .max_blocking_threads(MAX_THREADS_PER_POOL)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tracing::warn!(pool = pool.thread_name(), error = %e, "no thread pool of its own; using the default");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: work sent to a pool runs on a thread named after it, whichever runtime awaits
    /// it (the bench attributes CPU by these names).
    #[tokio::test]
    async fn work_runs_on_threads_named_after_its_pool() {
        for pool in Pool::ALL {
            let name = spawn(pool, || std::thread::current().name().map(str::to_owned)).await.unwrap();
            assert_eq!(name.as_deref(), Some(pool.thread_name()));
        }
    }
}
