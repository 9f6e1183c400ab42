//! The CPU stage of a streaming write: each batch of plaintext is hashed (MD5 and the
//! requested checksum) and sealed (AES-GCM and the ciphertext digest) on two blocking threads
//! side by side, while the caller already receives the next batch from the client. One upload
//! then goes at the pace of the slowest of the three (in practice MD5), not of their sum
//! (issue 25 item 3).

use bytes::{Bytes, BytesMut};
use tokio::task::{JoinError, JoinHandle};

use super::checksum::PlainHasher;
use crate::datapath::{SealError, StreamSealer};
use crate::error::{Error, ErrorKind, Result};
use crate::pools::Pool;

/// The hasher and the sealer of one stream, idle or working on one batch.
pub(super) struct SealStage {
    state: State,
}

enum State {
    /// Boxed: the hasher and sealer states are large, the handles small.
    Idle(Box<(PlainHasher, StreamSealer)>),
    Working(JoinHandle<PlainHasher>, JoinHandle<std::result::Result<(StreamSealer, Bytes), SealError>>),
    /// Only while a state is being replaced, or after a task failed.
    Broken,
}

impl SealStage {
    pub(super) fn new(hasher: PlainHasher, sealer: StreamSealer) -> Self {
        Self { state: State::Idle(Box::new((hasher, sealer))) }
    }

    /// Starts on `work` once the batch before it is done; answers that batch's ciphertext
    /// (empty if there was none or it sealed to nothing).
    pub(super) async fn start(&mut self, work: Vec<Bytes>) -> Result<Bytes> {
        let ciphertext = self.wait().await?;
        let State::Idle(idle) = std::mem::replace(&mut self.state, State::Broken) else {
            return Err(broken());
        };
        let (mut hasher, mut sealer) = *idle;
        let plain = work.clone();
        let hashing = crate::pools::spawn(Pool::Hash, move || {
            for chunk in &plain {
                hasher.update(chunk);
            }
            hasher
        });
        let sealing = crate::pools::spawn(Pool::Seal, move || {
            let mut out = BytesMut::with_capacity(work.iter().map(Bytes::len).sum::<usize>() + 4096);
            for chunk in &work {
                sealer.push(chunk, &mut out)?;
            }
            Ok((sealer, out.freeze()))
        });
        self.state = State::Working(hashing, sealing);
        Ok(ciphertext)
    }

    /// Waits for the batch in progress; its ciphertext, and the hasher and sealer back.
    pub(super) async fn finish(mut self) -> Result<(Bytes, PlainHasher, StreamSealer)> {
        let ciphertext = self.wait().await?;
        match self.state {
            State::Idle(idle) => {
                let (hasher, sealer) = *idle;
                Ok((ciphertext, hasher, sealer))
            }
            _ => Err(broken()),
        }
    }

    async fn wait(&mut self) -> Result<Bytes> {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Idle(idle) => {
                self.state = State::Idle(idle);
                Ok(Bytes::new())
            }
            State::Working(hashing, sealing) => {
                let (hash_done, seal_done) = tokio::join!(hashing, sealing);
                let hasher = hash_done.map_err(task_failed)?;
                let (sealer, ciphertext) = seal_done.map_err(task_failed)?.map_err(seal_error)?;
                self.state = State::Idle(Box::new((hasher, sealer)));
                Ok(ciphertext)
            }
            State::Broken => Err(broken()),
        }
    }
}

/// A sealing failure as the S3 error it is: a body that ended short or long, else internal.
pub(super) fn seal_error(e: SealError) -> Error {
    match e {
        SealError::TooLong | SealError::TooShort => ErrorKind::IncompleteBody.into(),
        SealError::Crypto(c) => ErrorKind::Internal { context: "sealing".into(), source: Some(Box::new(c)) }.into(),
    }
}

fn task_failed(e: JoinError) -> Error {
    ErrorKind::Internal { context: "sealing task".into(), source: Some(Box::new(e)) }.into()
}

fn broken() -> Error {
    ErrorKind::Internal { context: "sealing stage used after a failure".into(), source: None }.into()
}
