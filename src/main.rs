//! The `souverain` binary: the composition root. `anyhow` is allowed here only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum AdminCommand {
    /// Providers.
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Where an object lives: every replica's provider, country, operator and state.
    Locate {
        /// `bucket/key`.
        object: String,
    },
    /// Placement.
    Placement {
        #[command(subcommand)]
        command: PlacementCommand,
    },
    /// The gateway's health report (`/health`, no token needed); exits non-zero if the admin
    /// listener does not answer 200 (the container health check).
    Health,
    /// The repair queue: replicas waiting per provider, the oldest one's age, stuck tasks.
    Repair,
}

#[derive(Subcommand)]
enum PlacementCommand {
    /// Where a bucket's objects go under its policy, and why each provider is or is not used.
    Explain {
        /// The bucket.
        bucket: String,
    },
}

#[derive(Subcommand)]
enum ProviderCommand {
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
                Err(e) => tracing::error!(error = %e, "SIGHUP: TLS reload failed; the previous certificate stays in use"),
            },
        }
    }
}

async fn serve(config: PathBuf) -> anyhow::Result<()> {
    let config = souverain::config::Config::load(&config)?;
    init_logs(config.log_json, &config.log_level);
    let gateway = souverain::app::start(config).await?;
    // Tests and scripts read this line to find the port of a `127.0.0.1:0` listener.
    println!("listening on {}", gateway.s3_addr);
    let signal = run_until_stopped(&gateway).await?;
    tracing::info!(signal, "shutting down");
    gateway.shutdown().await;
    Ok(())
}

/// How the CLI reaches the admin listener.
struct AdminTarget {
    url: String,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

impl AdminTarget {
    fn token(&self) -> anyhow::Result<String> {
        match &self.token_file {
            Some(f) => {
                Ok(std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?.trim().to_owned())
            }
            None => std::env::var("SOUVERAIN_ADMIN_TOKEN")
                .map_err(|_| anyhow::anyhow!("give --token-file or set SOUVERAIN_ADMIN_TOKEN")),
        }
    }

    /// One GET, printed; Ok(false) on a non-200 answer.
    fn get(&self, path: &str, with_token: bool) -> anyhow::Result<bool> {
        let token = if with_token { Some(self.token()?) } else { None };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (status, body) = rt
            .block_on(souverain::admin::client::get(&self.url, path, token.as_deref(), self.ca_file.as_deref()))
            .map_err(|e| anyhow::anyhow!(e))?;
        println!("{}", body.trim_end());
        Ok(status == 200)
    }
}

/// Runs the probe; Ok(false) when the provider is not usable.
fn probe(config: PathBuf, id: String) -> anyhow::Result<bool> {
    let config = souverain::config::Config::load(&config)?;
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

fn main() -> ExitCode {
    // rustls must use ring; without this, dependencies that enable aws-lc-rs make it panic.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Admin { url, token_file, ca_file, command } = cli.command {
        use souverain::admin::client::encode_segment;
        let admin = AdminTarget { url, token_file, ca_file };
        let outcome = match command {
            AdminCommand::Provider { command: ProviderCommand::Probe { id, config } } => probe(config, id),
            AdminCommand::Locate { object } => match object.split_once('/') {
                Some((b, k)) => {
                    let path = format!("/admin/v1/locations/{}/{}", encode_segment(b), encode_segment(k));
                    admin.get(&path, true)
                }
                None => Err(anyhow::anyhow!("expected bucket/key")),
            },
            AdminCommand::Placement { command: PlacementCommand::Explain { bucket } } => {
                let path = format!("/admin/v1/placement/explain?bucket={}", encode_segment(&bucket));
                admin.get(&path, true)
            }
            AdminCommand::Health => admin.get("/health", false),
            AdminCommand::Repair => admin.get("/admin/v1/repair", true),
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
        Command::Serve { config } => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(serve(config)),
            Err(e) => Err(e.into()),
        },
        Command::Admin { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("souverain: {e}");
            ExitCode::FAILURE
        }
    }
}
