//! `souverain admin user|key|token …` and `admin bucket allow|deny|grants`: users, their access keys
//! and per-bucket grants through the admin API (docs/access-control.md).

use clap::Subcommand;
use http::Method;

use super::cli::AdminTarget;
use super::client::encode_segment;
use crate::model::parse_day;

/// `admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user (no access key yet: `admin key create`).
    Create {
        /// The name (letters, digits, `. _ @ + = , -`).
        name: String,
        /// A longer name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// The user may create buckets (and owns those).
        #[arg(long)]
        create_buckets: bool,
        /// A residency policy the user's new buckets may use (repeat; default any).
        #[arg(long = "policy")]
        policies: Vec<String>,
    },
    /// Lists the users.
    List,
    /// Deletes a user with their access keys and grants.
    Delete {
        /// The name.
        name: String,
    },
}

/// `admin key …` (access keys; `admin keys` is the key-encryption keys).
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Creates an access key for a user and prints its secret, once.
    Create {
        /// The user.
        user: String,
        /// A label (which application uses it).
        #[arg(long)]
        name: Option<String>,
        /// Refused from this day on (`YYYY-MM-DD`, UTC midnight).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Lists access keys (never their secrets).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
    },
    /// Refuses the key from now on (every gateway within seconds) until enabled again.
    Disable {
        /// The access key id.
        id: String,
    },
    /// Accepts a disabled key again.
    Enable {
        /// The access key id.
        id: String,
    },
    /// Deletes the key.
    Delete {
        /// The access key id.
        id: String,
    },
}

/// `admin token …`: admin tokens with roles.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates an admin token and prints it, once. Roles: `viewer` (read only), `residency`
    /// (catalog, policies, bindings), `keys` (rotation, bucket KEKs, shredding), `users`
    /// (users, access keys, grants), `admin` (all, and tokens).
    Create {
        /// Its name: the audit log's actor for what it changes.
        name: String,
        /// Its role.
        #[arg(long)]
        role: String,
    },
    /// Lists the admin tokens (the configuration's and the API's; never the tokens).
    List,
    /// Deletes a token created through the API.
    Delete {
        /// Its name.
        name: String,
    },
}

/// `admin bucket allow|deny`: the permissions to add or remove.
#[derive(Debug, Clone, clap::Args)]
pub struct GrantArgs {
    /// The bucket.
    pub bucket: String,
    /// The user.
    pub user: String,
    /// `read`, `write`, `owner`, comma separated.
    pub perms: String,
}

fn post(admin: &AdminTarget, path: &str, body: &serde_json::Value) -> Result<bool, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    println!("{}", admin.call(Method::POST, path, true, Some(body))?.trim_end());
    Ok(true)
}

fn delete(admin: &AdminTarget, path: &str) -> Result<bool, String> {
    println!("{}", admin.call(Method::DELETE, path, true, None)?.trim_end());
    Ok(true)
}

/// `admin user create|list|delete`.
pub fn user(admin: &AdminTarget, cmd: UserCommand) -> Result<bool, String> {
    match cmd {
        UserCommand::Create { name, display_name, create_buckets, policies } => {
            let policies = (!policies.is_empty()).then_some(policies);
            let body = serde_json::json!({
                "name": name, "display_name": display_name, "create_buckets": create_buckets, "policies": policies,
            });
            post(admin, "/admin/v1/users", &body)
        }
        UserCommand::List => admin.show("/admin/v1/users", true),
        UserCommand::Delete { name } => delete(admin, &format!("/admin/v1/users/{}", encode_segment(&name))),
    }
}

/// `admin key create|list|disable|enable|delete`.
pub fn key(admin: &AdminTarget, cmd: KeyCommand) -> Result<bool, String> {
    match cmd {
        KeyCommand::Create { user, name, expires } => {
            let expires_ms = match expires {
                None => None,
                Some(day) => {
                    let date = parse_day(&day).ok_or_else(|| format!("--expires {day:?}: expected YYYY-MM-DD"))?;
                    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
                }
            };
            post(
                admin,
                "/admin/v1/access-keys",
                &serde_json::json!({ "user": user, "name": name, "expires_ms": expires_ms }),
            )
        }
        KeyCommand::List { user: None } => admin.show("/admin/v1/access-keys", true),
        KeyCommand::List { user: Some(u) } => {
            admin.show(&format!("/admin/v1/access-keys?user={}", encode_segment(&u)), true)
        }
        KeyCommand::Disable { id } => {
            post(admin, &format!("/admin/v1/access-keys/{}/disable", encode_segment(&id)), &serde_json::json!({}))
        }
        KeyCommand::Enable { id } => {
            post(admin, &format!("/admin/v1/access-keys/{}/enable", encode_segment(&id)), &serde_json::json!({}))
        }
        KeyCommand::Delete { id } => delete(admin, &format!("/admin/v1/access-keys/{}", encode_segment(&id))),
    }
}

/// `admin token create|list|delete`.
pub fn token(admin: &AdminTarget, cmd: TokenCommand) -> Result<bool, String> {
    match cmd {
        TokenCommand::Create { name, role } => {
            post(admin, "/admin/v1/tokens", &serde_json::json!({ "name": name, "role": role }))
        }
        TokenCommand::List => admin.show("/admin/v1/tokens", true),
        TokenCommand::Delete { name } => delete(admin, &format!("/admin/v1/tokens/{}", encode_segment(&name))),
    }
}

/// `admin bucket allow|deny`: adds or removes a user's permissions in a bucket.
pub fn grant(admin: &AdminTarget, args: &GrantArgs, allow: bool) -> Result<bool, String> {
    let path = format!("/admin/v1/buckets/{}/grants", encode_segment(&args.bucket));
    let field = if allow { "allow" } else { "deny" };
    post(admin, &path, &serde_json::json!({ "user": args.user, field: args.perms }))
}

/// `admin bucket grants`: who may do what in a bucket.
pub fn grants(admin: &AdminTarget, bucket: &str) -> Result<bool, String> {
    admin.show(&format!("/admin/v1/buckets/{}/grants", encode_segment(bucket)), true)
}
