//! How a stream's providers hold it (DESIGN.md §12.5): whole replicas, or Reed–Solomon shards
//! of its ciphertext. A policy names the scheme ([`ErasureShards`]); every stream records the
//! scheme it was written with ([`Redundancy`]), so changing a policy never changes how an
//! existing stream is read.

use serde::{Deserialize, Serialize};

/// The shard counts a residency policy asks for: `data` shards any `data` of which rebuild the
/// stream, and `parity` more. Survives the loss of any `parity` providers at `(data + parity) /
/// data` times the ciphertext's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErasureShards {
    /// k: shards that carry the ciphertext itself.
    pub data: u8,
    /// m: parity shards.
    pub parity: u8,
}

impl ErasureShards {
    /// k + m, the providers a placement needs.
    pub fn total(self) -> u8 {
        self.data.saturating_add(self.parity)
    }

    /// `rs-<k>+<m>`, for metrics labels, the locate and explain outputs.
    pub fn label(self) -> String {
        format!("rs-{}+{}", self.data, self.parity)
    }
}

/// The largest k + m a policy may name: shards go to distinct providers, and no deployment has
/// more independent ones (the Reed–Solomon crate allows far more).
pub const MAX_SHARDS: u8 = 16;

/// The bytes of ciphertext each data shard holds per stripe, for new streams: a stripe is
/// `k` chunks of this, so a range read fetches at most `k · 64 KiB` more than it needs.
pub const DEFAULT_SHARD_CHUNK: u32 = 64 * 1024;

/// One stream's scheme, recorded with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Redundancy {
    /// Every holder has the whole ciphertext.
    #[default]
    Replicas,
    /// Holder `i` has shard `i` (data shards first, then parity).
    ReedSolomon(StripeShape),
}

/// The shape of an erasure-coded stream: `shards`, and `chunk` bytes per shard per stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StripeShape {
    /// k and m.
    pub shards: ErasureShards,
    /// Ciphertext bytes per data shard per full stripe (even, as the coder needs).
    pub chunk: u32,
}

impl StripeShape {
    /// Whether the coder and the layout can use it: 1 ≤ k, 1 ≤ m, k + m ≤ [`MAX_SHARDS`], the
    /// chunk even and between 2 bytes and 16 MiB.
    pub fn is_valid(self) -> bool {
        let ErasureShards { data, parity } = self.shards;
        data >= 1
            && parity >= 1
            && self.shards.total() <= MAX_SHARDS
            && self.chunk >= 2
            && self.chunk.is_multiple_of(2)
            && self.chunk <= 16 << 20
    }
}

/// The prefix that marks a holder list's scheme entry.
const TAG_PREFIX: &str = "~rs/";

impl Redundancy {
    /// The entry that stands first in a stored holder list for a sharded stream
    /// (`~rs/<k>/<m>/<chunk>`), `None` for replicas. Why in the list: stream records are
    /// postcard (no optional fields), and a record of before (replicas) must read unchanged.
    /// A `~` is no provider id's character, so this gateway never takes it for a provider; a
    /// gateway of before would (it does not validate ids it reads back), which is why going
    /// back to one while sharded streams are stored is not supported (docs/format-v2.md).
    pub fn holder_tag(self) -> Option<String> {
        match self {
            Self::Replicas => None,
            Self::ReedSolomon(s) => Some(format!("{TAG_PREFIX}{}/{}/{}", s.shards.data, s.shards.parity, s.chunk)),
        }
    }

    /// Parses a [`holder_tag`](Self::holder_tag): `None` if `entry` is no tag, `Some(Err)` if
    /// it is one but malformed.
    pub fn parse_holder_tag(entry: &str) -> Option<Result<Self, String>> {
        let rest = entry.strip_prefix(TAG_PREFIX)?;
        let mut fields = rest.split('/');
        let parsed = (|| {
            let data = fields.next()?.parse().ok()?;
            let parity = fields.next()?.parse().ok()?;
            let chunk = fields.next()?.parse().ok()?;
            if fields.next().is_some() {
                return None;
            }
            let shape = StripeShape { shards: ErasureShards { data, parity }, chunk };
            shape.is_valid().then_some(Self::ReedSolomon(shape))
        })();
        Some(parsed.ok_or_else(|| format!("malformed redundancy entry {entry:?}")))
    }

    /// How many holders a stream of this scheme has (`None` for replicas: any number).
    pub fn holders(self) -> Option<usize> {
        match self {
            Self::Replicas => None,
            Self::ReedSolomon(s) => Some(usize::from(s.shards.total())),
        }
    }

    /// `replicas` or `rs-<k>+<m>`, for metrics labels and the locate output.
    pub fn label(self) -> String {
        match self {
            Self::Replicas => "replicas".into(),
            Self::ReedSolomon(s) => s.shards.label(),
        }
    }
}

/// Splits a stored holder list into its scheme and providers: a sharded stream's list starts
/// with its [`holder_tag`](Redundancy::holder_tag) and names exactly `k + m` providers.
pub fn split_holders(holders: Vec<String>) -> Result<(Redundancy, Vec<super::ProviderId>), String> {
    let mut entries = holders.into_iter().peekable();
    let redundancy = match entries.peek().and_then(|first| Redundancy::parse_holder_tag(first)) {
        Some(tag) => {
            entries.next();
            tag?
        }
        None => Redundancy::Replicas,
    };
    let providers = entries
        .map(|p| super::ProviderId::parse(&p).ok_or_else(|| format!("{p:?} is no provider id")))
        .collect::<Result<Vec<_>, _>>()?;
    match redundancy.holders() {
        Some(n) if n != providers.len() => Err(format!("{} holders for {} shards", providers.len(), n)),
        _ => Ok((redundancy, providers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: the stored scheme entry is fixed (it is part of every sharded stream record,
    /// docs/format-v2.md) and reads back; malformed or invalid entries are refused.
    #[test]
    fn the_holder_tag_is_fixed_and_round_trips() {
        let rs = Redundancy::ReedSolomon(StripeShape { shards: ErasureShards { data: 4, parity: 2 }, chunk: 65536 });
        assert_eq!(rs.holder_tag().as_deref(), Some("~rs/4/2/65536"));
        assert_eq!(Redundancy::parse_holder_tag("~rs/4/2/65536"), Some(Ok(rs)));
        assert_eq!(Redundancy::Replicas.holder_tag(), None);
        assert_eq!(Redundancy::parse_holder_tag("ovh-gra"), None, "a provider id is no tag");
        for bad in ["~rs/4/2", "~rs/4/2/65535", "~rs/0/2/65536", "~rs/4/0/65536", "~rs/12/5/65536", "~rs/4/2/8/1"] {
            assert!(matches!(Redundancy::parse_holder_tag(bad), Some(Err(_))), "{bad}");
        }
        assert_eq!(rs.label(), "rs-4+2");
    }

    /// Promise: a holder list of before (providers only) reads as replicas, a sharded one
    /// must name exactly k + m providers.
    #[test]
    fn holder_lists_split_into_scheme_and_providers() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (r, p) = split_holders(list(&["a", "b"])).unwrap();
        assert_eq!((r, p.len()), (Redundancy::Replicas, 2));
        let (r, p) = split_holders(list(&["~rs/2/1/64", "a", "b", "c"])).unwrap();
        assert_eq!(r.holders(), Some(3));
        assert_eq!(p[2].as_str(), "c");
        assert!(split_holders(list(&["~rs/2/1/64", "a", "b"])).is_err());
        assert!(split_holders(list(&["a", "~rs/2/1/64"])).is_err(), "the tag only stands first");
    }

    /// The stored shape of a stream record before erasure coding.
    #[derive(serde::Serialize)]
    struct StreamBefore {
        stream_id: crate::model::StreamId,
        part_number: u32,
        plaintext_len: u64,
        seg_log2: u8,
        salt: [u8; 32],
        commit: [u8; 32],
        ciphertext_check: crate::model::CiphertextCheck,
        replicas: Vec<super::super::ProviderId>,
    }

    /// Promise: a replicated stream's record keeps its bytes of before erasure coding (records
    /// already stored read unchanged), a sharded one round-trips with its scheme, and a
    /// gateway of before cannot take its tag for a provider id.
    #[test]
    fn stream_records_keep_their_layout() {
        let replicas =
            vec![super::super::ProviderId::parse("de").unwrap(), super::super::ProviderId::parse("fr").unwrap()];
        let m = crate::model::StreamManifest {
            stream_id: crate::model::StreamId([1; 16]),
            part_number: 2,
            plaintext_len: 3,
            seg_log2: 16,
            salt: [4; 32],
            commit: [5; 32],
            ciphertext_check: crate::model::CiphertextCheck([6; 32]),
            replicas: replicas.clone(),
            redundancy: Redundancy::Replicas,
        };
        let before = StreamBefore {
            stream_id: m.stream_id,
            part_number: 2,
            plaintext_len: 3,
            seg_log2: 16,
            salt: [4; 32],
            commit: [5; 32],
            ciphertext_check: m.ciphertext_check,
            replicas,
        };
        assert_eq!(postcard::to_stdvec(&m).unwrap(), postcard::to_stdvec(&before).unwrap());
        let rs = Redundancy::ReedSolomon(StripeShape { shards: ErasureShards { data: 1, parity: 1 }, chunk: 64 });
        let sharded = crate::model::StreamManifest { redundancy: rs, ..m };
        let bytes = postcard::to_stdvec(&sharded).unwrap();
        assert_eq!(postcard::from_bytes::<crate::model::StreamManifest>(&bytes).unwrap(), sharded);
        let mut short = sharded.clone();
        short.replicas.pop();
        assert!(postcard::to_stdvec(&short).is_err(), "one holder per shard, or nothing is stored");
        assert!(super::super::ProviderId::parse("~rs/1/1/64").is_none());
    }
}
