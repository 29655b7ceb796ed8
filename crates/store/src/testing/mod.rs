//! Test support, for this crate's tests and other crates' (feature `testing`):
//!
//! - [`PgCluster`]: a throwaway PostgreSQL cluster (`initdb` + `pg_ctl` in a temp dir, on a free
//!   port), and [`postgres_cluster`], one such cluster shared by a test process;
//! - [`Target`]: a fresh, empty store location (an SQLite file in a temp dir, or a new database in
//!   the shared cluster) that can be opened and re-opened;
//! - [`suite`]: the behaviour tests every backend must pass.
//!
//! Where PostgreSQL is not installed the helpers print `SKIPPED: PostgreSQL not installed` to
//! stderr and return `None`, unless `RAMPART_REQUIRE_POSTGRES=1` (set by CI), in which case they
//! panic. This module is test code: it panics on setup failures instead of returning errors.

pub mod suite;

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Store, StoreError};

/// Environment variable that turns a missing PostgreSQL from a skip into a failure.
pub const REQUIRE_POSTGRES_ENV: &str = "RAMPART_REQUIRE_POSTGRES";

/// A throwaway PostgreSQL cluster listening on 127.0.0.1, stopped and deleted on drop (and by a
/// watchdog process if the test process dies first). Configured for speed, not crash safety
/// (`fsync=off`).
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    watchdog: Mutex<Option<Child>>,
}

/// Databases created so far in this process, for unique names.
static DATABASES: AtomicU64 = AtomicU64::new(0);

impl PgCluster {
    /// The directory holding `initdb` and `pg_ctl`: found on `PATH`, else the newest
    /// `/usr/lib/postgresql/*/bin`. `None` when PostgreSQL is not installed.
    pub fn bin_dir() -> Option<PathBuf> {
        let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
        if let Some(path) = std::env::var_os("PATH") {
            if let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d)) {
                return Some(dir);
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_both(&bin).then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    }

    /// Initializes and starts a new cluster. `Ok(None)` when PostgreSQL is not installed.
    /// When running as root, the cluster runs as the `postgres` user (initdb refuses root).
    ///
    /// # Errors
    /// A description of what failed (`initdb`, `pg_ctl start` with its log, a missing `postgres`
    /// user when running as root).
    pub fn start() -> Result<Option<Self>, String> {
        let Some(bin) = Self::bin_dir() else {
            return Ok(None);
        };
        let as_postgres = current_uid()? == 0;
        let dir = tempfile::Builder::new()
            .prefix("rampart-pg-")
            .tempdir()
            .map_err(|e| format!("creating a temp dir: {e}"))?
            .keep();
        let mut cluster = Self {
            dir,
            bin,
            port: 0,
            as_postgres,
            watchdog: Mutex::new(None),
        };
        if as_postgres {
            let uid = id_of("-u")?;
            let gid = id_of("-g")?;
            std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {} to postgres: {e}", cluster.dir.display()))?;
        }
        cluster.start_watchdog()?;
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D".into(),
                data.clone().into(),
                "-A".into(),
                "trust".into(),
                "-U".into(),
                "postgres".into(),
                "-E".into(),
                "UTF8".into(),
                "--no-locale".into(),
                "--no-sync".into(),
            ],
        )?;
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=300",
                cluster.port,
                cluster.dir.display()
            );
            let log = cluster.dir.join("postgres.log");
            match cluster.run(
                "pg_ctl",
                &[
                    "-D".into(),
                    data.clone().into(),
                    "-l".into(),
                    log.clone().into(),
                    "-o".into(),
                    options.into(),
                    "-w".into(),
                    "-t".into(),
                    "60".into(),
                    "start".into(),
                ],
            ) {
                Ok(()) => return Ok(Some(cluster)),
                Err(e) => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{e}\n{log}");
                }
            }
        }
        Err(format!("pg_ctl start failed: {last_error}"))
    }

    /// The port the cluster listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL of database `dbname`, as user `postgres` (trust authentication).
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the cluster refuses the connection or the statement.
    pub async fn new_database(&self) -> Result<String, StoreError> {
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let name = format!("rampart_test_{}_{n}", std::process::id());
        let fail = |e: tokio_postgres::Error| StoreError::Unavailable(format!("{e}"));
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .map_err(fail)?;
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(fail)?;
        drop(client);
        let _ = driver.await;
        Ok(self.url(&name))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a PostgreSQL program, as the `postgres` user when we are root.
    fn run(&self, program: &str, args: &[OsString]) -> Result<(), String> {
        let output = self
            .command(program, args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn command(&self, program: &str, args: &[OsString]) -> Command {
        let program = self.bin.join(program);
        if !self.as_postgres {
            let mut cmd = Command::new(program);
            cmd.args(args);
            return cmd;
        }
        if Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
            cmd
        } else {
            let line = std::iter::once(program.into_os_string())
                .chain(args.iter().cloned())
                .map(|a| shell_quote(&a.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(" ");
            let mut cmd = Command::new("su");
            cmd.args(["-s", "/bin/sh", "postgres", "-c", &line]);
            cmd
        }
    }

    /// A detached shell that stops the cluster and deletes its directory once this process is
    /// gone, however it ended.
    fn start_watchdog(&self) -> Result<(), String> {
        let stop = self.command(
            "pg_ctl",
            &[
                "-D".into(),
                self.data_dir().into(),
                "-m".into(),
                "immediate".into(),
                "-w".into(),
                "stop".into(),
            ],
        );
        let stop_line = std::iter::once(stop.get_program().to_os_string())
            .chain(stop.get_args().map(std::ffi::OsStr::to_os_string))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             if [ -f {pidfile} ]; then {stop_line}; fi; rm -rf {dir}",
            pid = std::process::id(),
            pidfile = shell_quote(&self.data_dir().join("postmaster.pid").to_string_lossy()),
            dir = shell_quote(&self.dir.to_string_lossy()),
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the cluster watchdog: {e}"))?;
        *self.watchdog.lock().unwrap_or_else(PoisonError::into_inner) = Some(child);
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D".into(),
                    self.data_dir().into(),
                    "-m".into(),
                    "immediate".into(),
                    "-w".into(),
                    "stop".into(),
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = self
            .watchdog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// The test process's shared cluster, started on first use and kept until the process exits.
/// `None` (after a loud `SKIPPED` line on stderr) when PostgreSQL is not installed, unless
/// [`REQUIRE_POSTGRES_ENV`] is `1`.
///
/// # Panics
/// When PostgreSQL is required but missing, or installed but fails to start.
pub fn postgres_cluster() -> Option<Arc<PgCluster>> {
    static SHARED: Mutex<Option<Arc<PgCluster>>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = shared.as_ref() {
        return Some(Arc::clone(cluster));
    }
    match PgCluster::start() {
        Ok(Some(cluster)) => {
            let cluster = Arc::new(cluster);
            *shared = Some(Arc::clone(&cluster));
            Some(cluster)
        }
        Ok(None) => {
            let required = std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql) \
                 and {REQUIRE_POSTGRES_ENV}=1"
            );
            eprintln!(
                "\n*** SKIPPED: PostgreSQL not installed (no initdb/pg_ctl on PATH or in \
                 /usr/lib/postgresql); PostgreSQL tests did not run ***\n"
            );
            None
        }
        Err(e) => panic!("PostgreSQL is installed but a test cluster did not start: {e}"),
    }
}

/// A fresh, empty store location that tests open (and re-open) by URL.
pub struct Target {
    url: String,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Cluster(#[allow(dead_code)] Arc<PgCluster>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// An SQLite file in a new temp dir (deleted when the target is dropped).
    ///
    /// # Panics
    /// When no temp dir can be created.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rampart-store-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temp dir: {e}"));
        let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
        Self {
            url,
            _keep: Keep::Dir(dir),
        }
    }

    /// A new database in the shared cluster ([`postgres_cluster`]); `None` when skipped.
    ///
    /// # Panics
    /// As [`postgres_cluster`], and when the database cannot be created.
    pub async fn postgres() -> Option<Self> {
        let cluster = tokio::task::spawn_blocking(postgres_cluster)
            .await
            .unwrap_or_else(|e| panic!("starting PostgreSQL: {e}"))?;
        let url = cluster
            .new_database()
            .await
            .unwrap_or_else(|e| panic!("creating a test database: {e}"));
        Some(Self {
            url,
            _keep: Keep::Cluster(cluster),
        })
    }

    /// The URL to pass to [`crate::open`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens the store.
    ///
    /// # Panics
    /// When it does not open.
    pub async fn open(&self) -> Arc<dyn Store> {
        crate::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
    }
}

fn current_uid() -> Result<u32, String> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("running id: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("parsing id -u: {e}"))
}

fn id_of(flag: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("running id: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| "running as root, but there is no postgres user to run PostgreSQL as".into())
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
