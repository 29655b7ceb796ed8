//! Settings of `rampart serve`, from flags or `RAMPART_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Settings of a serving node.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "RAMPART_LISTEN", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Directory for the embedded store, the root key, credentials and audit files.
    #[arg(long, env = "RAMPART_DATA_DIR", default_value = "./rampart-data")]
    pub data_dir: PathBuf,
    /// Store URL: empty for SQLite in the data dir, `sqlite://PATH`, or `postgres://…`.
    #[arg(long, env = "RAMPART_STORE", default_value = "")]
    pub store: String,
    /// Root key provider: `file` (default, DATA_DIR/root.key), `file:PATH`, `env:VAR`, or
    /// `pkcs11:module=…;token=…;pin-env=VAR;key=…`.
    #[arg(long, env = "RAMPART_ROOT_KEY_PROVIDER", default_value = "file")]
    pub root_key: String,
    /// Development mode: any well-formed SigV4 credentials are accepted. Never in production.
    #[arg(long, env = "RAMPART_DEV", default_value_t = false)]
    pub dev: bool,
    /// Account for dev-mode credentials whose access key id is not 12 digits.
    #[arg(long, env = "RAMPART_DEV_ACCOUNT", default_value = "000000000000")]
    pub dev_account: String,
    /// The administrator account created on first start.
    #[arg(long, env = "RAMPART_ADMIN_ACCOUNT", default_value = "000000000000")]
    pub admin_account: String,
    /// KMS request quotas: `aws` (AWS's default rates per account and Region), `aws*SCALE`
    /// (each multiplied by SCALE), or `off`. Default: `aws`, or `off` in dev mode.
    #[arg(long, env = "RAMPART_KMS_QUOTAS", default_value = "")]
    pub kms_quotas: String,
    /// Event targets: comma-separated `http://` or `https://` URLs that receive every event
    /// (EventBridge's JSON, one POST per event).
    #[arg(long, env = "RAMPART_EVENT_WEBHOOKS", default_value = "")]
    pub event_webhooks: String,
    /// Serve the API over HTTPS on `--listen`, with a certificate from the node's own CA
    /// (its certificate is written to DATA_DIR/ca.pem).
    #[arg(long, env = "RAMPART_TLS", default_value_t = false)]
    pub tls: bool,
    /// Names (DNS names or IP addresses) the TLS certificate is issued for.
    #[arg(
        long,
        env = "RAMPART_TLS_NAMES",
        default_value = "localhost,127.0.0.1,::1"
    )]
    pub tls_names: String,
    /// With `--tls`: present this ACM certificate (private, public or imported) instead of one
    /// from the node's own CA; its renewals are picked up without restart.
    #[arg(long, env = "RAMPART_TLS_CERTIFICATE_ARN")]
    pub tls_certificate_arn: Option<String>,
    /// Serve `/_rampart/metrics` (Prometheus text format) and `/_rampart/health` on this
    /// address too, without authentication (off unless given).
    #[arg(long, env = "RAMPART_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// With `--tls`: also serve plain HTTP on this address (off unless given).
    #[arg(long, env = "RAMPART_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// KMS custom key stores of type `AWS_CLOUDHSM`: comma-separated
    /// `cluster-id=PKCS11_MODULE_PATH:TOKEN_LABEL`, one PKCS#11 token per cluster id.
    #[arg(long, env = "RAMPART_CLOUDHSM_CLUSTERS", default_value = "")]
    pub cloudhsm_clusters: String,
    /// Extra CA certificates (PEM file) trusted for XKS proxy TLS, besides the system roots.
    #[arg(long, env = "RAMPART_XKS_CA_FILE")]
    pub xks_ca_file: Option<PathBuf>,
    /// Where to connect for an XKS proxy host: comma-separated `host=ADDRESS:PORT` (as curl's
    /// `--connect-to`; TLS still verifies the host name).
    #[arg(long, env = "RAMPART_XKS_CONNECT_TO", default_value = "")]
    pub xks_connect_to: String,
    /// Timeout of one XKS proxy call, in milliseconds.
    #[arg(long, env = "RAMPART_XKS_TIMEOUT_MS", default_value_t = 2000)]
    pub xks_timeout_ms: u64,
    /// ACM public certificates: the ACME directory URL they are obtained from (RFC 8555).
    #[arg(long, env = "RAMPART_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// Extra CA certificates (PEM file) trusted for the TLS of OpenID Connect providers'
    /// discovery documents and JWKS (AssumeRoleWithWebIdentity), besides the system roots.
    #[arg(long, env = "RAMPART_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,
    /// Extra CA certificates (PEM file) trusted for the ACME directory's TLS.
    #[arg(long, env = "RAMPART_ACME_CA_FILE")]
    pub acme_ca_file: Option<PathBuf>,
    /// DNS server (`ADDRESS:PORT`) asked whether a dns-01 record exists before the challenge
    /// is answered (default: the first nameserver of /etc/resolv.conf).
    #[arg(long, env = "RAMPART_ACME_DNS_RESOLVER")]
    pub acme_dns_resolver: Option<String>,
    /// Serve ACME http-01 challenges (`/.well-known/acme-challenge/`) on this address; enables
    /// ValidationMethod HTTP.
    #[arg(long, env = "RAMPART_ACME_HTTP01_LISTEN")]
    pub acme_http01_listen: Option<SocketAddr>,
    /// In `--dev` without an ACME directory, public certificates come from a built-in
    /// development CA after a simulated validation taking this many seconds of the business
    /// clock (0: issued at once).
    #[arg(long, env = "RAMPART_ACM_DEV_VALIDATION_SECONDS", default_value_t = 5)]
    pub acm_dev_validation_seconds: u64,
    /// Secrets Manager rotation functions: comma-separated `<lambda-arn>=<rotator>` with
    /// rotators `postgresql-single-user`, `postgresql-alternating-users`, `mysql-single-user`,
    /// `mysql-alternating-users` (MySQL and MariaDB) or `webhook:http://host:port/path`
    /// (receives the event a Lambda rotation function receives).
    #[arg(long, env = "RAMPART_ROTATORS", default_value = "")]
    pub rotators: String,
    /// Local ports the ELBv2 load balancers bind, one per load balancer (`FIRST-LAST`).
    #[arg(long, env = "RAMPART_ELB_PORTS", default_value = "20000-20999")]
    pub elb_ports: String,
    /// MaxMind-format country database (GeoLite2-Country, DB-IP country lite) for the WAF's
    /// GeoMatch statements; re-read when the file changes.
    #[arg(long = "geoip-country-db", env = "RAMPART_GEOIP_COUNTRY_DB")]
    pub geoip_country_db: Option<PathBuf>,
    /// MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN lite) for the WAF's AsnMatch
    /// statements and ASN rate keys; re-read when the file changes.
    #[arg(long = "geoip-asn-db", env = "RAMPART_GEOIP_ASN_DB")]
    pub geoip_asn_db: Option<PathBuf>,
    /// Test-only: check every answer against the operation's model (output shape, declared
    /// errors) and append each departure as a JSON line to this file (`1`: DATA_DIR/
    /// response-violations.jsonl). Answers are unchanged; costs nothing when unset.
    #[arg(long, env = "RAMPART_VALIDATE_RESPONSES", hide = true)]
    pub validate_responses: Option<PathBuf>,
    /// Directory of the IP list files of Rampart's managed rule groups (`ip-reputation.txt`,
    /// `reconnaissance.txt`, `anonymous-ip.txt`, `hosting-provider.txt`), read when a web ACL
    /// is compiled; none: the lists are empty.
    #[arg(long = "waf-lists-dir", env = "RAMPART_WAF_LISTS_DIR")]
    pub waf_lists_dir: Option<PathBuf>,
    /// An OWASP Core Rule Set v4 directory (`crs-setup.conf.example`, `rules/`), loaded once at
    /// startup; it makes the managed rule group `Rampart/OWASPCoreRuleSet` available.
    #[arg(long = "waf-crs-dir", env = "RAMPART_WAF_CRS_DIR")]
    pub waf_crs_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// The store URL, defaulting to SQLite in the data dir.
    #[must_use]
    pub fn store_url(&self) -> String {
        if self.store.is_empty() {
            format!("sqlite://{}", self.data_dir.join("rampart.db").display())
        } else {
            self.store.clone()
        }
    }
}
