//! Who is asking, and the proof that they may: access keys resolved to principals (the
//! configuration's keys, and users' keys from the store with a short-lived cache), the grants
//! a principal holds on a bucket, and the [`Permit`] that only [`ObjectService::permit`]
//! mints after [`crate::access::authorize`] allowed the action. Every object operation takes a
//! permit for its bucket, so none can run without the check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{ObjectService, now_ms};
use crate::access::policy::{BucketPolicy, RequestFacts};
use crate::access::{Action, BucketFacts, Decision, Principal, Target, authorize};
use crate::config::AccessKey;
use crate::error::{ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding, KeyError, KeyProvider};
use crate::meta::{BucketRecord, MetadataStore};
use crate::model::access::{AccessKeyRecord, Perms, PublicAccessBlock, UserCaps, UserName};
use crate::model::{BucketName, BucketUid, VersionUid, random_array};

/// How long a store key or grant is trusted before it is read again: a key disabled or a grant
/// withdrawn on any gateway is refused everywhere within this (issue 22 asks for 5 s).
pub const ACCESS_CACHE_TTL: Duration = Duration::from_secs(2);
/// Entries cached at most; beyond, the cache starts over (keys are few, the bound is for
/// floods of distinct ids).
const CACHE_MAX: usize = 10_000;
/// The purpose access-key secrets are wrapped under (with the key id as the binding's key, and
/// bucket zero, which no object has).
const SECRET_PURPOSE: [u8; 16] = *b"souverain/akey/1";
/// Alphabet of generated access key ids (RFC 4648 base32: 32 symbols, no bias).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The S3 request's signer and connection, as the frontend saw them.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The access key id of a signed request; `None` for an anonymous one.
    pub access_key: Option<String>,
    /// The client's address.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS.
    pub secure: bool,
}

/// A secret access key. Deliberately no `Debug`.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret, for signature checks and the one answer that shows it at creation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Proof that a principal was allowed an action on a bucket: only [`ObjectService::permit`]
/// makes one, and every object operation needs one for its bucket.
pub(crate) struct Permit {
    bucket: BucketRecord,
    versioning: crate::model::Versioning,
    lifecycle: Option<Arc<crate::model::lifecycle::LifecycleConfig>>,
    etag_mode: crate::model::EtagMode,
}

impl Permit {
    /// The bucket the action was allowed on.
    pub(crate) fn bucket(&self) -> &BucketRecord {
        &self.bucket
    }

    /// The bucket's versioning state as the access cache saw it (up to its TTL old): enough to
    /// decide what a response shows; commits check the state they write under themselves.
    pub(crate) fn versioning(&self) -> crate::model::Versioning {
        self.versioning
    }

    /// The bucket's lifecycle configuration as the access cache saw it: what responses show
    /// (`x-amz-expiration`); the lifecycle worker reads the store's.
    pub(crate) fn lifecycle(&self) -> Option<&crate::model::lifecycle::LifecycleConfig> {
        self.lifecycle.as_deref()
    }

    /// How the bucket's new objects get their ETag, as the access cache saw it (a change is
    /// in force everywhere within [`ACCESS_CACHE_TTL`]).
    pub(crate) fn etag_mode(&self) -> crate::model::EtagMode {
        self.etag_mode
    }
}

/// A resolved key: its secret and whose it is.
struct Resolved {
    secret: Arc<Zeroizing<String>>,
    principal: Principal,
}

#[derive(Clone)]
struct CachedKey {
    record: AccessKeyRecord,
    caps: UserCaps,
    secret: Arc<Zeroizing<String>>,
}

/// Entries trusted for [`ACCESS_CACHE_TTL`], at most [`CACHE_MAX`] of them (beyond, the map
/// starts over): the one shape of the key, grant and bucket-access caches.
struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::default() }
    }
}

impl<K: Eq + std::hash::Hash, V: Clone> TtlMap<K, V> {
    /// The entry, if stored within the TTL.
    fn fresh<Q: Eq + std::hash::Hash + ?Sized>(&self, k: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.entries.lock().ok()?.get(k).filter(|(_, at)| at.elapsed() < ACCESS_CACHE_TTL).map(|(v, _)| v.clone())
    }

    /// The entry, however old.
    fn any<Q: Eq + std::hash::Hash + ?Sized>(&self, k: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.entries.lock().ok()?.get(k).map(|(v, _)| v.clone())
    }

    fn put(&self, k: K, v: V) {
        if let Ok(mut c) = self.entries.lock() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(k, (v, Instant::now()));
        }
    }

    fn remove<Q: Eq + std::hash::Hash + ?Sized>(&self, k: &Q)
    where
        K: std::borrow::Borrow<Q>,
    {
        if let Ok(mut c) = self.entries.lock() {
            c.remove(k);
        }
    }

    fn clear(&self) {
        if let Ok(mut c) = self.entries.lock() {
            c.clear();
        }
    }
}

/// Access keys and grants: the configuration's, and the store's behind a bounded cache.
pub struct Directory {
    configured: HashMap<String, AccessKey>,
    meta: Arc<dyn MetadataStore>,
    keys: Arc<dyn KeyProvider>,
    cached_keys: TtlMap<String, CachedKey>,
    /// Key ids the store did not know (a client retrying with a deleted or mistyped key costs
    /// one store read per TTL, not one per request); apart from the known keys, so a flood of
    /// made-up ids never evicts them.
    unknown_keys: TtlMap<String, ()>,
    cached_grants: TtlMap<(BucketUid, UserName), Perms>,
    cached_buckets: TtlMap<BucketUid, Arc<BucketAccess>>,
}

/// A bucket's policy and public access block.
pub(crate) struct BucketAccess {
    /// The policy as the client sent it.
    pub(crate) document: Option<String>,
    /// The policy, parsed.
    pub(crate) policy: Option<BucketPolicy>,
    /// The public access block.
    pub(crate) block: Option<PublicAccessBlock>,
    /// Its versioning state.
    pub(crate) versioning: crate::model::Versioning,
    /// Its lifecycle configuration.
    pub(crate) lifecycle: Option<Arc<crate::model::lifecycle::LifecycleConfig>>,
    /// Its CORS configuration (what browsers' requests are answered with).
    pub(crate) cors: Option<Arc<crate::model::cors::CorsConfig>>,
    /// How its new objects get their ETag.
    pub(crate) etag_mode: crate::model::EtagMode,
}

impl Directory {
    /// Over the configured keys and the store's.
    pub(crate) fn new(configured: &[AccessKey], meta: Arc<dyn MetadataStore>, keys: Arc<dyn KeyProvider>) -> Self {
        Self {
            configured: configured.iter().map(|k| (k.id.clone(), k.clone())).collect(),
            meta,
            keys,
            cached_keys: TtlMap::default(),
            unknown_keys: TtlMap::default(),
            cached_grants: TtlMap::default(),
            cached_buckets: TtlMap::default(),
        }
    }

    /// A bucket's policy (parsed) and public access block, through the cache.
    pub(crate) async fn bucket_access(&self, bucket: &BucketRecord) -> Result<Arc<BucketAccess>> {
        if let Some(a) = self.cached_buckets.fresh(&bucket.uid) {
            return Ok(a);
        }
        // Five independent reads, asked together: a miss costs one store round trip of
        // latency, not five (PostgreSQL is across the network).
        let meta = &self.meta;
        let ((document, block), versioning, lifecycle, cors, etag_mode) = tokio::try_join!(
            meta.bucket_access(bucket.uid),
            meta.versioning(bucket.uid),
            meta.lifecycle(bucket.uid),
            meta.bucket_cors(bucket.uid),
            meta.etag_mode(bucket.uid),
        )?;
        let (lifecycle, cors) = (lifecycle.map(Arc::new), cors.map(Arc::new));
        let policy = match &document {
            // Stored only after it parsed; one that no longer does fails the request, closed.
            Some(text) => Some(BucketPolicy::parse(text, bucket.name.as_str()).map_err(|e| ErrorKind::Internal {
                context: "the stored bucket policy".into(),
                source: Some(Box::new(e)),
            })?),
            None => None,
        };
        let access = Arc::new(BucketAccess { document, policy, block, versioning, lifecycle, cors, etag_mode });
        self.cached_buckets.put(bucket.uid, Arc::clone(&access));
        Ok(access)
    }

    /// Forgets what is cached (after a change through this gateway's admin API, so it holds
    /// here at once; other gateways see it within [`ACCESS_CACHE_TTL`]).
    pub(crate) fn forget(&self) {
        self.cached_buckets.clear();
        self.cached_keys.clear();
        self.unknown_keys.clear();
        self.cached_grants.clear();
    }

    /// Whether `name` is a user of a configured key.
    pub(crate) fn configured_user(&self, name: &UserName) -> bool {
        self.configured.values().any(|k| k.user.as_ref().is_some_and(|u| u.name == *name))
    }

    /// The key `id`, if it exists and is neither disabled nor expired.
    async fn resolve(&self, id: &str) -> Result<Option<Resolved>> {
        if let Some(k) = self.configured.get(id) {
            let principal = match &k.user {
                None => Principal::Root { key_id: id.to_owned() },
                Some(u) => Principal::User { name: u.name.clone(), key_id: id.to_owned(), caps: u.caps.clone() },
            };
            return Ok(Some(Resolved { secret: Arc::new(Zeroizing::new(k.secret.clone())), principal }));
        }
        let now = now_ms();
        if self.unknown_keys.fresh(id).is_some() {
            return Ok(None);
        }
        let CachedKey { record, caps, secret } = match self.cached_keys.fresh(id) {
            Some(hit) => hit,
            None => match self.load(id).await? {
                Some(loaded) => loaded,
                None => return Ok(None),
            },
        };
        if record.refused_at(now) {
            return Ok(None);
        }
        let principal = Principal::User { name: record.user.clone(), key_id: id.to_owned(), caps };
        Ok(Some(Resolved { secret, principal }))
    }

    /// Reads the key and its user from the store, opening the secret unless the cached one
    /// was wrapped the same way; caches the result.
    async fn load(&self, id: &str) -> Result<Option<CachedKey>> {
        let Some(record) = self.meta.access_key(id).await? else {
            self.cached_keys.remove(id);
            self.unknown_keys.put(id.to_owned(), ());
            return Ok(None);
        };
        let Some(user) = self.meta.user(&record.user).await? else {
            self.cached_keys.remove(id);
            self.unknown_keys.put(id.to_owned(), ());
            return Ok(None);
        };
        let known = self.cached_keys.any(id).filter(|k| k.record.secret == record.secret).map(|k| k.secret);
        let secret = match known {
            Some(s) => s,
            None => match open_secret(self.keys.as_ref(), &record).await {
                Ok(s) => Arc::new(s),
                // A destroyed KEK: the key can never be used again.
                Err(KeyError::Destroyed(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        let entry = CachedKey { record, caps: user.caps, secret };
        self.cached_keys.put(id.to_owned(), entry.clone());
        Ok(Some(entry))
    }

    /// The secret of key `id` for signature checks; `None` for an unknown, disabled or expired
    /// key.
    pub(crate) async fn secret(&self, id: &str) -> Result<Option<Secret>> {
        Ok(self.resolve(id).await?.map(|r| Secret(Zeroizing::new(r.secret.as_str().to_owned()))))
    }

    /// Who signed the request. A key refused since its signature was checked is denied.
    pub(crate) async fn principal(&self, caller: &Caller) -> Result<Principal> {
        match &caller.access_key {
            None => Ok(Principal::Anonymous),
            Some(id) => match self.resolve(id).await? {
                Some(r) => Ok(r.principal),
                None => Err(ErrorKind::AccessDenied(crate::access::Denial::Anonymous).into()),
            },
        }
    }

    /// What `principal` was granted on `bucket`: everything for a root key; a user's stored
    /// grant and the configuration's, together.
    pub(crate) async fn granted(&self, principal: &Principal, bucket: &BucketRecord) -> Result<Perms> {
        let (name, key_id) = match principal {
            Principal::Root { .. } => return Ok(Perms::ALL),
            Principal::Anonymous | Principal::Admin { .. } => return Ok(Perms::default()),
            Principal::User { name, key_id, .. } => (name, key_id),
        };
        let configured = self
            .configured
            .get(key_id)
            .and_then(|k| k.user.as_ref())
            .map_or_else(Perms::default, |u| u.granted_on(&bucket.name));
        let cache_key = (bucket.uid, name.clone());
        let stored = if let Some(p) = self.cached_grants.fresh(&cache_key) {
            p
        } else {
            let p = self.meta.grant(bucket.uid, name).await?;
            self.cached_grants.put(cache_key, p);
            p
        };
        Ok(stored.union(configured))
    }

    /// Those of `buckets` that `principal` holds any permission on (all of them for a root
    /// key): one read of the stored grants rather than one per bucket, so a user's ListBuckets
    /// costs the same for ten buckets as for ten thousand (and never churns the grant cache).
    pub(crate) async fn holding_any(
        &self,
        principal: &Principal,
        buckets: Vec<BucketRecord>,
    ) -> Result<Vec<BucketRecord>> {
        let (name, key_id) = match principal {
            Principal::Root { .. } => return Ok(buckets),
            Principal::Anonymous | Principal::Admin { .. } => return Ok(Vec::new()),
            Principal::User { name, key_id, .. } => (name, key_id),
        };
        let stored: std::collections::HashSet<BucketUid> = self
            .meta
            .grants()
            .await?
            .into_iter()
            .filter(|(_, user, perms)| user == name && !perms.is_empty())
            .map(|(bucket, ..)| bucket)
            .collect();
        let configured = self.configured.get(key_id).and_then(|k| k.user.as_ref());
        Ok(buckets
            .into_iter()
            .filter(|b| stored.contains(&b.uid) || configured.is_some_and(|u| !u.granted_on(&b.name).is_empty()))
            .collect())
    }

    /// The configured users' grants on `bucket` (user, permissions).
    pub(crate) fn configured_grants_on(&self, bucket: &BucketName) -> Vec<(String, Perms)> {
        let mut out: Vec<(String, Perms)> = Vec::new();
        for user in self.configured.values().filter_map(|k| k.user.as_ref()) {
            let perms = user.granted_on(bucket);
            match out.iter_mut().find(|(u, _)| u == user.name.as_str()) {
                Some((_, held)) => *held = held.union(perms),
                None if !perms.is_empty() => out.push((user.name.to_string(), perms)),
                None => {}
            }
        }
        out
    }
}

/// The binding an access key's secret is wrapped under.
pub(crate) fn secret_binding(id: &str) -> KeyBinding<'_> {
    KeyBinding::new(BucketUid([0; 16]), VersionUid(SECRET_PURPOSE), id)
}

/// The 40-character secret a key's material gives (URL-safe base64 of 30 of its bytes).
fn derive_secret(material: &DataKey) -> Zeroizing<String> {
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&material.expose()[..30]))
}

async fn open_secret(
    keys: &dyn KeyProvider,
    record: &AccessKeyRecord,
) -> std::result::Result<Zeroizing<String>, KeyError> {
    let material = keys.unwrap(&record.secret, secret_binding(&record.id)).await?;
    Ok(derive_secret(&material))
}

/// A new access key for `user`: its record (the secret wrapped under the default KEK) and
/// the secret, to show once.
pub(crate) async fn issue_key(
    keys: &dyn KeyProvider,
    user: UserName,
    name: Option<String>,
    expires_ms: Option<i64>,
) -> Result<(AccessKeyRecord, Secret)> {
    let random: [u8; 18] = random_array().map_err(|_| ErrorKind::internal("drawing a random key id"))?;
    let id: String = "SV".chars().chain(random.iter().map(|b| char::from(ID_ALPHABET[usize::from(b & 31)]))).collect();
    let material = DataKey::generate()?;
    let secret = keys.wrap(&material, &keys.kek_for(None), secret_binding(&id)).await?;
    let record = AccessKeyRecord { id, user, name, secret, created_ms: now_ms(), expires_ms, disabled: false };
    Ok((record, Secret(derive_secret(&material))))
}

/// What deciding on one bucket needs, loaded once (DeleteObjects decides per key with it).
pub(crate) struct BucketGate {
    rec: BucketRecord,
    granted: Perms,
    access: Arc<BucketAccess>,
    public_allowed: bool,
}

impl BucketGate {
    /// Allows `action` on the bucket (`key`: on that object) or refuses.
    pub(crate) fn permit(
        &self,
        principal: &Principal,
        action: Action,
        key: Option<&str>,
        request: &RequestFacts,
    ) -> Result<Permit> {
        let resource = match key.filter(|_| action.on_object()) {
            Some(k) => format!("arn:aws:s3:::{}/{k}", self.rec.name),
            None => format!("arn:aws:s3:::{}", self.rec.name),
        };
        let facts = BucketFacts {
            granted: self.granted,
            policy: self.access.policy.as_ref(),
            resource: &resource,
            request,
            public_allowed: self.public_allowed,
        };
        match authorize(principal, action, Target::Bucket(facts)) {
            Decision::Allow => Ok(Permit {
                bucket: self.rec.clone(),
                versioning: self.access.versioning,
                lifecycle: self.access.lifecycle.clone(),
                etag_mode: self.access.etag_mode,
            }),
            Decision::Deny(why) => Err(ErrorKind::AccessDenied(why).into()),
        }
    }
}

impl ObjectService {
    /// The CORS rules of the bucket named `bucket` through the access cache (a change is seen
    /// within its TTL), for a browser's request; none for a bucket that does not exist, so a
    /// preflight tells nothing of which buckets do.
    pub(crate) async fn cors_for_browser(&self, bucket: &str) -> Result<Option<Arc<crate::model::cors::CorsConfig>>> {
        let Ok(name) = BucketName::parse(bucket) else { return Ok(None) };
        let Some(rec) = self.meta.bucket(&name).await? else { return Ok(None) };
        Ok(self.access.bucket_access(&rec).await?.cors.clone())
    }

    /// What deciding on the bucket named `bucket` for `principal` needs. A bucket that does
    /// not exist is `NoSuchBucket` for everyone (as on S3); whether a key exists in a bucket
    /// is told only to principals allowed to read it.
    pub(crate) async fn bucket_gate(&self, principal: &Principal, bucket: &str) -> Result<BucketGate> {
        let name = BucketName::parse(bucket).map_err(|_| ErrorKind::NoSuchBucket)?;
        let rec = self.meta.bucket(&name).await?.ok_or(ErrorKind::NoSuchBucket)?;
        let granted = self.access.granted(principal, &rec).await?;
        let access = self.access.bucket_access(&rec).await?;
        let restricted = access.block.is_some_and(|b| b.restrict_public_buckets);
        let public_allowed = !self.config.block_public_access && !restricted;
        Ok(BucketGate { rec, granted, access, public_allowed })
    }

    /// Allows `principal` to do `action` on the bucket named `bucket` (`key`: on that object),
    /// or refuses: the only way to a [`Permit`].
    pub(crate) async fn permit(
        &self,
        principal: &Principal,
        action: Action,
        bucket: &str,
        key: Option<&str>,
        request: &RequestFacts,
    ) -> Result<Permit> {
        self.bucket_gate(principal, bucket).await?.permit(principal, action, key, request)
    }

    /// Allows `principal` to create a bucket under `policy`, or refuses.
    pub(crate) fn may_create(principal: &Principal, policy: &str) -> Result<()> {
        match authorize(principal, Action::CreateBucket, Target::NewBucket { policy }) {
            Decision::Allow => Ok(()),
            Decision::Deny(why) => Err(ErrorKind::AccessDenied(why).into()),
        }
    }

    /// The buckets `principal` may see in ListBuckets: every bucket for a root key, those a
    /// user holds any permission on; anonymous requests are refused.
    pub(crate) async fn visible_buckets(&self, principal: &Principal) -> Result<Vec<BucketRecord>> {
        if let Decision::Deny(why) = authorize(principal, Action::ListBuckets, Target::Service) {
            return Err(ErrorKind::AccessDenied(why).into());
        }
        let all = self.meta.buckets().await?;
        self.access.holding_any(principal, all).await
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
