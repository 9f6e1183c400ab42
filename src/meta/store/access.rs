//! The store's [`AccessMeta`]: users, access keys and grants in the `Access` family, and the
//! admin changes that write them. Each written record is also logged as a catalog entry under
//! the same name (`user/<name>`, `accesskey/<id>`, `admintoken/<name>`, `grant/<bucket uid>/<user>`,
//! `bucketpolicy/<bucket uid>`, `publicblock/<bucket uid>`, `lifecycle/<bucket uid>`,
//! `buckettags/<bucket uid>`, `cors/<bucket uid>`, `etagmode/<bucket uid>`; JSON `null`
//! for a removal), so a rebuild recovers who may do what and never brings back a key that was
//! deleted.

use super::KvMetadataStore;
use super::logging::log_entry;
use crate::meta::codec::{decode, encode, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn};
use crate::meta::log_entry::LogEntry;
use crate::meta::outbox::LogScope;
use crate::meta::restore::AccessRecord;
use crate::meta::{AccessMeta, AuditedChange, BucketRecord, MetaError};
use crate::model::BucketUid;
use crate::model::access::{AccessKeyRecord, AdminTokenRecord, Perms, PublicAccessBlock, UserName, UserRecord};
use async_trait::async_trait;

const USER: &str = "user/";
const KEY: &str = "accesskey/";
const GRANT: &str = "grant/";
const TOKEN: &str = "admintoken/";
const POLICY: &str = "bucketpolicy/";
const BLOCK: &str = "publicblock/";
const LIFECYCLE: &str = "lifecycle/";
const BUCKET_TAGS: &str = "buckettags/";
const CORS: &str = "cors/";
const ETAG_MODE: &str = "etagmode/";

pub(crate) fn user_key(name: &UserName) -> String {
    format!("{USER}{name}")
}

pub(crate) fn access_key_key(id: &str) -> String {
    format!("{KEY}{id}")
}

pub(crate) fn token_key(name: &UserName) -> String {
    format!("{TOKEN}{name}")
}

fn policy_key(bucket: BucketUid) -> String {
    format!("{POLICY}{}", hex::encode(bucket.as_bytes()))
}

fn block_key(bucket: BucketUid) -> String {
    format!("{BLOCK}{}", hex::encode(bucket.as_bytes()))
}

pub(crate) fn lifecycle_key(bucket: BucketUid) -> String {
    format!("{LIFECYCLE}{}", hex::encode(bucket.as_bytes()))
}

pub(crate) fn bucket_tags_key(bucket: BucketUid) -> String {
    format!("{BUCKET_TAGS}{}", hex::encode(bucket.as_bytes()))
}

pub(crate) fn cors_key(bucket: BucketUid) -> String {
    format!("{CORS}{}", hex::encode(bucket.as_bytes()))
}

pub(crate) fn etag_mode_key(bucket: BucketUid) -> String {
    format!("{ETAG_MODE}{}", hex::encode(bucket.as_bytes()))
}

/// A bucket-wide setting logged under a catalog name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    /// `bucketpolicy/<uid hex>`.
    Policy,
    /// `publicblock/<uid hex>`.
    PublicBlock,
    /// `versioning/<uid hex>`.
    Versioning,
    /// `objectlock/<uid hex>`.
    ObjectLock,
    /// `lifecycle/<uid hex>`.
    Lifecycle,
    /// `buckettags/<uid hex>`.
    Tags,
    /// `cors/<uid hex>`.
    Cors,
    /// `etagmode/<uid hex>`.
    EtagMode,
}

/// The bucket and the setting of a bucket-wide entry's name.
pub fn parse_bucket_entry_key(name: &str) -> Option<(BucketUid, BucketSetting)> {
    let (uid, setting) = [
        (POLICY, BucketSetting::Policy),
        (BLOCK, BucketSetting::PublicBlock),
        (super::versions::VERSIONING, BucketSetting::Versioning),
        (super::versions::OBJECT_LOCK, BucketSetting::ObjectLock),
        (LIFECYCLE, BucketSetting::Lifecycle),
        (BUCKET_TAGS, BucketSetting::Tags),
        (CORS, BucketSetting::Cors),
        (ETAG_MODE, BucketSetting::EtagMode),
    ]
    .into_iter()
    .find_map(|(prefix, setting)| Some((name.strip_prefix(prefix)?, setting)))?;
    Some((BucketUid(<[u8; 16]>::try_from(hex::decode(uid).ok()?).ok()?), setting))
}

pub(crate) fn grant_key(bucket: BucketUid, user: &UserName) -> String {
    format!("{GRANT}{}/{user}", hex::encode(bucket.as_bytes()))
}

fn grant_prefix(bucket: BucketUid) -> String {
    format!("{GRANT}{}/", hex::encode(bucket.as_bytes()))
}

/// The bucket and user of a grant's name (`grant/<uid hex>/<user>`), if it is one.
pub fn parse_grant_key(name: &str) -> Option<(BucketUid, UserName)> {
    let (uid, user) = name.strip_prefix(GRANT)?.split_once('/')?;
    let uid = <[u8; 16]>::try_from(hex::decode(uid).ok()?).ok()?;
    Some((BucketUid(uid), UserName::parse(user).ok()?))
}

/// The writes (records and their log entries) of one access change.
struct Writes<'t, T> {
    t: &'t mut T,
    ops: Vec<KvOp>,
    last_seq: Option<u64>,
}

impl<T: KvTxn> Writes<'_, T> {
    fn put(&mut self, name: String, value: &impl serde::Serialize) -> Result<(), MetaError> {
        self.ops.push(KvOp::Put(Cf::Access, name.clone().into_bytes(), encode(value)?));
        self.log(name, serde_json::to_string(value))
    }

    fn remove(&mut self, name: String) -> Result<(), MetaError> {
        self.ops.push(KvOp::Delete(Cf::Access, name.clone().into_bytes()));
        self.log(name, Ok("null".to_owned()))
    }

    fn log(&mut self, name: String, json: serde_json::Result<String>) -> Result<(), MetaError> {
        let json = json.map_err(|e| MetaError::codec_from("an access log entry", e))?;
        let (seq, op) = log_entry(self.t, LogScope::catalog(), |seq| LogEntry::Catalog { seq, name, json })?;
        self.ops.push(op);
        self.last_seq = Some(seq);
        Ok(())
    }

    /// Puts `value` under `name` unless something is there already (false then).
    fn create(&mut self, name: String, value: &impl serde::Serialize) -> Result<bool, MetaError> {
        if self.t.get(Cf::Access, name.as_bytes())?.is_some() {
            return Ok(false);
        }
        self.put(name, value)?;
        Ok(true)
    }

    /// Removes `name` if it is there (false if not).
    fn remove_existing(&mut self, name: String) -> Result<bool, MetaError> {
        if self.t.get(Cf::Access, name.as_bytes())?.is_none() {
            return Ok(false);
        }
        self.remove(name)?;
        Ok(true)
    }

    /// Sets (`Some`) or removes (`None`) the entry `name_of(uid)` of the bucket named
    /// `bucket`; false if there is no such bucket.
    fn set_for_bucket(
        &mut self,
        bucket: &crate::model::BucketName,
        name_of: impl FnOnce(BucketUid) -> String,
        value: Option<&impl serde::Serialize>,
    ) -> Result<bool, MetaError> {
        let Some(rec) = self.t.get_decoded::<BucketRecord>(Cf::Buckets, bucket.as_bytes())? else {
            return Ok(false);
        };
        match value {
            Some(v) => self.put(name_of(rec.uid), v)?,
            None => self.remove(name_of(rec.uid))?,
        }
        Ok(true)
    }

    fn scan_prefix(&mut self, prefix: &str) -> Result<crate::meta::kv::KvPairs, MetaError> {
        let end = prefix_successor(prefix.as_bytes());
        self.t.scan(Cf::Access, prefix.as_bytes(), end.as_deref(), usize::MAX)
    }
}

/// Applies an access change in `t`: its writes and the sequence number of its last log entry,
/// or `None` when it changes nothing (see [`AuditedChange`]). Other changes are not for here.
pub(super) fn apply(t: &mut impl KvTxn, change: AuditedChange) -> Result<Option<(Vec<KvOp>, u64)>, MetaError> {
    let mut w = Writes { t, ops: Vec::new(), last_seq: None };
    let applied = match change {
        AuditedChange::CreateUser(rec) => w.create(user_key(&rec.name), &rec)?,
        AuditedChange::DeleteUser(name) => {
            let found = w.remove_existing(user_key(&name))?;
            if found {
                for (k, v) in w.scan_prefix(KEY)? {
                    if decode::<AccessKeyRecord>(&v)?.user == name {
                        w.remove(String::from_utf8_lossy(&k).into_owned())?;
                    }
                }
                for (k, _) in w.scan_prefix(GRANT)? {
                    let k = String::from_utf8_lossy(&k).into_owned();
                    if parse_grant_key(&k).is_some_and(|(_, user)| user == name) {
                        w.remove(k)?;
                    }
                }
            }
            found
        }
        AuditedChange::PutAccessKey(rec) => {
            let user_exists = w.t.get(Cf::Access, user_key(&rec.user).as_bytes())?.is_some();
            if user_exists {
                w.put(access_key_key(&rec.id), &rec)?;
            }
            user_exists
        }
        AuditedChange::DeleteAccessKey(id) => w.remove_existing(access_key_key(&id))?,
        AuditedChange::CreateAdminToken(rec) => w.create(token_key(&rec.name), &rec)?,
        AuditedChange::DeleteAdminToken(name) => w.remove_existing(token_key(&name))?,
        AuditedChange::BucketAccessPolicy { bucket, document } => {
            w.set_for_bucket(&bucket, policy_key, document.as_ref())?
        }
        AuditedChange::PublicBlock { bucket, block } => w.set_for_bucket(&bucket, block_key, block.as_ref())?,
        AuditedChange::BucketVersioning { bucket, state } => {
            w.set_for_bucket(&bucket, super::versions::versioning_key, Some(&state))?
        }
        AuditedChange::BucketObjectLock { bucket, config } => {
            w.set_for_bucket(&bucket, super::versions::lock_config_key, Some(&config))?
        }
        AuditedChange::BucketLifecycle { bucket, config } => {
            w.set_for_bucket(&bucket, lifecycle_key, config.as_ref())?
        }
        AuditedChange::BucketTagging { bucket, tags } => w.set_for_bucket(&bucket, bucket_tags_key, tags.as_ref())?,
        AuditedChange::BucketCors { bucket, config } => w.set_for_bucket(&bucket, cors_key, config.as_ref())?,
        AuditedChange::BucketEtagMode { bucket, mode } => w.set_for_bucket(&bucket, etag_mode_key, Some(&mode))?,
        AuditedChange::Grant { bucket, user, add, remove } => {
            let Some(rec) = w.t.get_decoded::<BucketRecord>(Cf::Buckets, bucket.as_bytes())? else {
                return Ok(None);
            };
            let held: Perms = w.t.get_decoded(Cf::Access, grant_key(rec.uid, &user).as_bytes())?.unwrap_or_default();
            let after = Some(held.union(add).without(remove)).filter(|p| !p.is_empty());
            w.set_for_bucket(&bucket, |uid| grant_key(uid, &user), after.as_ref())?
        }
        AuditedChange::SetAccessKeyDisabled { id, disabled } => {
            match w.t.get_decoded::<AccessKeyRecord>(Cf::Access, access_key_key(&id).as_bytes())? {
                Some(rec) => {
                    w.put(access_key_key(&id), &AccessKeyRecord { disabled, ..rec })?;
                    true
                }
                None => false,
            }
        }
        AuditedChange::RewrapAccessKey { id, expected, new } => {
            match w.t.get_decoded::<AccessKeyRecord>(Cf::Access, access_key_key(&id).as_bytes())? {
                Some(rec) if rec.secret == expected => {
                    w.put(access_key_key(&id), &AccessKeyRecord { secret: new, ..rec })?;
                    true
                }
                _ => false,
            }
        }
        _ => return Err(MetaError::codec("not an access change")),
    };
    if !applied {
        return Ok(None);
    }
    let seq = w.last_seq.ok_or_else(|| MetaError::codec("an access change without a log entry"))?;
    Ok(Some((w.ops, seq)))
}

/// The owner grant of a bucket's creator, with its log entry (and that entry's sequence number).
pub(super) fn owner_grant(
    t: &mut impl KvTxn,
    bucket: BucketUid,
    owner: &UserName,
) -> Result<(Vec<KvOp>, Option<u64>), MetaError> {
    let mut w = Writes { t, ops: Vec::new(), last_seq: None };
    w.put(grant_key(bucket, owner), &Perms::ALL)?;
    Ok((w.ops, w.last_seq))
}

/// Removes every grant and bucket-wide setting (policy, public access block, versioning, Object
/// Lock, lifecycle, tags, CORS, ETag mode) of a deleted bucket (not
/// logged: a rebuild drops what belongs to buckets that are not live).
pub(super) fn drop_grants(t: &mut impl KvTxn, bucket: BucketUid) -> Result<Vec<KvOp>, MetaError> {
    let prefix = grant_prefix(bucket);
    let end = prefix_successor(prefix.as_bytes());
    let mut ops: Vec<KvOp> = t
        .scan(Cf::Access, prefix.as_bytes(), end.as_deref(), usize::MAX)?
        .into_iter()
        .map(|(k, _)| KvOp::Delete(Cf::Access, k))
        .collect();
    ops.push(KvOp::Delete(Cf::Access, policy_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, block_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, super::versions::versioning_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, super::versions::lock_config_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, lifecycle_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, bucket_tags_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, cors_key(bucket).into_bytes()));
    ops.push(KvOp::Delete(Cf::Access, etag_mode_key(bucket).into_bytes()));
    Ok(ops)
}

/// The JSON an access record was logged with (its `Catalog` entry), from its name and stored
/// bytes: what a catalog checkpoint writes for it. An unknown kind is an error, so a
/// checkpoint never silently drops a record a later change taught the store.
pub(super) fn logged_json(name: &str, value: &[u8]) -> Result<String, MetaError> {
    fn json<T: serde::de::DeserializeOwned + serde::Serialize>(value: &[u8]) -> Result<String, MetaError> {
        serde_json::to_string(&decode::<T>(value)?).map_err(|e| MetaError::codec_from("an access record as JSON", e))
    }
    match name.split_inclusive('/').next().unwrap_or_default() {
        USER => json::<UserRecord>(value),
        KEY => json::<AccessKeyRecord>(value),
        TOKEN => json::<AdminTokenRecord>(value),
        GRANT => json::<Perms>(value),
        POLICY => json::<String>(value),
        BLOCK => json::<PublicAccessBlock>(value),
        super::versions::VERSIONING => json::<crate::model::Versioning>(value),
        super::versions::OBJECT_LOCK => json::<crate::model::lock::LockConfig>(value),
        LIFECYCLE => json::<crate::model::lifecycle::LifecycleConfig>(value),
        BUCKET_TAGS => json::<crate::model::tagging::TagSet>(value),
        CORS => json::<crate::model::cors::CorsConfig>(value),
        ETAG_MODE => json::<crate::model::EtagMode>(value),
        other => Err(MetaError::codec(format!("an access record of an unknown kind ({other})"))),
    }
}

/// The writes of recovered access records (a rebuild).
pub(super) fn restore_ops(records: &[AccessRecord], ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    for r in records {
        let (name, value) = match r {
            AccessRecord::User(u) => (user_key(&u.name), encode(u)?),
            AccessRecord::Key(k) => (access_key_key(&k.id), encode(k)?),
            AccessRecord::Token(t) => (token_key(&t.name), encode(t)?),
            AccessRecord::BucketPolicy { bucket, document } => (policy_key(*bucket), encode(document)?),
            AccessRecord::PublicBlock { bucket, block } => (block_key(*bucket), encode(block)?),
            AccessRecord::Versioning { bucket, state } => (super::versions::versioning_key(*bucket), encode(state)?),
            AccessRecord::ObjectLock { bucket, config } => (super::versions::lock_config_key(*bucket), encode(config)?),
            AccessRecord::Lifecycle { bucket, config: Some(config) } => (lifecycle_key(*bucket), encode(config)?),
            AccessRecord::BucketTags { bucket, tags: Some(tags) } => (bucket_tags_key(*bucket), encode(tags)?),
            AccessRecord::Cors { bucket, config: Some(config) } => (cors_key(*bucket), encode(config)?),
            AccessRecord::EtagMode { bucket, mode } => (etag_mode_key(*bucket), encode(mode)?),
            AccessRecord::Lifecycle { config: None, .. }
            | AccessRecord::BucketTags { tags: None, .. }
            | AccessRecord::Cors { config: None, .. } => continue,
            AccessRecord::Grant { bucket, user, perms } => (grant_key(*bucket, user), encode(perms)?),
        };
        ops.push(KvOp::Put(Cf::Access, name.into_bytes(), value));
    }
    Ok(())
}

#[async_trait]
impl<E: KvEngine> AccessMeta for KvMetadataStore<E> {
    async fn user(&self, name: &UserName) -> Result<Option<UserRecord>, MetaError> {
        let k = user_key(name);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, MetaError> {
        self.run(|i| i.scan_access(USER)?.iter().map(|(_, v)| decode(v)).collect()).await
    }

    async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, MetaError> {
        let k = access_key_key(id);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn access_keys(&self, user: Option<&UserName>) -> Result<Vec<AccessKeyRecord>, MetaError> {
        let user = user.cloned();
        self.run(move |i| {
            let mut out = Vec::new();
            for (_, v) in i.scan_access(KEY)? {
                let rec: AccessKeyRecord = decode(&v)?;
                if user.as_ref().is_none_or(|u| *u == rec.user) {
                    out.push(rec);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn grant(&self, bucket: BucketUid, user: &UserName) -> Result<Perms, MetaError> {
        let k = grant_key(bucket, user);
        self.run(move |i| Ok(i.get(Cf::Access, k.as_bytes())?.unwrap_or_default())).await
    }

    async fn bucket_access(&self, bucket: BucketUid) -> Result<(Option<String>, Option<PublicAccessBlock>), MetaError> {
        let (p, b) = (policy_key(bucket), block_key(bucket));
        self.run(move |i| Ok((i.get(Cf::Access, p.as_bytes())?, i.get(Cf::Access, b.as_bytes())?))).await
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, MetaError> {
        self.run(|i| i.scan_access(TOKEN)?.iter().map(|(_, v)| decode(v)).collect()).await
    }

    async fn grants(&self) -> Result<Vec<(BucketUid, UserName, Perms)>, MetaError> {
        self.run(|i| {
            let mut out = Vec::new();
            for (k, v) in i.scan_access(GRANT)? {
                let name = String::from_utf8_lossy(&k);
                let (bucket, user) =
                    parse_grant_key(&name).ok_or_else(|| MetaError::codec(format!("grant key {name}")))?;
                out.push((bucket, user, decode(&v)?));
            }
            Ok(out)
        })
        .await
    }
}

impl<E: KvEngine> super::Inner<E> {
    fn scan_access(&self, prefix: &str) -> Result<crate::meta::kv::KvPairs, MetaError> {
        let end = prefix_successor(prefix.as_bytes());
        self.engine.scan(Cf::Access, prefix.as_bytes(), end.as_deref(), usize::MAX)
    }
}

/// `Meta` key set once every stored lifecycle configuration has tag filters in its layout.
const LIFECYCLE_TAGS_MARKER: &[u8] = b"migrated/lifecycle_tags";

/// The layout of lifecycle configurations before tag filters: [`RuleFilter`] without `tags`.
/// The new field sits inside each rule, so an old record may decode as a new one by accident;
/// every record is converted under the marker instead of trying the new layout first.
///
/// [`RuleFilter`]: crate::model::lifecycle::RuleFilter
mod lifecycle_v0 {
    use crate::model::lifecycle::{Expiration, LifecycleConfig, LifecycleRule, NoncurrentExpiration, RuleFilter};

    #[derive(serde::Deserialize)]
    struct Filter {
        prefix: String,
        size_greater_than: Option<u64>,
        size_less_than: Option<u64>,
    }

    #[derive(serde::Deserialize)]
    struct Rule {
        id: String,
        enabled: bool,
        filter: Filter,
        expiration: Option<Expiration>,
        noncurrent: Option<NoncurrentExpiration>,
        abort_upload_after_days: Option<u32>,
    }

    #[derive(serde::Deserialize)]
    pub(super) struct Config {
        rules: Vec<Rule>,
    }

    impl From<Config> for LifecycleConfig {
        fn from(old: Config) -> Self {
            let rules = old
                .rules
                .into_iter()
                .map(|r| LifecycleRule {
                    id: r.id,
                    enabled: r.enabled,
                    filter: RuleFilter {
                        prefix: r.filter.prefix,
                        size_greater_than: r.filter.size_greater_than,
                        size_less_than: r.filter.size_less_than,
                        tags: Vec::new(),
                    },
                    expiration: r.expiration,
                    noncurrent: r.noncurrent,
                    abort_upload_after_days: r.abort_upload_after_days,
                })
                .collect();
            Self { rules }
        }
    }
}

impl<E: KvEngine> super::Inner<E> {
    /// Stores written before lifecycle tag filters: every lifecycle configuration is rewritten
    /// in today's layout, with the marker, in one atomic write (a crash leaves all old or all
    /// new; there is one configuration per bucket at most).
    pub(super) fn migrate_lifecycle_tags(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, LIFECYCLE_TAGS_MARKER)?.is_some() {
            return Ok(());
        }
        let mut ops = Vec::new();
        for (k, v) in self.scan_access(LIFECYCLE)? {
            let config: crate::model::lifecycle::LifecycleConfig = decode::<lifecycle_v0::Config>(&v)?.into();
            ops.push(KvOp::Put(Cf::Access, k, encode(&config)?));
        }
        ops.push(KvOp::Put(Cf::Meta, LIFECYCLE_TAGS_MARKER.to_vec(), encode(&true)?));
        self.engine.write(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectMeta as _;
    use crate::model::lifecycle::{Expiration, LifecycleConfig, LifecycleRule, RuleFilter};

    /// Promise: a lifecycle configuration stored before tag filters existed reads back after
    /// the upgrade with its rules intact and no tag filter, and the migration runs once.
    #[tokio::test]
    async fn lifecycle_configurations_of_before_tag_filters_are_migrated() {
        let engine = crate::meta::memory::MemoryEngine::default();
        // The bytes an earlier gateway stored: version byte, then postcard of the old layout
        // (one rule "r": enabled, prefix "logs/", no sizes, Expiration::Days(3), nothing else).
        let old: Vec<u8> = [&[1u8, 1, 1, b'r', 1, 5][..], b"logs/", &[0, 0, 1, 0, 3, 0, 0]].concat();
        let uid = BucketUid([7; 16]);
        engine.write(vec![KvOp::Put(Cf::Access, lifecycle_key(uid).into_bytes(), old)]).unwrap();
        let store = crate::meta::KvMetadataStore::new(engine).await.unwrap();
        let rule = LifecycleRule {
            id: "r".into(),
            enabled: true,
            filter: RuleFilter { prefix: "logs/".into(), ..RuleFilter::default() },
            expiration: Some(Expiration::Days(3)),
            noncurrent: None,
            abort_upload_after_days: None,
        };
        assert_eq!(store.lifecycle(uid).await.unwrap(), Some(LifecycleConfig { rules: vec![rule] }));
    }
}
