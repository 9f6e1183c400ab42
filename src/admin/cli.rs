//! `souverain admin …`: the command-line client of the admin API (argument types and what
//! each command does). Output is the API's JSON, or a table where one reads better; errors are
//! one line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use http::Method;

use super::client::{encode_segment, request};
use crate::model::audit::{parse_lines, verify};

/// How the CLI reaches the admin listener.
#[derive(Debug, Clone)]
pub struct AdminTarget {
    /// `http://host:port` or `https://…`.
    pub url: String,
    /// A file holding the bearer token (else `SOUVERAIN_ADMIN_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// A PEM CA to trust for an HTTPS admin listener.
    pub ca_file: Option<PathBuf>,
}

/// `admin provider …`.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Lists the catalog: attributes and reachability of every provider.
    List {
        /// The API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Changes a provider's residency attributes; replicas that then break a policy are
    /// evacuated. Example: `--set '{"jurisdictions":["DE","US"],"exposures":["us-cloud-act"]}'`
    /// or `--set '{"retired":true}'`.
    Set {
        /// The provider id.
        id: String,
        /// The fields to change, as JSON (country, operator, jurisdictions, exposures,
        /// independence_group, certifications, retired).
        #[arg(long)]
        set: String,
    },
    /// Checks that a configured provider works as a backend: access, PUT, GET, ranged GET,
    /// listing, multipart and DELETE on temporary objects. Exits non-zero if it does not.
    Probe {
        /// The provider id.
        id: String,
        /// The configuration file that defines it.
        #[arg(long)]
        config: PathBuf,
    },
}

/// `admin policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Lists the policies in force.
    List,
    /// Creates or replaces the policies of a TOML file (`[[policy]]` sections, as in the
    /// config file). A policy that would leave a bound bucket unplaceable is refused.
    Apply {
        /// The file.
        #[arg(short, long)]
        file: PathBuf,
    },
}

/// `admin bucket …`.
#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// Binds a bucket to a policy (its objects move where the new policy requires).
    Bind {
        /// The bucket.
        bucket: String,
        /// The policy id.
        policy: String,
    },
    /// Gives a bucket its own key-encryption key (created in the KMS if missing), so it can be
    /// crypto-shredded on its own; its existing data keys are rewrapped by the rotation job.
    Kek {
        /// The bucket.
        bucket: String,
        /// The transit key's name.
        kek: String,
    },
    /// Gives a user permissions in a bucket: `read` (GET, HEAD, listings), `write` (PUT,
    /// multipart, copy destination, DELETE), `owner` (deleting the bucket, its settings).
    Allow(super::cli_access::GrantArgs),
    /// Takes permissions of a user in a bucket away.
    Deny(super::cli_access::GrantArgs),
    /// Who was granted what in a bucket (through the API; the configuration's are in its file).
    Grants {
        /// The bucket.
        bucket: String,
    },
    /// Shows, or sets, how the bucket's new objects get their ETag: `md5` (the default, as
    /// S3) or `fast` (BLAKE3, about a tenth of MD5's CPU, for applications that never compare
    /// an ETag with an MD5; docs/compatibility.md).
    Etag {
        /// The bucket.
        bucket: String,
        /// `md5` or `fast`; without it, the current mode.
        mode: Option<crate::model::EtagMode>,
    },
}

/// `admin keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The default KEK, the buckets with their own, the destroyed ones.
    List,
    /// Adds a new version to a KEK (every KEK in use without `--kek`) and rewraps every data key
    /// under it in the background; provider data is not touched.
    Rotate {
        /// Only this KEK.
        #[arg(long)]
        kek: Option<String>,
        /// Follow the rotation job until it is done.
        #[arg(long)]
        wait: bool,
    },
    /// Destroys a KEK in the KMS: every object whose data key it wrapped becomes unreadable
    /// everywhere, for ever (crypto-shredding).
    Shred {
        /// The KEK.
        kek: String,
        /// Required: shredding cannot be undone.
        #[arg(long)]
        yes_destroy_data: bool,
    },
}

/// `admin audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Prints the audit log as JSON lines (every record after `--after`).
    Export {
        /// Only records with a higher sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
    /// Verifies the hash chain: of the live log, or of an export with `--file`. Exits non-zero
    /// and names each edited, removed or reordered record.
    Verify {
        /// An exported log (JSON lines) to verify offline.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// `admin meta …`.
#[derive(Debug, Subcommand)]
pub enum MetaCommand {
    /// `souverain meta verify` run by the gateway on the store it holds open (the embedded
    /// RocksDB store cannot be opened by a second process): compares the store with the
    /// replicas and the metadata log at the providers and prints the JSON report; exits
    /// non-zero unless they agree.
    Verify {
        /// Only these providers (repeatable); all when none.
        #[arg(long = "provider")]
        providers: Vec<String>,
        /// Queue a repair for each missing replica, a deletion for each orphan or surplus
        /// copy, and log again what the log lost (recorded in the audit log).
        #[arg(long)]
        repair: bool,
    },
}

/// `admin meta verify [--provider ID]… [--repair]`.
pub fn meta(admin: &AdminTarget, cmd: MetaCommand) -> Result<bool, String> {
    let MetaCommand::Verify { providers, repair } = cmd;
    let mut path = format!("/admin/v1/meta/verify?repair={repair}");
    for p in &providers {
        path.push_str("&provider=");
        path.push_str(&crate::admin::client::encode_segment(p));
    }
    let text = admin.call(Method::POST, &path, true, None)?;
    let answer: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&answer["report"]).map_err(|e| e.to_string())?);
    let clean = answer["clean"] == true;
    if !clean {
        eprintln!("the store and the providers disagree (see above){}", if repair { "; fixes queued" } else { "" });
    }
    Ok(clean)
}

/// `admin jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The evacuation job's state and progress.
    Evacuation {
        /// Follow the job until its pass is done: a progress bar on a terminal, one line per
        /// change otherwise.
        #[arg(long)]
        wait: bool,
    },
    /// The scrubber's current or last pass.
    Scrub {
        /// Follow the pass until it is done.
        #[arg(long)]
        wait: bool,
    },
    /// The key rotation job's state and progress.
    Rotation {
        /// Follow the job until it is done.
        #[arg(long)]
        wait: bool,
    },
    /// The lifecycle job's current or last pass (`moved`: versions it removed).
    Lifecycle {
        /// Follow the pass until it is done.
        #[arg(long)]
        wait: bool,
    },
}

impl AdminTarget {
    fn token(&self) -> Result<String, String> {
        match &self.token_file {
            Some(f) => Ok(std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?.trim().to_owned()),
            None => std::env::var("SOUVERAIN_ADMIN_TOKEN")
                .map_err(|_| "give --token-file or set SOUVERAIN_ADMIN_TOKEN".to_owned()),
        }
    }

    /// One request; the body on 2xx, else an error naming the status and the API's message.
    pub fn call(&self, method: Method, path: &str, with_token: bool, body: Option<Vec<u8>>) -> Result<String, String> {
        let token = if with_token { Some(self.token()?) } else { None };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let (status, text) =
            rt.block_on(request(method, &self.url, path, token.as_deref(), self.ca_file.as_deref(), body))?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(text);
            Err(format!("{status}: {}", message.trim()))
        }
    }

    /// GETs and prints.
    pub fn show(&self, path: &str, with_token: bool) -> Result<bool, String> {
        println!("{}", self.call(Method::GET, path, with_token, None)?.trim_end());
        Ok(true)
    }
}

/// `admin provider list|set`.
pub fn provider(admin: &AdminTarget, cmd: ProviderCommand) -> Result<bool, String> {
    match cmd {
        ProviderCommand::List { json: true } => admin.show("/admin/v1/providers", true),
        ProviderCommand::List { json: false } => {
            let text = admin.call(Method::GET, "/admin/v1/providers", true, None)?;
            let providers: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            println!(
                "{:<20} {:<8} {:<28} {:<16} {:<10} {:<8}",
                "ID", "COUNTRY", "OPERATOR", "JURISDICTIONS", "REACHABLE", "RETIRED"
            );
            for p in providers {
                let list = |v: &serde_json::Value| {
                    v.as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                };
                println!(
                    "{:<20} {:<8} {:<28} {:<16} {:<10} {:<8}",
                    p["id"].as_str().unwrap_or(""),
                    p["country"].as_str().unwrap_or(""),
                    p["operator"].as_str().unwrap_or(""),
                    list(&p["jurisdictions"]),
                    p["reachable"],
                    p["retired"]
                );
            }
            Ok(true)
        }
        ProviderCommand::Set { id, set } => {
            serde_json::from_str::<serde_json::Value>(&set).map_err(|e| format!("--set: invalid JSON: {e}"))?;
            let path = format!("/admin/v1/providers/{}", encode_segment(&id));
            println!("{}", admin.call(Method::PUT, &path, true, Some(set.into_bytes()))?.trim_end());
            Ok(true)
        }
        ProviderCommand::Probe { .. } => Err("provider probe runs locally, not through the API".into()),
    }
}

/// `admin policy list|apply`.
pub fn policy(admin: &AdminTarget, cmd: PolicyCommand) -> Result<bool, String> {
    match cmd {
        PolicyCommand::List => admin.show("/admin/v1/policies", true),
        PolicyCommand::Apply { file } => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct PolicyFile {
                #[serde(rename = "policy")]
                policies: Vec<toml::Value>,
            }
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let parsed: PolicyFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            for p in parsed.policies {
                let id = p.get("id").and_then(|v| v.as_str()).ok_or("a [[policy]] has no id")?.to_owned();
                let body = serde_json::to_vec(&p).map_err(|e| e.to_string())?;
                let path = format!("/admin/v1/policies/{}", encode_segment(&id));
                admin.call(Method::PUT, &path, true, Some(body)).map_err(|e| format!("policy {id}: {e}"))?;
                println!("policy {id}: applied");
            }
            Ok(true)
        }
    }
}

/// `admin bucket bind|kek|allow|deny|grants|etag`.
pub fn bucket(admin: &AdminTarget, cmd: BucketCommand) -> Result<bool, String> {
    let (path, body) = match cmd {
        BucketCommand::Bind { bucket, policy } => {
            (format!("/admin/v1/buckets/{}/policy", encode_segment(&bucket)), serde_json::json!({ "policy": policy }))
        }
        BucketCommand::Kek { bucket, kek } => {
            (format!("/admin/v1/buckets/{}/kek", encode_segment(&bucket)), serde_json::json!({ "kek": kek }))
        }
        BucketCommand::Allow(args) => return super::cli_access::grant(admin, &args, true),
        BucketCommand::Deny(args) => return super::cli_access::grant(admin, &args, false),
        BucketCommand::Grants { bucket } => return super::cli_access::grants(admin, &bucket),
        BucketCommand::Etag { bucket, mode } => {
            let path = format!("/admin/v1/buckets/{}/etag", encode_segment(&bucket));
            match mode {
                None => return admin.show(&path, true),
                Some(mode) => (path, serde_json::json!({ "etag": mode })),
            }
        }
    };
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    println!("{}", admin.call(Method::PUT, &path, true, Some(body))?.trim_end());
    Ok(true)
}

/// `admin keys list|rotate|shred`.
pub fn keys(admin: &AdminTarget, cmd: KeysCommand) -> Result<bool, String> {
    match cmd {
        KeysCommand::List => admin.show("/admin/v1/keys", true),
        KeysCommand::Rotate { kek, wait } => {
            let body = serde_json::to_vec(&serde_json::json!({ "kek": kek })).map_err(|e| e.to_string())?;
            println!("{}", admin.call(Method::POST, "/admin/v1/keys/rotate", true, Some(body))?.trim_end());
            if wait { jobs(admin, &JobsCommand::Rotation { wait: true }) } else { Ok(true) }
        }
        KeysCommand::Shred { yes_destroy_data: false, .. } => {
            Err("shredding destroys the data for ever: add --yes-destroy-data".into())
        }
        KeysCommand::Shred { kek, yes_destroy_data: true } => {
            let path = format!("/admin/v1/keys/{}/shred", encode_segment(&kek));
            println!("{}", admin.call(Method::POST, &path, true, None)?.trim_end());
            Ok(true)
        }
    }
}

/// `admin audit export|verify`.
pub fn audit(admin: &AdminTarget, cmd: AuditCommand) -> Result<bool, String> {
    match cmd {
        AuditCommand::Export { mut after } => {
            let mut out = std::io::stdout().lock();
            loop {
                let page = admin.call(Method::GET, &format!("/admin/v1/audit?after={after}"), true, None)?;
                let records = parse_lines(&page).map_err(|p| p.problem)?;
                let Some(last) = records.last() else { return Ok(true) };
                after = last.seq;
                out.write_all(page.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
        AuditCommand::Verify { file: None } => {
            let text = admin.call(Method::GET, "/admin/v1/audit/verify", true, None)?;
            println!("{}", text.trim_end());
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            Ok(v["intact"] == true)
        }
        AuditCommand::Verify { file: Some(file) } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let records = match parse_lines(&text) {
                Ok(r) => r,
                Err(p) => {
                    println!("line {}: {}", p.line, p.problem);
                    return Ok(false);
                }
            };
            let problems = verify(&records, None);
            for p in &problems {
                println!("line {}: {}", p.line, p.problem);
            }
            if problems.is_empty() {
                println!("{} records, chain intact", records.len());
            }
            Ok(problems.is_empty())
        }
    }
}

/// `admin jobs evacuation [--wait]`.
pub fn jobs(admin: &AdminTarget, cmd: &JobsCommand) -> Result<bool, String> {
    let (path, wait) = match cmd {
        JobsCommand::Evacuation { wait } => ("/admin/v1/jobs/evacuation", *wait),
        JobsCommand::Scrub { wait } => ("/admin/v1/jobs/scrub", *wait),
        JobsCommand::Rotation { wait } => ("/admin/v1/jobs/rotation", *wait),
        JobsCommand::Lifecycle { wait } => ("/admin/v1/jobs/lifecycle", *wait),
    };
    if !wait {
        return admin.show(path, true);
    }
    let terminal = std::io::stdout().is_terminal();
    let mut last_line = String::new();
    loop {
        let job: serde_json::Value =
            serde_json::from_str(&admin.call(Method::GET, path, true, None)?).map_err(|e| e.to_string())?;
        let line = progress_line(&job, terminal);
        if terminal {
            print!("\r{line}");
            let _ = std::io::stdout().flush();
        } else if line != last_line {
            println!("{line}");
        }
        last_line = line;
        if job["state"] == "done" {
            if terminal {
                println!();
            }
            return Ok(job["failed"].as_u64() == Some(0));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One progress line: a bar on a terminal, plain counts otherwise.
fn progress_line(job: &serde_json::Value, bar: bool) -> String {
    let ratio = job["progress"].as_f64().unwrap_or(0.0).clamp(0.0, 1.0);
    let counts = if job["name"] == "scrub" {
        format!(
            "{} {} replicas checked, {} findings",
            job["state"].as_str().unwrap_or("?"),
            job["scanned"],
            job["failed"]
        )
    } else if job["name"] == "rotation" {
        format!(
            "{} {}/{} objects, {} data keys rewrapped",
            job["state"].as_str().unwrap_or("?"),
            job["scanned"],
            job["total"],
            job["moved"]
        )
    } else {
        format!(
            "{} {}/{} objects, {} moved, {} failed",
            job["state"].as_str().unwrap_or("?"),
            job["scanned"],
            job["total"],
            job["moved"],
            job["failed"]
        )
    };
    if bar {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ratio is clamped to 0..=1, so the product is 0..=30"
        )]
        let filled = (ratio.clamp(0.0, 1.0) * 30.0).round() as usize;
        format!("[{}{}] {:>3.0}% {counts}", "#".repeat(filled), " ".repeat(30 - filled), ratio * 100.0)
    } else {
        format!("{:.0}% {counts}", ratio * 100.0)
    }
}
