//! `rampart-bench`: load a running Rampart server with signed AWS API calls (or its load
//! balancers with plain HTTP, `--only waf`) and print requests/s with p50/p99 latency, beside an
//! HTTP ceiling (nginx `return 200`) and a peer (moto's server) measured in the same run.
//! `scripts/bench` starts the servers, pins them to one core and runs this on the other.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use rampart_bench::{execute, waf, Credentials, Plan, Selection};

#[derive(Parser)]
#[command(name = "rampart-bench", version, about)]
struct Cli {
    /// `host:port` of the Rampart server.
    #[arg(long, default_value = "127.0.0.1:4566")]
    target: String,
    /// Credentials file holding profile `rampart`.
    #[arg(long, default_value = "./rampart-data/credentials")]
    credentials: PathBuf,
    /// `host:port` of a peer to measure in the same run (moto's server).
    #[arg(long)]
    peer: Option<String>,
    /// Name of the peer in the table.
    #[arg(long, default_value = "moto")]
    peer_name: String,
    /// `host:port` of an HTTP server answering every request 200 (nginx `return 200`): it is
    /// sent Rampart's requests, as the one-core HTTP ceiling.
    #[arg(long)]
    ceiling: Option<String>,
    /// Workloads to run.
    #[arg(long, value_enum, default_value = "all")]
    only: Selection,
    /// Seconds per measured run (each is preceded by a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent keep-alive connections, one run per value.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    connections: Vec<usize>,
    /// The CPU the servers are pinned to: its busy share during each run is reported (Linux).
    #[arg(long)]
    server_cpu: Option<usize>,
    /// A target of `--only waf`: `LABEL=HOST:PORT[=DESCRIPTION]` (repeatable).
    #[arg(long)]
    waf_target: Vec<String>,
    /// A requests/s ratio to print for `--only waf`: `NUM/DEN` of target labels.
    #[arg(long, value_delimiter = ',')]
    waf_ratio: Vec<String>,
}

/// The access key of `profile` in an AWS-style credentials file.
fn read_profile(path: &PathBuf, profile: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (mut id, mut secret, mut inside) = (None, None, false);
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == format!("[{profile}]");
        } else if inside {
            if let Some((k, v)) = t.split_once('=') {
                match k.trim() {
                    "aws_access_key_id" => id = Some(v.trim().to_owned()),
                    "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
        }
    }
    Some((id?, secret?))
}

async fn bench(cli: Cli) -> Result<(), String> {
    let waf_targets = waf::parse_targets(&cli.waf_target)?;
    let waf_ratios = waf::parse_ratios(&cli.waf_ratio)?;
    let (access_key_id, secret) = read_profile(&cli.credentials, "rampart")
        .ok_or("no profile 'rampart' in the credentials file")?;
    let plan = Plan {
        target: cli.target,
        credentials: Credentials {
            access_key_id,
            secret,
        },
        peer: cli.peer,
        peer_name: cli.peer_name,
        ceiling: cli.ceiling,
        only: cli.only,
        duration: Duration::from_secs(cli.seconds),
        connections: cli.connections,
        server_cpu: cli.server_cpu,
        waf_targets,
        waf_ratios,
    };
    let problems = execute(&plan).await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} bench problem(s), see the lines marked '!'",
            problems.len()
        ))
    }
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
    match rt.block_on(bench(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
