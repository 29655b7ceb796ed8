//! What the server's integration tests share: a node's settings in a temporary data dir and a
//! request context for the admin account's root user.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Mutex;

use rampart_protocol::model::ServiceModel;
use rampart_server::app::App;
use rampart_server::config::ServeConfig;
use rampart_service::{AuditNotes, RequestContext};

/// The admin account every test node creates.
pub const ADMIN: &str = "000000000000";

/// Settings of a node on an ephemeral port with its data in `dir/data`: SQLite, a root key
/// file, no KMS quotas, no TLS, no webhooks.
pub fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.join("data"),
        store: String::new(),
        root_key: "file".into(),
        dev: false,
        dev_account: ADMIN.into(),
        admin_account: ADMIN.into(),
        kms_quotas: "off".into(),
        cloudhsm_clusters: String::new(),
        xks_ca_file: None,
        tls_certificate_arn: None,
        acme_directory: None,
        acme_ca_file: None,
        oidc_ca_file: None,
        acme_dns_resolver: None,
        acme_http01_listen: None,
        acm_dev_validation_seconds: 5,
        xks_connect_to: String::new(),
        xks_timeout_ms: 2000,
        rotators: String::new(),
        elb_ports: "20000-20999".into(),
        geoip_country_db: None,
        geoip_asn_db: None,
        waf_lists_dir: None,
        waf_crs_dir: None,
        event_webhooks: String::new(),
        tls: false,
        tls_names: String::new(),
        http_listen: None,
        metrics_listen: None,
        validate_responses: None,
    }
}

/// A request context for the admin account's root user, as the front door would make it.
pub async fn root_context(
    app: &App,
    operation: &str,
    model: &'static ServiceModel,
) -> RequestContext {
    let text = std::fs::read_to_string(app.config.data_dir.join("credentials")).expect("creds");
    let akid = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("aws_access_key_id"))
        .and_then(|v| v.split('=').nth(1))
        .map(|v| v.trim().to_owned())
        .expect("access key id");
    let caller = app
        .identity
        .authenticate(&akid, None)
        .await
        .expect("store")
        .map_err(|_| "unknown key")
        .expect("authenticated")
        .caller;
    RequestContext {
        request_id: "req-1".into(),
        event_id: "evt-1".into(),
        model,
        operation: operation.into(),
        region: "us-east-1".into(),
        partition: "aws",
        caller,
        source_ip: "127.0.0.1".parse().expect("ip"),
        user_agent: "test".into(),
        secure_transport: true,
        time: chrono::Utc::now(),
        authorizer: app.authorizer.clone(),
        audit: Mutex::new(AuditNotes::default()),
        via_service: None,
    }
}
