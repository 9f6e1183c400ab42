//! Users, access keys and grants through the admin API (docs/access-control.md). Every change
//! is applied with its audit record in one write, and forgets this gateway's access cache so
//! it holds here at once (other gateways re-read within `ACCESS_CACHE_TTL`).

use serde::Serialize;

use super::AdminOps;
use crate::access::{Action, Decision, Principal, Target, authorize};
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::access::{
    AccessKeyRecord, AdminRole, AdminTokenRecord, Perms, UserCaps, UserName, UserRecord, token_sha256,
};
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

/// An admin token as the API shows it (never the token).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: &'static str,
    /// `config` or `api`.
    pub source: &'static str,
    /// Created, ms since the epoch (API tokens).
    pub created_ms: Option<i64>,
}

/// A new admin token: the only time it is shown.
#[derive(Serialize)]
pub struct NewToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: &'static str,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

fn user_name(name: &str) -> Result<UserName> {
    UserName::parse(name).map_err(|e| ErrorKind::InvalidArgument(e.to_string()).into())
}

impl AdminOps {
    /// Applies an access change with its audit record; `missing` when it changed nothing.
    pub(super) async fn apply_access(
        &self,
        actor: &str,
        change: AuditedChange,
        action: &str,
        detail: serde_json::Value,
        missing: ErrorKind,
    ) -> Result<()> {
        let applied = self.meta.apply_change(change, AuditEntry::new(actor, action, &detail)).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| missing.into())
    }

    /// Creates a user; `Conflict` if one of that name exists.
    pub async fn create_user(
        &self,
        actor: &str,
        name: &str,
        display_name: Option<String>,
        caps: UserCaps,
    ) -> Result<UserView> {
        let name = user_name(name)?;
        if let Some(unknown) =
            caps.policies.iter().flatten().find(|p| !self.state.residency().policies.contains_key(*p))
        {
            return Err(ErrorKind::InvalidArgument(format!("no residency policy {unknown}")).into());
        }
        let rec = UserRecord { name: name.clone(), display_name, caps, created_ms: now_ms() };
        let detail = serde_json::json!({ "user": name, "caps": rec.caps });
        let taken = ErrorKind::Conflict(format!("user {name} exists"));
        self.apply_access(actor, AuditedChange::CreateUser(rec.clone()), "user.create", detail, taken).await?;
        Ok(rec.into())
    }

    /// Every stored user.
    pub async fn users(&self) -> Result<Vec<UserView>> {
        Ok(self.meta.users().await?.into_iter().map(UserView::from).collect())
    }

    /// Deletes a user with their keys and grants.
    pub async fn delete_user(&self, actor: &str, name: &str) -> Result<()> {
        let name = user_name(name)?;
        let detail = serde_json::json!({ "user": name });
        let missing = ErrorKind::InvalidArgument(format!("no user {name}"));
        self.apply_access(actor, AuditedChange::DeleteUser(name), "user.delete", detail, missing).await
    }

    /// A new access key for a stored user; its secret is in the answer and nowhere else.
    pub async fn create_access_key(
        &self,
        actor: &str,
        user: &str,
        name: Option<String>,
        expires_ms: Option<i64>,
    ) -> Result<NewKey> {
        let user = user_name(user)?;
        if expires_ms.is_some_and(|e| e <= now_ms()) {
            return Err(ErrorKind::InvalidArgument("the expiry is in the past".into()).into());
        }
        let (record, secret) = issue_key(self.keys.as_ref(), user.clone(), name, expires_ms).await?;
        let detail = serde_json::json!({ "user": user, "key": record.id, "expires_ms": expires_ms });
        let missing = ErrorKind::InvalidArgument(format!("no user {user}"));
        self.apply_access(actor, AuditedChange::PutAccessKey(record.clone()), "key.create", detail, missing).await?;
        Ok(NewKey { key: KeyView::from(&record), secret: secret.expose().to_owned() })
    }

    /// The access keys of `user`, or of everyone.
    pub async fn access_keys(&self, user: Option<&str>) -> Result<Vec<KeyView>> {
        let user = user.map(user_name).transpose()?;
        Ok(self.meta.access_keys(user.as_ref()).await?.iter().map(KeyView::from).collect())
    }

    /// Disables or enables a key.
    pub async fn set_key_disabled(&self, actor: &str, id: &str, disabled: bool) -> Result<KeyView> {
        let action = if disabled { "key.disable" } else { "key.enable" };
        let detail = serde_json::json!({ "key": id });
        let missing = || ErrorKind::InvalidArgument(format!("no key {id}"));
        let change = AuditedChange::SetAccessKeyDisabled { id: id.to_owned(), disabled };
        self.apply_access(actor, change, action, detail, missing()).await?;
        let rec = self.meta.access_key(id).await?.ok_or_else(missing)?;
        Ok(KeyView::from(&rec))
    }

    /// Deletes a key.
    pub async fn delete_access_key(&self, actor: &str, id: &str) -> Result<()> {
        let detail = serde_json::json!({ "key": id });
        let missing = ErrorKind::InvalidArgument(format!("no key {id}"));
        self.apply_access(actor, AuditedChange::DeleteAccessKey(id.to_owned()), "key.delete", detail, missing).await
    }

    /// Adds (`allow`) or removes permissions of `user` in `bucket`; the permissions held after.
    pub async fn change_grant(
        &self,
        actor: &str,
        bucket: &str,
        user: &str,
        perms: Perms,
        allow: bool,
    ) -> Result<GrantView> {
        let rec = self.existing_bucket(bucket).await?;
        let user = user_name(user)?;
        if self.meta.user(&user).await?.is_none() && !self.access.configured_user(&user) {
            return Err(ErrorKind::InvalidArgument(format!("no user {user}")).into());
        }
        let detail = serde_json::json!({ "bucket": bucket, "user": user, "allow": allow, "perms": perms.to_string() });
        let action = if allow { "grant.allow" } else { "grant.deny" };
        let (add, remove) = if allow { (perms, Perms::default()) } else { (Perms::default(), perms) };
        let change = AuditedChange::Grant { bucket: rec.name, user: user.clone(), add, remove };
        self.apply_access(actor, change, action, detail, ErrorKind::NoSuchBucket).await?;
        let after = self.meta.grant(rec.uid, &user).await?;
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

    /// The principal a bearer token stands for: a configured token or one created through the
    /// API (its SHA-256 compared in constant time with each); `None` for any other.
    pub async fn admin_principal(&self, bearer: &str) -> Result<Option<Principal>> {
        self.admin_principal_by_hash(&token_sha256(bearer)).await
    }

    /// [`Self::admin_principal`] of the token whose SHA-256 is `hash` (a console session keeps
    /// only that).
    pub(crate) async fn admin_principal_by_hash(&self, hash: &[u8; 32]) -> Result<Option<Principal>> {
        use subtle::ConstantTimeEq as _;
        let mut found = None;
        for t in &self.configured_tokens {
            if bool::from(t.sha256.ct_eq(hash)) {
                found = Some(Principal::Admin { name: t.name.clone(), role: t.role });
            }
        }
        if found.is_none() {
            for t in self.meta.admin_tokens().await? {
                if bool::from(t.sha256.ct_eq(hash)) {
                    found = Some(Principal::Admin { name: t.name.to_string(), role: t.role });
                }
            }
        }
        Ok(found)
    }

    /// Whether `principal` may take an admin route of kind `action` (the one `authorize`).
    pub fn admin_decision(principal: &Principal, action: Action) -> Decision {
        authorize(principal, action, Target::Service)
    }

    /// A new admin token with `role`; the token is in the answer and nowhere else (the store
    /// keeps its SHA-256).
    pub async fn create_admin_token(&self, actor: &str, name: &str, role: AdminRole) -> Result<NewToken> {
        let name = user_name(name)?;
        if self.configured_tokens.iter().any(|t| t.name == name.as_str()) {
            return Err(ErrorKind::Conflict(format!("token {name} exists in the configuration")).into());
        }
        let random: [u8; 32] =
            crate::model::random_array().map_err(|_| ErrorKind::internal("drawing a random token"))?;
        let token = format!("svat_{}", hex::encode(random));
        let rec = AdminTokenRecord { name: name.clone(), role, sha256: token_sha256(&token), created_ms: now_ms() };
        let detail = serde_json::json!({ "token": name, "role": role.as_str() });
        let exists = ErrorKind::Conflict(format!("token {name} exists"));
        self.apply_access(actor, AuditedChange::CreateAdminToken(rec), "token.create", detail, exists).await?;
        Ok(NewToken { name: name.to_string(), role: role.as_str(), token })
    }

    /// Every admin token: the configuration's and the API's.
    pub async fn admin_tokens(&self) -> Result<Vec<TokenView>> {
        let mut out: Vec<TokenView> = self
            .configured_tokens
            .iter()
            .map(|t| TokenView { name: t.name.clone(), role: t.role.as_str(), source: "config", created_ms: None })
            .collect();
        for t in self.meta.admin_tokens().await? {
            let view = TokenView {
                name: t.name.to_string(),
                role: t.role.as_str(),
                source: "api",
                created_ms: Some(t.created_ms),
            };
            out.push(view);
        }
        Ok(out)
    }

    /// Deletes an admin token created through the API (refused at once on every gateway).
    pub async fn delete_admin_token(&self, actor: &str, name: &str) -> Result<()> {
        let name = user_name(name)?;
        let detail = serde_json::json!({ "token": name });
        let missing = ErrorKind::InvalidArgument(format!("no API token {name}"));
        self.apply_access(actor, AuditedChange::DeleteAdminToken(name), "token.delete", detail, missing).await
    }
}
