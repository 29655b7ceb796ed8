//! `rampart`: AWS security services as one self-hosted server.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use rampart_server::config::ServeConfig;
use rampart_server::{app, coverage, front};

/// With feature `mimalloc`, mimalloc instead of glibc's malloc: measured 10-20% less CPU per
/// request on the benchmark's workloads, but about 10 MiB more resident memory at idle, so it is
/// not the default (docs/benchmarks.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rampart",
    version,
    about = "AWS security services as one self-hosted server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeConfig),
    /// Print, per service, the operations implemented out of those in the AWS model.
    Coverage {
        /// Print a Markdown table.
        #[arg(long)]
        markdown: bool,
    },
    /// GeoIP databases for the WAF's GeoMatch and AsnMatch statements.
    Geoip {
        #[command(subcommand)]
        command: GeoipCommand,
    },
    /// Create another account with a root access key (profile `rampart-<id>` in the credentials file).
    CreateAccount {
        /// Twelve-digit account id.
        id: String,
        #[command(flatten)]
        config: ServeConfig,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // RAMPART_LOG_FORMAT=json: one JSON object per line, for log shippers.
    if std::env::var("RAMPART_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(config.listen).await?;
    let dev = config.dev;
    let app = app::build(config).await?;
    if dev {
        tracing::warn!("DEV MODE: AUTHENTICATION IS OFF. Any well-formed SigV4 credentials are accepted. Never expose this server.");
    }
    // aws-lc seeds its random generator on first use, which takes tens of milliseconds: do it
    // now, off the request path, instead of in the first request that needs randomness.
    std::thread::spawn(|| {
        let mut warm = [0u8; 16];
        let _ = aws_lc_rs::rand::fill(&mut warm);
    });
    let local = listener.local_addr()?;
    let plain = match (app.tls.is_some(), app.config.http_listen) {
        (true, Some(addr)) => Some(TcpListener::bind(addr).await?),
        _ => None,
    };
    // Bound before the listening line is printed, so a taken address fails the start.
    let metrics = match app.config.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let scheme = if app.tls.is_some() { "https" } else { "http" };
    println!(
        "rampart listening on {scheme}://{local} (store: {}, dev: {dev})",
        app.store.backend()
    );
    if let Some(p) = &plain {
        println!("rampart also listening on http://{}", p.local_addr()?);
    }
    if let Some(metrics) = metrics {
        println!("rampart metrics on http://{}", metrics.local_addr()?);
        tokio::spawn(rampart_server::metrics::serve(metrics, Arc::clone(&app)));
    }
    let serving = async {
        match &app.tls {
            Some(certs) => match certs.server_config() {
                Ok(config) => front::serve_tls(listener, plain, Arc::clone(&app), config).await,
                Err(e) => tracing::error!(error = %e, "TLS configuration failed"),
            },
            None => front::serve(listener, Arc::clone(&app)).await,
        }
    };
    tokio::select! {
        () = serving => Ok(()),
        _ = tokio::signal::ctrl_c() => {
            app.auditor.flush().await;
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum GeoipCommand {
    /// Build a MaxMind-format database from CSV lines `network,iso_code` (country) or
    /// `network,asn[,org]` (ASN); IPv4 and IPv6 CIDRs or single addresses.
    #[command(group(clap::ArgGroup::new("input").required(true).args(["country_csv", "asn_csv"])))]
    Build {
        /// CSV of `network,iso_code` lines: builds a country database.
        #[arg(long)]
        country_csv: Option<PathBuf>,
        /// CSV of `network,asn[,org]` lines: builds an ASN database.
        #[arg(long)]
        asn_csv: Option<PathBuf>,
        /// Where to write the `.mmdb` file (replaced atomically).
        #[arg(long)]
        out: PathBuf,
    },
}

/// `rampart geoip build`: CSV in, `.mmdb` out, written to a temporary file then renamed so a
/// running server never reads half a database.
fn geoip_build(
    country_csv: Option<PathBuf>,
    asn_csv: Option<PathBuf>,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    type Build = fn(&str) -> Result<Vec<u8>, String>;
    let (csv, build): (PathBuf, Build) = match (country_csv, asn_csv) {
        (Some(c), None) => (c, rampart_waf::mmdb::country_db_from_csv),
        (None, Some(a)) => (a, rampart_waf::mmdb::asn_db_from_csv),
        _ => return Err("give one of --country-csv or --asn-csv".into()),
    };
    let text =
        std::fs::read_to_string(&csv).map_err(|e| format!("cannot read {}: {e}", csv.display()))?;
    let bytes = build(&text).map_err(|e| format!("{}: {e}", csv.display()))?;
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result: Result<(), Box<dyn std::error::Error>> = rt.block_on(async {
        match cli.command {
            Command::Serve(config) => {
                init_logging();
                serve(config).await
            }
            Command::Coverage { markdown } => {
                print!("{}", coverage::render(markdown));
                Ok(())
            }
            Command::Geoip {
                command:
                    GeoipCommand::Build {
                        country_csv,
                        asn_csv,
                        out,
                    },
            } => geoip_build(country_csv, asn_csv, &out),
            Command::CreateAccount { id, config } => {
                init_logging();
                if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("an account id is 12 digits".into());
                }
                let app = app::build(config).await?;
                let profile = app::create_account(&app, &id).await?;
                app.auditor.flush().await;
                println!("created account {id}; credentials in profile '{profile}'");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
