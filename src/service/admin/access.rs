//! Users, access keys and grants through the admin API (docs/access-control.md). Every change
//! is applied with its audit record in one write, and forgets this gateway's access cache so
//! it holds here at once (other gateways re-read within `ACCESS_CACHE_TTL`).

use serde::Serialize;

use super::{ADMIN, AdminOps};
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::access::{AccessKeyRecord, Perms, UserCaps, UserName, UserRecord};
use crate::model::audit::AuditEntry;
use crate::service::access::issue_key;
use crate::service::now_ms;

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// The name.
    pub name: String,
    /// A longer name for people.
    pub display_name: Option<String>,
    /// May create buckets.
    pub create_buckets: bool,
    /// The residency policies their buckets may use (`None`: any).
    pub policies: Option<Vec<String>>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            name: u.name.to_string(),
            display_name: u.display_name,
            create_buckets: u.caps.create_buckets,
            policies: u.caps.policies,
            created_ms: u.created_ms,
        }
    }
}

/// An access key as the API shows it: never its secret (but once, at creation).
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    /// The access key id.
    pub id: String,
    /// Whose it is.
    pub user: String,
    /// Its label.
    pub name: Option<String>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Refused from then on, ms since the epoch.
    pub expires_ms: Option<i64>,
    /// `active`, `disabled` or `expired`.
    pub state: &'static str,
}

impl From<&AccessKeyRecord> for KeyView {
    fn from(k: &AccessKeyRecord) -> Self {
        let state = if k.disabled {
            "disabled"
        } else if k.refused_at(now_ms()) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: k.id.clone(),
            user: k.user.to_string(),
            name: k.name.clone(),
            created_ms: k.created_ms,
            expires_ms: k.expires_ms,
            state,
        }
    }
}

/// A new key with its secret: the only time the secret is shown.
#[derive(Serialize)]
pub struct NewKey {
    /// The key.
    #[serde(flatten)]
    pub key: KeyView,
    /// The secret access key.
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey").field("key", &self.key).finish_non_exhaustive()
    }
}

/// A user's permissions in a bucket.
#[derive(Debug, Clone, Serialize)]
pub struct GrantView {
    /// The user.
    pub user: String,
    /// `read,write,owner`, or a part of it.
    pub perms: String,
}

fn user_name(name: &str) -> Result<UserName> {
    UserName::parse(name).map_err(|e| ErrorKind::InvalidArgument(e.to_string()).into())
}

impl AdminOps {
    /// Applies an access change with its audit record; `missing` when it changed nothing.
    async fn apply_access(
        &self,
        change: AuditedChange,
        action: &str,
        detail: serde_json::Value,
        missing: ErrorKind,
    ) -> Result<()> {
        let applied = self.meta.apply_change(change, AuditEntry::new(ADMIN, action, &detail)).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| missing.into())
    }

    /// Creates a user; `Conflict` if one of that name exists.
    pub async fn create_user(&self, name: &str, display_name: Option<String>, caps: UserCaps) -> Result<UserView> {
        let name = user_name(name)?;
        if let Some(unknown) =
            caps.policies.iter().flatten().find(|p| !self.state.residency().policies.contains_key(*p))
        {
            return Err(ErrorKind::InvalidArgument(format!("no residency policy {unknown}")).into());
        }
        let rec = UserRecord { name: name.clone(), display_name, caps, created_ms: now_ms() };
        let detail = serde_json::json!({ "user": name, "caps": rec.caps });
        let taken = ErrorKind::Conflict(format!("user {name} exists"));
        self.apply_access(AuditedChange::CreateUser(rec.clone()), "user.create", detail, taken).await?;
        Ok(rec.into())
    }

    /// Every stored user.
    pub async fn users(&self) -> Result<Vec<UserView>> {
        Ok(self.meta.users().await?.into_iter().map(UserView::from).collect())
    }

    /// Deletes a user with their keys and grants.
    pub async fn delete_user(&self, name: &str) -> Result<()> {
        let name = user_name(name)?;
        let detail = serde_json::json!({ "user": name });
        let missing = ErrorKind::InvalidArgument(format!("no user {name}"));
        self.apply_access(AuditedChange::DeleteUser(name), "user.delete", detail, missing).await
    }

    /// A new access key for a stored user; its secret is in the answer and nowhere else.
    pub async fn create_access_key(&self, user: &str, name: Option<String>, expires_ms: Option<i64>) -> Result<NewKey> {
        let user = user_name(user)?;
        if expires_ms.is_some_and(|e| e <= now_ms()) {
            return Err(ErrorKind::InvalidArgument("the expiry is in the past".into()).into());
        }
        let (record, secret) = issue_key(self.keys.as_ref(), user.clone(), name, expires_ms).await?;
        let detail = serde_json::json!({ "user": user, "key": record.id, "expires_ms": expires_ms });
        let missing = ErrorKind::InvalidArgument(format!("no user {user}"));
        self.apply_access(AuditedChange::PutAccessKey(record.clone()), "key.create", detail, missing).await?;
        Ok(NewKey { key: KeyView::from(&record), secret: secret.expose().to_owned() })
    }

    /// The access keys of `user`, or of everyone.
    pub async fn access_keys(&self, user: Option<&str>) -> Result<Vec<KeyView>> {
        let user = user.map(user_name).transpose()?;
        Ok(self.meta.access_keys(user.as_ref()).await?.iter().map(KeyView::from).collect())
    }

    /// Disables or enables a key.
    pub async fn set_key_disabled(&self, id: &str, disabled: bool) -> Result<KeyView> {
        let mut rec =
            self.meta.access_key(id).await?.ok_or_else(|| ErrorKind::InvalidArgument(format!("no key {id}")))?;
        rec.disabled = disabled;
        let action = if disabled { "key.disable" } else { "key.enable" };
        let detail = serde_json::json!({ "user": rec.user, "key": id });
        let missing = ErrorKind::InvalidArgument(format!("no key {id}"));
        self.apply_access(AuditedChange::PutAccessKey(rec.clone()), action, detail, missing).await?;
        Ok(KeyView::from(&rec))
    }

    /// Deletes a key.
    pub async fn delete_access_key(&self, id: &str) -> Result<()> {
        let detail = serde_json::json!({ "key": id });
        let missing = ErrorKind::InvalidArgument(format!("no key {id}"));
        self.apply_access(AuditedChange::DeleteAccessKey(id.to_owned()), "key.delete", detail, missing).await
    }

    /// Adds (`allow`) or removes permissions of `user` in `bucket`; the permissions held after.
    pub async fn change_grant(&self, bucket: &str, user: &str, perms: Perms, allow: bool) -> Result<GrantView> {
        let rec = self.existing_bucket(bucket).await?;
        let user = user_name(user)?;
        if self.meta.user(&user).await?.is_none() && !self.access.configured_user(&user) {
            return Err(ErrorKind::InvalidArgument(format!("no user {user}")).into());
        }
        let held = self.meta.grant(rec.uid, &user).await?;
        let after = if allow { held.union(perms) } else { held.without(perms) };
        let detail = serde_json::json!({ "bucket": bucket, "user": user, "before": held.to_string(), "after": after.to_string() });
        let action = if allow { "grant.allow" } else { "grant.deny" };
        let change = AuditedChange::Grant { bucket: rec.name, user: user.clone(), perms: after };
        self.apply_access(change, action, detail, ErrorKind::NoSuchBucket).await?;
        Ok(GrantView { user: user.to_string(), perms: after.to_string() })
    }

    /// The grants stored on `bucket` (the configuration's are in its file).
    pub async fn bucket_grants(&self, bucket: &str) -> Result<Vec<GrantView>> {
        let rec = self.existing_bucket(bucket).await?;
        let grants = self.meta.grants().await?;
        Ok(grants
            .into_iter()
            .filter(|(b, ..)| *b == rec.uid)
            .map(|(_, user, perms)| GrantView { user: user.to_string(), perms: perms.to_string() })
            .collect())
    }
}
