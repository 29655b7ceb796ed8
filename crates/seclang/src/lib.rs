//! Rampart's SecLang engine: loads the OWASP Core Rule Set (v4) unmodified from a directory and
//! evaluates it on HTTP transactions, as ModSecurity would.
//!
//! ```no_run
//! use rampart_seclang::{Engine, EngineConfig, Request};
//! let engine = Engine::load("/etc/crs".as_ref(), &EngineConfig::default())?;
//! let outcome = engine.transaction(&Request::get("/?q=1' or 1=1--"), None);
//! if let Some(i) = &outcome.interruption { println!("blocked by {} ({})", i.rule_id, i.status); }
//! # Ok::<(), rampart_seclang::LoadError>(())
//! ```
//!
//! The engine is compiled once ([`Engine::load`]) and shared (`Send + Sync`); each transaction
//! keeps its own state ([`Transaction`]). For a proxy, run the request phases before contacting
//! the upstream and the response phases after it:
//!
//! ```no_run
//! # use rampart_seclang::{Engine, Request, Response};
//! # fn f(engine: &Engine, req: &Request, resp: &Response) {
//! let mut tx = engine.begin(req);
//! if tx.process_request().is_none() {
//!     tx.process_response(resp);
//! }
//! let outcome = tx.finish();
//! # }
//! ```
//!
//! # SecLang as implemented
//!
//! - Directives: `SecRule`, `SecAction`, `SecMarker`, `SecDefaultAction` (per phase),
//!   `SecRuleEngine`, `SecRuleRemoveById`, `SecRuleRemoveByTag`, `SecRuleUpdateTargetById`,
//!   `SecComponentSignature`. Server, logging and limit directives (`SecAuditLog*`,
//!   `SecDebugLog*`, `SecRequestBodyLimit`, `SecTmpDir`, ...) are accepted by name and ignored
//!   (limits come from [`EngineConfig`]); any other directive, action, operator, variable or
//!   transformation fails the load with file, line and reason.
//! - Evaluation follows ModSecurity v2, which the CRS regression suite was written against:
//!   non-disruptive actions (`setvar`, `ctl`, `capture`) run for each value a rule (or chain
//!   link) matches, before the next link is evaluated; `MATCHED_VARS` in a chained rule are the
//!   previous link's matches (transformed); `block` takes the phase's `SecDefaultAction`.
//! - Body processors: URLENCODED and MULTIPART by Content-Type prefix, then XML and JSON as
//!   ModSecurity's recommended configuration (rules 200000/200001) selects them; JSON names
//!   follow v2 (`json.a.b`, array elements repeat their key: `json.list.list`);
//!   `REQUEST_BODY` is filled for URLENCODED or when `ctl:forceRequestBodyVariable=On` (CRS sets
//!   it when no processor applies). `REQUEST_FILENAME` is %-decoded, as Apache hands it over.
//! - Regexes: `regex` with Unicode off (PCRE's byte semantics; `\x{hh}` is a byte); patterns it
//!   rejects go to `fancy-regex` with a backtrack limit ([`EngineInfo`] lists them; CRS 4.28
//!   needs none).
//! - `@rbl` answers "no match" (no DNS lookups from the rule engine); `expirevar` is accepted
//!   and ignored; collections persisted with `initcol` live in memory, per engine, bounded.

#![forbid(unsafe_code)]

mod body;
mod detect;
mod engine;
mod literals;
mod macros;
mod operator;
mod parser;
mod rule;
mod screen;
mod transform;

use std::net::IpAddr;
use std::path::PathBuf;

pub use engine::{Engine, Transaction};
pub use rule::EngineMode;

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A directive could not be parsed or compiled.
    #[error("{}:{line}: {reason}", file.display())]
    Parse {
        /// The rule file.
        file: PathBuf,
        /// The line the directive starts on.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The configuration is invalid.
    #[error("invalid engine configuration: {0}")]
    Config(String),
}

/// How the Core Rule Set is configured (what `crs-setup.conf` would say).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `tx.blocking_paranoia_level` (1–4): rules up to this level add to the blocking score.
    pub blocking_paranoia_level: u8,
    /// `tx.detection_paranoia_level` (blocking level–4): rules up to this level run and are
    /// reported; `None` means the blocking level.
    pub detection_paranoia_level: Option<u8>,
    /// `tx.inbound_anomaly_score_threshold`.
    pub inbound_anomaly_threshold: u32,
    /// `tx.outbound_anomaly_score_threshold`.
    pub outbound_anomaly_threshold: u32,
    /// Rule ids removed at load time (`SecRuleRemoveById`).
    pub excluded_rules: Vec<u64>,
    /// Extra `tx.` variables set before the rules run (`("allowed_methods", "GET POST")`),
    /// applied after the settings above so they can override anything.
    pub setvars: Vec<(String, String)>,
    /// The rule engine mode. `DetectionOnly` and `Off` here override a `SecRuleEngine`
    /// directive in the rules; with `On`, such a directive decides.
    pub mode: EngineMode,
    /// Bytes of request body inspected (the rest is ignored).
    pub request_body_limit: usize,
    /// Bytes of response body inspected.
    pub response_body_limit: usize,
    /// Most arguments parsed from the query string and from the body each
    /// (`SecArgumentsLimit`); past it the rest are dropped and, for the body, the body
    /// processor reports an error (`REQBODY_ERROR`), which CRS scores.
    pub max_arguments: usize,
    /// Response Content-Types whose body is inspected (`SecResponseBodyMimeType`).
    pub response_body_mime_types: Vec<String>,
    /// Evaluation shortcuts that never change a result: the per-transaction transformation
    /// cache and the `@rx` required-literal prefilter. On by default; off gives the plain
    /// evaluation they are tested against.
    pub fast_paths: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            blocking_paranoia_level: 1,
            detection_paranoia_level: None,
            inbound_anomaly_threshold: 5,
            outbound_anomaly_threshold: 4,
            excluded_rules: Vec::new(),
            setvars: Vec::new(),
            mode: EngineMode::On,
            request_body_limit: 1 << 20,
            response_body_limit: 1 << 20,
            max_arguments: 1000,
            response_body_mime_types: vec![
                "text/plain".into(),
                "text/html".into(),
                "text/xml".into(),
            ],
            fast_paths: true,
        }
    }
}

/// An HTTP request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as received (`/a/b?x=1`, or absolute form).
    pub uri: String,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub protocol: String,
    /// Headers in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (inspected up to [`EngineConfig::request_body_limit`]).
    pub body: Vec<u8>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The client's port.
    pub client_port: u16,
}

impl Request {
    /// A `GET` of `uri` over HTTP/1.1 from 127.0.0.1 with a `Host: localhost` header.
    #[must_use]
    pub fn get(uri: &str) -> Self {
        Self {
            method: "GET".into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![("Host".into(), b"localhost".to_vec())],
            body: Vec::new(),
            client_ip: IpAddr::from([127, 0, 0, 1]),
            client_port: 40000,
        }
    }
}

/// An HTTP response, for the response phases (3 and 4).
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `HTTP/1.1`, ...
    pub protocol: String,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (inspected up to [`EngineConfig::response_body_limit`]).
    pub body: Vec<u8>,
}

/// What a disruptive rule asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptAction {
    /// `deny`: answer with the status.
    Deny,
    /// `drop`: close the connection.
    Drop,
    /// `redirect`.
    Redirect,
}

/// The transaction was stopped by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// What to do.
    pub action: InterruptAction,
    /// The HTTP status to answer with (`status:` of the rule, else 403).
    pub status: u16,
    /// The rule that interrupted.
    pub rule_id: u64,
    /// The phase it ran in.
    pub phase: u8,
}

/// A rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    /// Rule id.
    pub id: u64,
    /// Phase it matched in.
    pub phase: u8,
    /// `msg`, expanded.
    pub msg: String,
    /// `logdata`, expanded.
    pub logdata: String,
    /// `severity` (`CRITICAL`, ...).
    pub severity: Option<String>,
    /// `tag`s.
    pub tags: Vec<String>,
    /// Whether the rule logs (`log`/`nolog`): what ModSecurity writes to its error log.
    pub logged: bool,
}

/// The result of a transaction.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Set when a disruptive rule stopped the transaction (only in [`EngineMode::On`]).
    pub interruption: Option<Interruption>,
    /// Every rule that matched, in evaluation order.
    pub matched: Vec<MatchedRule>,
    /// `tx.blocking_inbound_anomaly_score` (0 if the rules did not set it).
    pub inbound_anomaly_score: i64,
    /// `tx.blocking_outbound_anomaly_score`.
    pub outbound_anomaly_score: i64,
    /// `tx.detection_inbound_anomaly_score`.
    pub detection_inbound_anomaly_score: i64,
    /// `tx.detection_outbound_anomaly_score`.
    pub detection_outbound_anomaly_score: i64,
    /// The request body processor's error, if it failed (`REQBODY_ERROR_MSG`).
    pub request_body_error: Option<String>,
}

impl Outcome {
    /// Ids of the rules that matched and log, in order.
    #[must_use]
    pub fn logged_ids(&self) -> Vec<u64> {
        self.matched
            .iter()
            .filter(|m| m.logged)
            .map(|m| m.id)
            .collect()
    }
}

/// Facts about a loaded engine.
#[derive(Debug, Clone)]
pub struct EngineInfo {
    /// Rules loaded (a chain counts once).
    pub rules: usize,
    /// Rules whose regex needed the backtracking `fancy-regex` fallback.
    pub fallback_regex_rules: Vec<u64>,
    /// Rules whose regex compiles only in Unicode mode (PCRE would read it byte-wise).
    pub unicode_regex_rules: Vec<u64>,
    /// `SecComponentSignature` values (`OWASP_CRS/4.28.0`).
    pub component_signatures: Vec<String>,
}
