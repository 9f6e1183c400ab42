//! The `souverain` binary: the composition root. `anyhow` is allowed here only.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use souverain::admin::cli::{
    AuditCommand, BucketCommand, JobsCommand, KeysCommand, MetaCommand as AdminMetaCommand, PolicyCommand,
    ProviderCommand,
};

#[derive(Parser)]
#[command(name = "souverain", version, about = "Sovereign S3 gateway over independent European providers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the gateway.
    Serve {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Validates a configuration file and exits.
    CheckConfig {
        /// The configuration file.
        config: PathBuf,
    },
    /// The metadata store itself (offline: the gateway must not be running on it).
    Meta {
        #[command(subcommand)]
        command: MetaCommand,
    },
    /// Administration (a client of the admin API, except `provider probe`).
    Admin {
        /// The admin listener.
        #[arg(long, global = true, default_value = "http://127.0.0.1:9001")]
        url: String,
        /// A file holding the admin bearer token (else SOUVERAIN_ADMIN_TOKEN).
        #[arg(long, global = true)]
        token_file: Option<PathBuf>,
        /// A PEM CA file to trust for an `https://` admin listener (beside the webpki roots).
        #[arg(long, global = true)]
        ca_file: Option<PathBuf>,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// What `meta rebuild` (and `meta restore`) reads and writes.
#[derive(clap::Args)]
struct RebuildArgs {
    /// The configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Read the log and report what a rebuild would recover, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Read only this provider's log copies (repeatable; default: every provider).
    #[arg(long = "provider", value_name = "ID")]
    providers: Vec<String>,
}

#[derive(Subcommand)]
enum MetaCommand {
    /// Recreates the configured metadata store, which must be empty, from the metadata log at
    /// the providers (after the gateway's disk was lost). Needs the KEK (key file or KMS).
    Rebuild(RebuildArgs),
    /// Restores the configured (empty) metadata store from its continuous backup at the
    /// providers: each bucket's and the catalog's newest checkpoint, then the log written
    /// after it. The same run as `meta rebuild`: the checkpoints are the backup, kept at each
    /// bucket's own placement.
    Restore {
        /// Restore from the providers (the backup's only place; required, so the command says
        /// where it reads).
        #[arg(long, required = true)]
        from_providers: bool,
        #[command(flatten)]
        args: RebuildArgs,
    },
    /// Compares the metadata store with what the providers hold (missing replicas, orphan
    /// streams, the metadata log against the store) and prints the findings (JSON); exits
    /// non-zero unless all agree.
    Verify {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Compare only this provider (repeatable; default: every provider).
        #[arg(long = "provider", value_name = "ID")]
        providers: Vec<String>,
        /// Queue repairs for missing replicas and deletions for orphan and surplus copies
        /// (the gateway's workers carry them out when it runs).
        #[arg(long)]
        repair: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// The provider catalog.
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Residency policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Buckets.
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
    },
    /// Where an object lives: every replica's provider, country, operator, jurisdictions,
    /// certifications, state and whether its policy still allows it.
    Locate {
        /// `bucket/key`.
        object: String,
        /// One version of it (an id ListObjectVersions shows, or `null`); else the current one.
        #[arg(long)]
        version_id: Option<String>,
    },
    /// Placement.
    Placement {
        #[command(subcommand)]
        command: PlacementCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Users (the people and applications that hold access keys).
    User {
        #[command(subcommand)]
        command: souverain::admin::cli_access::UserCommand,
    },
    /// Access keys of users (secrets shown once, at creation).
    Key {
        #[command(subcommand)]
        command: souverain::admin::cli_access::KeyCommand,
    },
    /// Admin tokens with roles (the token shown once, at creation).
    Token {
        #[command(subcommand)]
        command: souverain::admin::cli_access::TokenCommand,
    },
    /// Key-encryption keys: rotation, crypto-shredding.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Background jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The metadata store against the providers, checked by the running gateway.
    Meta {
        #[command(subcommand)]
        command: AdminMetaCommand,
    },
    /// The gateway's health report (`/health`, no token needed); exits non-zero if the admin
    /// listener does not answer 200 (the container health check).
    Health,
    /// The repair queue: replicas waiting per provider, the oldest one's age, stuck tasks.
    Repair,
    /// The deletion queue: copies the gateway gave up that their providers have not deleted
    /// yet, per provider (ciphertext outside policy counted apart), and the first tasks.
    Deletions,
}

#[derive(Subcommand)]
enum PlacementCommand {
    /// Where a bucket's objects go under its policy, and why each provider is or is not used.
    Explain {
        /// The bucket.
        bucket: String,
    },
}

/// s3s logs every refused request at ERROR from `s3s::ops`; the frontend logs what matters.
fn init_logs(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SOUVERAIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},s3s::ops=off")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads the HTTPS certificate.
async fn run_until_stopped(gateway: &souverain::app::RunningGateway) -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok("SIGTERM"),
            _ = int.recv() => return Ok("SIGINT"),
            _ = hup.recv() => match gateway.reload_tls() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(failures) => {
                    // One line for all listeners, so whoever watches the log sees the whole refusal.
                    let shown: Vec<String> = failures.iter().map(|e| souverain::report::chain(e)).collect();
                    tracing::error!(error = %shown.join("; "), "SIGHUP: TLS reload failed; the previous certificate stays in use");
                }
            },
        }
    }
}

async fn serve(config: PathBuf) -> anyhow::Result<()> {
    let config = souverain::config::Config::load(&config)?;
    init_logs(config.log_json, &config.log_level);
    let gateway = souverain::app::start(config).await?;
    // Tests and scripts read these lines to find the ports of `127.0.0.1:0` listeners. Whoever
    // started the gateway may have closed the pipe by then (read the first line only, or never
    // read): that must not stop it, as `println!` would (it panics on a broken pipe).
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", gateway.s3_addr);
    if let Some(admin) = gateway.admin_addr {
        let _ = writeln!(out, "admin listening on {admin}");
    }
    let _ = out.flush();
    drop(out);
    let signal = run_until_stopped(&gateway).await?;
    tracing::info!(signal, "shutting down");
    gateway.shutdown().await;
    Ok(())
}

/// Runs the probe; Ok(false) when the provider is not usable.
fn probe(config: &Path, id: &str) -> anyhow::Result<bool> {
    let config = souverain::config::Config::load(config)?;
    let provider = config
        .providers
        .iter()
        .find(|p| p.info.id.as_str() == id)
        .ok_or_else(|| anyhow::anyhow!("no provider {id:?} in the configuration"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(souverain::app::probe_provider(provider))?;
    print!("{}", report.render());
    Ok(report.usable())
}

/// Verifies the metadata store against the providers and prints the findings (JSON).
fn verify(config: &Path, providers: &[String], repair: bool) -> anyhow::Result<()> {
    let config = souverain::config::Config::load(config)?;
    init_logs(config.log_json, &config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let progress = souverain::progress::reporter();
    let report = rt.block_on(souverain::app::verify_metadata(config, providers, repair, &progress)).map_err(|e| {
        let held = souverain::report::chain(&e).contains("directory is locked");
        let e = anyhow::Error::from(e);
        if held { e.context("a running gateway is verified through it: `souverain admin meta verify`") } else { e }
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.clean() {
        anyhow::bail!("the store and the providers disagree (see above){}", if repair { "; fixes queued" } else { "" });
    }
    Ok(())
}

/// Rebuilds the metadata store and prints what was recovered (JSON).
fn rebuild(config: &Path, options: &souverain::metalog::rebuild::RebuildOptions) -> anyhow::Result<()> {
    let config = souverain::config::Config::load(config)?;
    init_logs(config.log_json, &config.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let progress = souverain::progress::reporter();
    let report = rt.block_on(souverain::app::rebuild_metadata(config, options, &progress))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.rejected.is_empty() || !report.unreachable.is_empty() {
        anyhow::bail!(
            "{} log objects rejected, {} providers unreachable (see above)",
            report.rejected.len(),
            report.unreachable.len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    // rustls must use ring; without this, dependencies that enable aws-lc-rs make it panic.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Admin { url, token_file, ca_file, command } = cli.command {
        use souverain::admin::cli;
        use souverain::admin::client::encode_segment;
        let admin = cli::AdminTarget { url, token_file, ca_file };
        let outcome = match command {
            AdminCommand::Provider { command: cli::ProviderCommand::Probe { id, config } } => probe(&config, &id),
            AdminCommand::Provider { command } => cli::provider(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::Policy { command } => cli::policy(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::Bucket { command } => cli::bucket(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::Audit { command } => cli::audit(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::Jobs { command } => cli::jobs(&admin, &command).map_err(anyhow::Error::msg),
            AdminCommand::Meta { command } => cli::meta(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::Keys { command } => cli::keys(&admin, command).map_err(anyhow::Error::msg),
            AdminCommand::User { command } => {
                souverain::admin::cli_access::user(&admin, command).map_err(anyhow::Error::msg)
            }
            AdminCommand::Token { command } => {
                souverain::admin::cli_access::token(&admin, command).map_err(anyhow::Error::msg)
            }
            AdminCommand::Key { command } => {
                souverain::admin::cli_access::key(&admin, command).map_err(anyhow::Error::msg)
            }
            AdminCommand::Locate { object, version_id } => match object.split_once('/') {
                Some((b, k)) => {
                    let mut path = format!("/admin/v1/locations/{}/{}", encode_segment(b), encode_segment(k));
                    if let Some(v) = version_id {
                        path = format!("{path}?versionId={}", encode_segment(&v));
                    }
                    admin.show(&path, true).map_err(anyhow::Error::msg)
                }
                None => Err(anyhow::anyhow!("expected bucket/key")),
            },
            AdminCommand::Placement { command: PlacementCommand::Explain { bucket } } => {
                let path = format!("/admin/v1/placement/explain?bucket={}", encode_segment(&bucket));
                admin.show(&path, true).map_err(anyhow::Error::msg)
            }
            AdminCommand::Health => admin.show("/health", false).map_err(anyhow::Error::msg),
            AdminCommand::Repair => admin.show("/admin/v1/repair", true).map_err(anyhow::Error::msg),
            AdminCommand::Deletions => admin.show("/admin/v1/deletions", true).map_err(anyhow::Error::msg),
        };
        return match outcome {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("souverain: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match cli.command {
        Command::CheckConfig { config } => {
            souverain::config::Config::load(&config).map(|_| println!("ok")).map_err(anyhow::Error::from)
        }
        Command::Serve { config } => match tokio::runtime::Builder::new_multi_thread()
            .thread_name(souverain::pools::ASYNC_THREAD_NAME)
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(serve(config)),
            Err(e) => Err(e.into()),
        },
        Command::Meta { command: MetaCommand::Verify { config, providers, repair } } => {
            verify(&config, &providers, repair)
        }
        Command::Meta {
            command:
                MetaCommand::Rebuild(RebuildArgs { config, dry_run, providers })
                | MetaCommand::Restore { from_providers: true, args: RebuildArgs { config, dry_run, providers } },
        } => rebuild(&config, &souverain::metalog::rebuild::RebuildOptions { dry_run, providers }),
        Command::Meta { command: MetaCommand::Restore { from_providers: false, .. } } => {
            Err(anyhow::anyhow!("`meta restore` reads from the providers: pass --from-providers"))
        }
        Command::Admin { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}`: the error and every cause under it, on one line.
            eprintln!("souverain: {e:#}");
            ExitCode::FAILURE
        }
    }
}
