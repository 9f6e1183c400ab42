//! Writing an erasure-coded stream: the ciphertext goes through a [`StripeEncoder`] (on the
//! `sv-erasure` threads) and each target receives its own shard through the same fan-out as
//! replicas, with the same straggler cut and a quorum counted in shards.

use bytes::Bytes;

use super::encode::{EncodeError, StripeEncoder};
use crate::error::{ErrorKind, Result};
use crate::pools::Pool;
use crate::replicate::write::{Fanout, FanoutOutcome};

/// The shards of one stream on their way to their holders.
pub(crate) struct ShardWriter {
    fanout: Fanout,
    /// `None` only while a batch is being encoded (or after that failed).
    encoder: Option<Box<StripeEncoder>>,
}

impl ShardWriter {
    pub(crate) fn new(fanout: Fanout, encoder: StripeEncoder) -> Self {
        Self { fanout, encoder: Some(Box::new(encoder)) }
    }

    /// Encodes the stripes `cipher` completes and sends each holder its shard's part.
    pub(crate) async fn send(&mut self, cipher: Bytes) -> Result<()> {
        let mut encoder = self.encoder.take().ok_or_else(|| ErrorKind::internal("shard encoder lost"))?;
        let job = crate::pools::spawn(Pool::Erasure, move || {
            let shards = encoder.push(&cipher);
            (encoder, shards)
        });
        let (encoder, shards) =
            job.await.map_err(|e| ErrorKind::Internal { context: "erasure task".into(), source: Some(Box::new(e)) })?;
        self.encoder = Some(encoder);
        let shards = shards.map_err(encode_error)?;
        self.fanout.send_each(&shards).await
    }

    /// Checks that the whole ciphertext came, then ends every upload.
    pub(crate) async fn finish(self) -> Result<FanoutOutcome> {
        let whole = self.encoder.as_ref().ok_or_else(|| ErrorKind::internal("shard encoder lost"))?.finish();
        if let Err(e) = whole {
            self.fanout.abort().await;
            return Err(encode_error(e));
        }
        self.fanout.finish().await
    }

    /// Aborts every upload.
    pub(crate) async fn abort(self) {
        self.fanout.abort().await;
    }
}

fn encode_error(e: EncodeError) -> crate::error::Error {
    ErrorKind::Internal { context: "erasure coding".into(), source: Some(Box::new(e)) }.into()
}
