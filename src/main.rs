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

/// One admin API GET, printed; Ok(false) on a non-200 answer.
fn admin_get(url: &str, token_file: Option<PathBuf>, path: &str) -> anyhow::Result<bool> {
    let token = match token_file {
        Some(f) => std::fs::read_to_string(&f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?.trim().to_owned(),
        None => std::env::var("SOUVERAIN_ADMIN_TOKEN")
            .map_err(|_| anyhow::anyhow!("give --token-file or set SOUVERAIN_ADMIN_TOKEN"))?,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (status, body) =
        rt.block_on(souverain::admin::client::get(url, path, &token)).map_err(|e| anyhow::anyhow!(e))?;
    println!("{}", body.trim_end());
    Ok(status == 200)
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
    if let Command::Admin { url, token_file, command } = cli.command {
        use souverain::admin::client::encode_segment;
        let outcome = match command {
            AdminCommand::Provider { command: ProviderCommand::Probe { id, config } } => probe(config, id),
            AdminCommand::Locate { object } => match object.split_once('/') {
                Some((b, k)) => {
                    let path = format!("/admin/v1/locations/{}/{}", encode_segment(b), encode_segment(k));
                    admin_get(&url, token_file, &path)
                }
                None => Err(anyhow::anyhow!("expected bucket/key")),
            },
            AdminCommand::Placement { command: PlacementCommand::Explain { bucket } } => {
                let path = format!("/admin/v1/placement/explain?bucket={}", encode_segment(&bucket));
                admin_get(&url, token_file, &path)
            }
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
