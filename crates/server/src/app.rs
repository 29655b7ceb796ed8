//! The running node: store, root key, identity, services, audit, clock and scheduler.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use rampart_audit::Auditor;
use rampart_crypto::Sealer;
use rampart_iam::{IamAuthorizer, Identity};
use rampart_protocol::limits::Limits;
use rampart_service::registry::{Entry, Node, Registration};
use rampart_service::scheduler::Scheduler;
use rampart_service::{ManualClock, Service};
use rampart_sigv4::SigningKeyCache;
use rampart_store::{Expect, Op, Store};

use crate::config::ServeConfig;

/// Errors that stop the server from starting.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// Shared state of a serving node.
pub struct App {
    /// Settings.
    pub config: ServeConfig,
    /// Persistent store.
    pub store: Arc<dyn Store>,
    /// Identity state.
    pub identity: Arc<Identity>,
    /// The authorizer for every service.
    pub authorizer: Arc<IamAuthorizer>,
    /// Services by model key.
    pub services: HashMap<&'static str, Arc<dyn Service>>,
    /// What each service declared, by model key.
    pub registrations: HashMap<&'static str, &'static Registration>,
    /// Audit writer.
    pub auditor: Auditor,
    /// The business clock (movable in dev mode).
    pub clock: Arc<ManualClock>,
    /// Background jobs.
    pub scheduler: Arc<Scheduler>,
    /// Derived SigV4 signing keys.
    pub signing_keys: SigningKeyCache,
    /// Request bounds.
    pub limits: Limits,
    /// Routing settings outside the models (S3 virtual-host suffixes).
    pub routing: rampart_protocol::http::Routing,
    /// Request ids.
    pub request_ids: rampart_service::unique::UniqueIds,
    /// KMS, for the services that encrypt through it.
    pub kms: Arc<rampart_kms::KmsService>,
    /// The event bus services publish to.
    pub events: Arc<crate::events::StoreEventBus>,
    /// In-process subscribers to service events and recorded CloudTrail events.
    pub subscribers: Arc<rampart_service::events::Subscribers>,
    /// TLS certificates, with `--tls`.
    pub tls: Option<Arc<crate::tls::Certificates>>,
    /// ACM Private CA (its CRLs are served over HTTP by the front door).
    pub pca: Arc<rampart_acm::PcaService>,
    /// The metrics registry (`/_rampart/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// What the load balancer proxy's web ACLs decided (exported as metrics).
    pub waf_telemetry: Arc<rampart_wafv2::Telemetry>,
    /// The load balancers and their proxy (whose counters are exported as metrics).
    pub elb: Arc<rampart_elbv2::ElbService>,
    /// S3, for CORS preflights and headers at the front door.
    pub s3: Arc<rampart_s3::S3Service>,
    /// Test-only check of every answer against the model (`--validate-responses`).
    pub response_check: Option<crate::response_check::ResponseCheck>,
}

/// Parameter Store's `/aws/reference/secretsmanager/…` parameters: Secrets Manager's
/// GetSecretValue for the caller of GetParameter, made through Parameter Store.
pub(crate) struct SecretsThroughSsm(pub(crate) Arc<rampart_secretsmanager::SecretsManagerService>);

#[async_trait::async_trait]
impl rampart_ssm::SecretsReference for SecretsThroughSsm {
    async fn resolve(
        &self,
        ctx: &rampart_service::RequestContext,
        secret_id: &str,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<rampart_ssm::ResolvedSecret, rampart_service::AwsError> {
        let sub = ctx.via(
            &rampart_protocol::generated::secretsmanager::MODEL,
            "GetSecretValue",
            "ssm",
        );
        let mut input = serde_json::json!({ "SecretId": secret_id });
        if let Some(v) = version_id {
            input["VersionId"] = v.into();
        }
        if let Some(v) = version_stage {
            input["VersionStage"] = v.into();
        }
        let out = self.0.call(&sub, input).await.map_err(|e| {
            if e.code == "ResourceNotFoundException" {
                // Parameter Store answers for the parameter name it was asked.
                rampart_service::AwsError::new("ParameterNotFound", 400, "")
            } else {
                e
            }
        })?;
        let field = |name: &str| {
            out.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let Some(value) = field("SecretString") else {
            return Err(rampart_service::AwsError::new(
                "ParameterNotFound",
                400,
                "The secret has no SecretString; Parameter Store references return string secrets only.",
            ));
        };
        Ok(rampart_ssm::ResolvedSecret {
            name: field("Name").unwrap_or_default(),
            arn: field("ARN").unwrap_or_default(),
            secret_string: rampart_crypto::SecretString::new(value),
            version_id: field("VersionId").unwrap_or_default(),
        })
    }
}

/// Who an internal event says made the call.
#[derive(Clone, Copy)]
pub(crate) enum Origin {
    /// The calling service named in the context's user agent (`secretsmanager.amazonaws.com`),
    /// as source address and user agent, with the caller's access key.
    CallingService,
    /// The service itself (its events, not a call): this name as source address and user
    /// agent, and no access key.
    Service(&'static str),
}

/// Which internal events are written durably before the call goes on.
#[derive(Clone, Copy)]
pub(crate) enum Durability {
    /// Failed calls durably, successful ones through the batched writer.
    Failures,
    /// Every event durably.
    All,
}

/// Records what services do internally as CloudTrail events of `event_source`: the KMS calls
/// services make for their callers (the event names the caller, with the calling service as
/// source address and user agent), or a service's own events (Secrets Manager's
/// `RotationStarted`, `RotationSucceeded`, …).
pub(crate) struct InternalAuditor {
    pub(crate) auditor: Auditor,
    pub(crate) event_source: &'static str,
    pub(crate) origin: Origin,
    pub(crate) durability: Durability,
    /// CloudTrail's `readOnly` for an operation of the audited service.
    pub(crate) read_only: fn(&str) -> bool,
}

#[async_trait::async_trait]
impl rampart_service::InternalAudit for InternalAuditor {
    async fn record(
        &self,
        ctx: &rampart_service::RequestContext,
        request_parameters: serde_json::Value,
        error: Option<&rampart_service::AwsError>,
    ) {
        let (resources, resource_owners) = ctx
            .audit
            .lock()
            .map(|n| (n.resources.clone(), n.resource_owners.clone()))
            .unwrap_or_default();
        let (source, access_key_id) = match self.origin {
            Origin::CallingService => (ctx.user_agent.clone(), ctx.caller.access_key_id.clone()),
            Origin::Service(name) => (name.to_owned(), None),
        };
        let facts = rampart_audit::EventFacts {
            request_id: ctx.request_id.clone(),
            event_id: Some(ctx.event_id.clone()),
            time_millis: ctx.time.timestamp_millis(),
            event_source: self.event_source.to_owned(),
            event_name: ctx.operation.clone(),
            region: ctx.region.clone(),
            source_ip: source.clone(),
            user_agent: source,
            identity: Some(crate::front::audit_identity(&ctx.caller)),
            access_key_id,
            request_parameters,
            response_elements: serde_json::Value::Null,
            error_code: error.map(|e| e.code.to_string()),
            error_message: error.map(|e| e.message.clone()),
            resources,
            recipient_account: Some(ctx.caller.account.clone()),
            resource_owners,
            shared_event_id: None,
            read_only: (self.read_only)(&ctx.operation),
        };
        match (self.durability, error) {
            (Durability::Failures, None) => self.auditor.record(facts).await,
            _ => self.auditor.record_durably(facts).await,
        }
    }
}

/// The `FIRST-LAST` port range of RAMPART_ELB_PORTS.
pub(crate) fn elb_ports(range: &str) -> Result<(u16, u16), StartError> {
    let parsed = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
        .filter(|(a, b)| *a > 0 && a <= b);
    parsed.ok_or_else(|| {
        StartError(format!(
            "RAMPART_ELB_PORTS: not a FIRST-LAST port range: {range}"
        ))
    })
}

fn start_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StartError + '_ {
    move |e| StartError(format!("{what}: {e}"))
}

const META: &str = "meta";

/// Build the node: open the store, load the root key, create the admin account on first start.
///
/// # Errors
/// When the store, the root key or the data dir cannot be used.
pub async fn build(config: ServeConfig) -> Result<Arc<App>, StartError> {
    build_with(config, crate::registry::SERVICES).await
}

/// Services by model key and their declarations, built in list order on `node`.
async fn build_services(
    node: &mut Node,
    entries: &[Entry],
) -> Result<
    (
        HashMap<&'static str, Arc<dyn Service>>,
        HashMap<&'static str, &'static Registration>,
    ),
    StartError,
> {
    rampart_service::registry::check(entries).map_err(StartError)?;
    let mut services = HashMap::new();
    let mut registrations = HashMap::new();
    for entry in entries {
        let r = entry.registration;
        let service = (entry.build)(node)
            .await
            .map_err(|e| StartError(format!("{}: {e}", r.key())))?;
        // The router dispatches on the service's own table; coverage reads the declaration.
        if service.model().key != r.key() || service.implemented() != r.implemented {
            return Err(StartError(format!(
                "{}: the service's operation table differs from its registration",
                r.key()
            )));
        }
        services.insert(r.key(), service);
        registrations.insert(r.key(), r);
    }
    Ok((services, registrations))
}

/// Build the node serving the services of `entries` (tests add their own).
///
/// # Errors
/// When the store, the root key, the data dir or a service cannot be used.
pub async fn build_with(config: ServeConfig, entries: &[Entry]) -> Result<Arc<App>, StartError> {
    let started = std::time::Instant::now();
    create_private_dir(&config.data_dir)
        .map_err(|e| start_err("cannot create the data dir")(&e))?;
    let store = rampart_store::open(&config.store_url())
        .await
        .map_err(|e| start_err("cannot open the store")(&e))?;
    // Point reads on the request path (access keys, users, keys, parameters, secrets) come
    // from memory; commits invalidate, other nodes' writes are seen through the change stamp.
    let store: Arc<dyn Store> = Arc::new(rampart_store::CachedStore::new(store));
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let store = crate::metrics::TimedStore::wrap(store, Arc::clone(&metrics));
    crate::metrics::ensure_token(&config.data_dir)
        .map_err(|e| start_err("cannot write the metrics token")(&e))?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros(), "store open");
    let provider = rampart_crypto::provider_from_config(&config.root_key, &config.data_dir)
        .map_err(|e| start_err("root key")(&e))?;
    let sealer: Sealer = provider.load().map_err(|e| start_err("root key")(&e))?;
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros(),
        "root key loaded"
    );
    let clock = Arc::new(ManualClock::new());
    let identity = Arc::new(
        Identity::new(Arc::clone(&store), Arc::new(sealer), clock.clone()).with_dev(config.dev),
    );
    let authorizer = Arc::new(IamAuthorizer::new(Arc::clone(&identity)));
    let subscribers = Arc::new(rampart_service::events::Subscribers::new());
    let auditor = Auditor::start_publishing(
        Arc::clone(&store),
        Some(config.data_dir.join("audit")),
        Arc::clone(&subscribers),
    );
    let scheduler = Arc::new(Scheduler::new());
    let lag_metrics = Arc::clone(&metrics);
    scheduler.observe_lag(Arc::new(move |_, lag| lag_metrics.record_lag(lag)));
    let targets = crate::events::Target::parse_list(&config.event_webhooks).map_err(StartError)?;
    let events = Arc::new(
        crate::events::StoreEventBus::new(Arc::clone(&store), targets, clock.clone())
            .with_subscribers(Arc::clone(&subscribers)),
    );
    let delivery = Arc::clone(&events);
    scheduler.every(
        "events.deliver",
        chrono::Duration::seconds(1),
        Arc::new(move |now| {
            let events = Arc::clone(&delivery);
            Box::pin(async move {
                events.deliver_due(now.timestamp_millis()).await;
            })
        }),
    );
    let tls = if config.tls {
        let names: Vec<String> = config
            .tls_names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        let certs = crate::tls::Certificates::start(
            Arc::clone(&store),
            Arc::clone(&identity.sealer),
            names,
            &config.data_dir.join("ca.pem"),
            rampart_service::Clock::now(&*clock).timestamp_millis(),
        )
        .await
        .map_err(|e| StartError(format!("TLS: {e}")))?;
        let renewing = Arc::clone(&certs);
        scheduler.every(
            "tls.renew",
            chrono::Duration::hours(1),
            Arc::new(move |now| {
                let certs = Arc::clone(&renewing);
                Box::pin(async move {
                    if let Err(e) = certs.renew_if_due(now.timestamp_millis()).await {
                        tracing::warn!(error = %e, "TLS certificate renewal failed");
                    }
                })
            }),
        );
        Some(certs)
    } else {
        None
    };
    let mut node = Node::new(
        Arc::clone(&store),
        clock.clone(),
        Arc::clone(&scheduler),
        Arc::clone(&events) as Arc<dyn rampart_service::events::EventBus>,
        Arc::clone(&authorizer) as Arc<dyn rampart_service::Authorizer>,
        config.data_dir.clone(),
    );
    node.provide(Arc::new(config.clone()));
    node.provide(Arc::clone(&identity.sealer));
    node.provide(Arc::clone(&identity));
    node.provide(Arc::clone(&authorizer));
    node.provide(Arc::new(auditor.clone()));
    node.provide(Arc::clone(&subscribers));
    if let Some(certs) = &tls {
        node.provide(Arc::clone(certs));
    }
    let (services, registrations) = build_services(&mut node, entries).await?;
    let kms = node
        .need::<rampart_kms::KmsService>("the node")
        .map_err(StartError)?;
    let pca = node
        .need::<rampart_acm::PcaService>("the node")
        .map_err(StartError)?;
    let waf_telemetry = node
        .need::<rampart_wafv2::Telemetry>("the node")
        .map_err(StartError)?;
    let elb = node
        .need::<rampart_elbv2::ElbService>("the node")
        .map_err(StartError)?;
    let s3 = node
        .need::<rampart_s3::S3Service>("the node")
        .map_err(StartError)?;
    let response_check = config
        .validate_responses
        .as_deref()
        .map(|p| crate::response_check::ResponseCheck::new(p, &config.data_dir));
    let app = App {
        response_check,
        config,
        store,
        identity,
        authorizer,
        services,
        registrations,
        auditor,
        subscribers,
        clock,
        scheduler,
        kms,
        events,
        tls,
        pca,
        metrics,
        waf_telemetry,
        elb,
        s3,
        signing_keys: SigningKeyCache::new(),
        limits: Limits::default(),
        routing: rampart_protocol::http::Routing::default(),
        request_ids: rampart_service::unique::UniqueIds::new(),
    };
    bootstrap(&app).await?;
    tracing::debug!(elapsed_us = started.elapsed().as_micros(), "node ready");
    Ok(Arc::new(app))
}

/// The ACME client settings of ACM's public certificates, when a directory is configured.
pub(crate) fn acme_settings(
    config: &ServeConfig,
) -> Result<Option<rampart_acm::acme::AcmeSettings>, StartError> {
    let Some(directory) = &config.acme_directory else {
        return Ok(None);
    };
    let ca = match &config.acme_ca_file {
        Some(p) => {
            Some(std::fs::read(p).map_err(|e| start_err("cannot read RAMPART_ACME_CA_FILE")(&e))?)
        }
        None => None,
    };
    rampart_acm::acme::AcmeSettings::new(
        directory,
        ca.as_deref(),
        config.acme_dns_resolver.clone(),
        config.acme_http01_listen.map(|a| a.to_string()),
    )
    .map(Some)
    .map_err(|e| StartError(format!("RAMPART_ACME_DIRECTORY: {e}")))
}

/// Where issued certificates say Rampart serves CRLs: the listen address (loopback when it
/// listens on all addresses); a CA's CrlConfiguration `CustomCname` overrides the host.
pub(crate) fn pca_crl_base_url(listen: std::net::SocketAddr) -> String {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// The KMS custom key store settings: CloudHSM clusters and how to reach XKS proxies.
pub(crate) fn key_stores(
    config: &ServeConfig,
) -> Result<rampart_kms::keystore::KeyStores, StartError> {
    let clusters = rampart_kms::keystore::cloudhsm::parse_clusters(&config.cloudhsm_clusters)
        .map_err(|e| start_err("RAMPART_CLOUDHSM_CLUSTERS")(&e))?;
    let ca = match &config.xks_ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| start_err("cannot read RAMPART_XKS_CA_FILE")(&e))?,
        ),
        None => None,
    };
    let xks = rampart_kms::keystore::xks::XksSettings::new(
        ca.as_deref(),
        &config.xks_connect_to,
        std::time::Duration::from_millis(config.xks_timeout_ms),
    )
    .map_err(|e| start_err("XKS proxy settings")(&e))?;
    Ok(rampart_kms::keystore::KeyStores::new(clusters, Some(xks)))
}

/// On first start: create the admin account and its root access key, written to
/// `DATA_DIR/credentials` (mode 0600, profile `rampart`). The secret is never logged.
async fn bootstrap(app: &App) -> Result<(), StartError> {
    let admin = &app.config.admin_account;
    let marker = app
        .store
        .get(META, "admin")
        .await
        .map_err(|e| start_err("store")(&e))?;
    if marker.is_some() {
        return Ok(());
    }
    app.identity
        .ensure_account(admin)
        .await
        .map_err(|e| start_err("store")(&e))?;
    let extra = vec![Op::Put {
        ns: META.into(),
        key: "admin".into(),
        value: admin.as_bytes().to_vec(),
        expect: Expect::Absent,
    }];
    match app.identity.create_access_key(admin, None, extra).await {
        Ok((issued, _)) => {
            write_profile(
                &app.config.data_dir,
                "rampart",
                &issued.access_key_id,
                issued.secret.expose(),
            )
            .map_err(|e| start_err("cannot write the credentials file")(&e))?;
            tracing::info!(account = %admin, access_key_id = %issued.access_key_id, "created the admin account's root access key (profile 'rampart' in the credentials file)");
            Ok(())
        }
        // Another node bootstrapped first.
        Err(e) if e.code == "ConcurrentModification" => Ok(()),
        Err(e) => Err(StartError(format!("bootstrap: {e}"))),
    }
}

/// Add (or replace) a profile in `DATA_DIR/credentials`, mode 0600.
///
/// # Errors
/// File system failures.
pub fn write_profile(
    data_dir: &Path,
    profile: &str,
    access_key_id: &str,
    secret: &[u8],
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("credentials");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let mut kept = String::new();
    let mut skipping = false;
    for line in existing.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            skipping = t == format!("[{profile}]");
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    let tmp = data_dir.join(".credentials.tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(kept.as_bytes())?;
    f.write_all(
        format!("[{profile}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = ")
            .as_bytes(),
    )?;
    f.write_all(secret)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// Create another account with a root access key, written as profile `rampart-<id>`.
///
/// # Errors
/// Store or file failures, or an account that exists already.
pub async fn create_account(app: &App, account: &str) -> Result<String, StartError> {
    if !app
        .identity
        .ensure_account(account)
        .await
        .map_err(|e| start_err("store")(&e))?
    {
        return Err(StartError(format!("account {account} exists already")));
    }
    let (issued, _) = app
        .identity
        .create_access_key(account, None, Vec::new())
        .await
        .map_err(|e| start_err("store")(&e))?;
    let profile = format!("rampart-{account}");
    write_profile(
        &app.config.data_dir,
        &profile,
        &issued.access_key_id,
        issued.secret.expose(),
    )
    .map_err(|e| start_err("credentials file")(&e))?;
    Ok(profile)
}

/// After a dev-mode reset: recreate the admin account and keep its existing credentials valid
/// by re-registering the access key from the credentials file.
///
/// # Errors
/// Store failures.
pub async fn rebootstrap(app: &App) -> Result<(), StartError> {
    let path = app.config.data_dir.join("credentials");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    app.identity
        .ensure_account(&app.config.admin_account)
        .await
        .map_err(|e| start_err("store")(&e))?;
    let mut akid = None;
    let mut secret = None;
    let mut in_profile = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_profile = t == "[rampart]";
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => akid = Some(v.trim().to_owned()),
                "aws_secret_access_key" => {
                    secret = Some(rampart_crypto::SecretString::new(v.trim().to_owned()))
                }
                _ => {}
            }
        }
    }
    let meta = Op::Put {
        ns: META.into(),
        key: "admin".into(),
        value: app.config.admin_account.as_bytes().to_vec(),
        expect: Expect::Any,
    };
    match (akid, secret) {
        (Some(id), Some(secret)) => app
            .identity
            .import_root_key(&app.config.admin_account, &id, secret.expose(), vec![meta])
            .await
            .map_err(|e| start_err("store")(&e)),
        _ => bootstrap(app).await,
    }
}

/// Create the data dir readable by its owner only (it holds the root key and credentials).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
