//! The node's one list of services. The router, the scheduler, the audit classification and
//! `rampart coverage` all come from [`SERVICES`]; adding a service is its crate plus one line
//! here (see docs/adding-a-service.md). Services are built in list order, so a service comes
//! after the ones it needs.
//!
//! The builders of the services that predate the list live here because they read the
//! server's settings; a new service's builder lives in its own crate.

use std::sync::Arc;

use rampart_crypto::Sealer;
use rampart_iam::{IamAuthorizer, Identity};
use rampart_service::registry::{BuildFuture, Entry, Node};
use rampart_service::Service;

use crate::app::{
    elb_ports, key_stores, pca_crl_base_url, Durability, InternalAuditor, Origin, SecretsThroughSsm,
};
use crate::config::ServeConfig;

/// Every service a node serves, in build order.
pub static SERVICES: &[Entry] = &[
    Entry {
        registration: &rampart_iam::IAM_REGISTRATION,
        build: iam,
    },
    Entry {
        registration: &rampart_iam::STS_REGISTRATION,
        build: sts,
    },
    Entry {
        registration: &rampart_kms::REGISTRATION,
        build: kms,
    },
    Entry {
        registration: &rampart_secretsmanager::REGISTRATION,
        build: secretsmanager,
    },
    Entry {
        registration: &rampart_ssm::REGISTRATION,
        build: ssm,
    },
    Entry {
        registration: &rampart_acm::PCA_REGISTRATION,
        build: acm_pca,
    },
    Entry {
        registration: &rampart_acm::ACM_REGISTRATION,
        build: acm,
    },
    Entry {
        registration: &rampart_wafv2::REGISTRATION,
        build: wafv2,
    },
    Entry {
        registration: &rampart_elbv2::REGISTRATION,
        build: elbv2,
    },
    Entry {
        registration: &rampart_audit::REGISTRATION,
        build: cloudtrail,
    },
    rampart_s3::ENTRY,
];

fn config(node: &Node) -> Result<Arc<ServeConfig>, String> {
    node.need::<ServeConfig>("the node")
}

fn iam(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let identity = node.need::<Identity>("iam")?;
        Ok(Arc::new(rampart_iam::IamService::new(identity)) as Arc<dyn Service>)
    })
}

fn sts(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let identity = node.need::<Identity>("sts")?;
        let authorizer = node.need::<IamAuthorizer>("sts")?;
        let config = config(node)?;
        let ca = match &config.oidc_ca_file {
            Some(p) => Some(
                std::fs::read(p).map_err(|e| format!("cannot read RAMPART_OIDC_CA_FILE: {e}"))?,
            ),
            None => None,
        };
        let outbound = rampart_iam::IdpConnections::new(ca.as_deref())?;
        Ok(
            Arc::new(rampart_iam::StsService::new(identity, authorizer).with_idp(outbound))
                as Arc<dyn Service>,
        )
    })
}

fn kms(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let config = config(node)?;
        let sealer = node.need::<Sealer>("kms")?;
        let auditor = node.need::<rampart_audit::Auditor>("kms")?;
        let quota_mode = match config.kms_quotas.as_str() {
            "" if config.dev => rampart_kms::quota::QuotaMode::Off,
            "" => rampart_kms::quota::QuotaMode::Aws { scale: 1.0 },
            given => rampart_kms::quota::QuotaMode::parse(given)?,
        };
        let kms = Arc::new(
            rampart_kms::KmsService::new(Arc::clone(&node.store), sealer, Arc::clone(&node.clock))
                .with_quotas(quota_mode)
                .with_internal_audit(Arc::new(InternalAuditor {
                    auditor: (*auditor).clone(),
                    event_source: "kms.amazonaws.com",
                    origin: Origin::CallingService,
                    durability: Durability::Failures,
                    read_only: rampart_kms::REGISTRATION.read_only,
                }))
                .with_key_stores(key_stores(&config).map_err(|e| e.0)?),
        );
        node.every_on(
            "kms.housekeeping",
            chrono::Duration::seconds(60),
            &kms,
            |kms, now| async move {
                kms.housekeeping(now).await;
            },
        );
        node.provide(Arc::clone(&kms));
        Ok(kms as Arc<dyn Service>)
    })
}

fn secretsmanager(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let config = config(node)?;
        let kms = node.need::<rampart_kms::KmsService>("secretsmanager")?;
        let auditor = node.need::<rampart_audit::Auditor>("secretsmanager")?;
        let rotators = rampart_secretsmanager::rotators::Rotators::parse(&config.rotators)?;
        let sm = Arc::new(
            rampart_secretsmanager::SecretsManagerService::new(
                Arc::clone(&node.store),
                kms,
                Arc::clone(&node.clock),
                Arc::clone(&node.events),
                Arc::clone(&node.authorizer),
                rotators,
            )
            .with_audit(Arc::new(InternalAuditor {
                auditor: (*auditor).clone(),
                event_source: "secretsmanager.amazonaws.com",
                origin: Origin::Service("secretsmanager.amazonaws.com"),
                durability: Durability::All,
                // Rotation and other events the service produces change state.
                read_only: |_| false,
            })),
        );
        node.every_on(
            "secretsmanager.housekeeping",
            chrono::Duration::seconds(60),
            &sm,
            |sm, now| async move {
                sm.housekeeping(now).await;
            },
        );
        node.provide(Arc::clone(&sm));
        Ok(sm as Arc<dyn Service>)
    })
}

fn ssm(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let kms = node.need::<rampart_kms::KmsService>("ssm")?;
        let secrets = node.need::<rampart_secretsmanager::SecretsManagerService>("ssm")?;
        let ssm = Arc::new(
            rampart_ssm::SsmService::new(
                Arc::clone(&node.store),
                kms,
                Arc::clone(&node.events),
                Arc::clone(&node.clock),
            )
            .with_secrets(Arc::new(SecretsThroughSsm(secrets))),
        );
        node.every_on(
            "ssm.policies",
            chrono::Duration::seconds(60),
            &ssm,
            |ssm, now| async move {
                ssm.run_policies(now).await;
            },
        );
        Ok(ssm as Arc<dyn Service>)
    })
}

fn acm_pca(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let config = config(node)?;
        let sealer = node.need::<Sealer>("acm-pca")?;
        let pca = Arc::new(rampart_acm::PcaService::new(
            Arc::clone(&node.store),
            sealer,
            Arc::clone(&node.clock),
            pca_crl_base_url(config.listen),
            node.data_dir.join("acm-pca-audit-reports"),
        ));
        node.every_on(
            "acm-pca.housekeeping",
            chrono::Duration::seconds(60),
            &pca,
            |pca, now| async move {
                pca.housekeeping(now).await;
            },
        );
        node.provide(Arc::clone(&pca));
        Ok(pca as Arc<dyn Service>)
    })
}

fn acm(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let config = config(node)?;
        let sealer = node.need::<Sealer>("acm")?;
        let pca = node.need::<rampart_acm::PcaService>("acm")?;
        let mut acm = rampart_acm::AcmService::new(
            Arc::clone(&node.store),
            sealer,
            Arc::clone(&node.clock),
            pca,
        )
        .with_events(Arc::clone(&node.events));
        if let Some(settings) = crate::app::acme_settings(&config).map_err(|e| e.0)? {
            acm = acm.with_acme(settings);
        } else if config.dev {
            acm = acm.with_dev_public(std::time::Duration::from_secs(
                config.acm_dev_validation_seconds,
            ));
        }
        let acm = Arc::new(acm);
        if config.acme_directory.is_some() {
            if let Some(addr) = config.acme_http01_listen {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("RAMPART_ACME_HTTP01_LISTEN: {e}"))?;
                tokio::spawn(rampart_acm::acm::public::serve_http01(
                    Arc::clone(&acm),
                    listener,
                ));
            }
        }
        acm.attach();
        if let (Some(certs), Some(arn)) = (
            node.get::<crate::tls::Certificates>(),
            &config.tls_certificate_arn,
        ) {
            certs
                .present_acm(Arc::clone(&acm), arn)
                .await
                .map_err(|e| format!("RAMPART_TLS_CERTIFICATE_ARN: {e}"))?;
            acm.mark_in_use(arn, &rampart_acm::acm::listener_user(arn));
        }
        node.every_on(
            "acm.acme",
            chrono::Duration::seconds(1),
            &acm,
            |acm, now| async move {
                acm.acme_tick(now).await;
            },
        );
        node.every_on(
            "acm.housekeeping",
            chrono::Duration::seconds(3600),
            &acm,
            |acm, now| async move {
                acm.housekeeping(now).await;
            },
        );
        node.provide(Arc::clone(&acm));
        Ok(acm as Arc<dyn Service>)
    })
}

fn wafv2(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let sealer = node.need::<Sealer>("wafv2")?;
        let keys = Arc::new(rampart_wafv2::secret::WafKeys::new(
            Arc::clone(&node.store),
            sealer,
        ));
        // WAF telemetry: the proxy reports each decision; WAFv2 answers GetSampledRequests and
        // GetRateBasedStatementManagedKeys from it and it writes WAF logs under <data dir>/waf-logs.
        let telemetry =
            rampart_wafv2::Telemetry::new(Arc::clone(&node.store), Arc::clone(&node.clock));
        telemetry.start_logging(node.data_dir.join("waf-logs"), Arc::clone(&node.events));
        // Paging tokens must open on every node over this store: key them from the store-held,
        // sealed WAF master key instead of a per-process random one.
        match keys.sign("rampart:paging-token:v1", b"").await {
            Ok(key) => {
                rampart_service::paging::set_key(&key);
            }
            Err(e) => tracing::warn!(error = %e.message, "paging tokens are keyed per process"),
        }
        // The proxy's web ACLs: compiled here, with the managed IP lists from the directory the
        // server was started with.
        let config = config(node)?;
        let crs = match &config.waf_crs_dir {
            Some(dir) => {
                let crs = rampart_wafv2::crs::load(dir)
                    .map_err(|e| format!("--waf-crs-dir {}: {e}", dir.display()))?;
                tracing::info!(dir = %dir.display(), rules = crs.group().rules.len(), "OWASP Core Rule Set loaded");
                Some(Arc::new(crs))
            }
            None => None,
        };
        let enforcement = Arc::new(
            rampart_wafv2::Enforcement::new(
                Arc::clone(&node.store),
                Arc::clone(&keys),
                Arc::clone(&telemetry),
                config.waf_lists_dir.clone(),
            )
            .with_crs(crs.clone()),
        );
        node.provide(Arc::clone(&keys));
        node.provide(Arc::clone(&telemetry));
        node.provide(enforcement);
        Ok(Arc::new(
            rampart_wafv2::Wafv2Service::new(Arc::clone(&node.store), Arc::clone(&node.clock))
                .with_keys(keys)
                .with_telemetry(telemetry)
                .with_crs(crs),
        ) as Arc<dyn Service>)
    })
}

/// ACM as the proxy's certificate source.
struct AcmCertificates(Arc<rampart_acm::AcmService>);

#[async_trait::async_trait]
impl rampart_proxy::Certificates for AcmCertificates {
    async fn material(&self, arn: &str) -> Result<rampart_proxy::Material, String> {
        let m = self.0.serving_material(arn).await?;
        Ok(rampart_proxy::Material {
            serial: m.serial,
            chain_pem: m.chain_pem,
            key: m.key,
            key_is_pem: m.key_is_pem,
        })
    }
}

/// The ELBv2 API and its data plane: the proxy reads load balancers from ELBv2, web ACLs from
/// WAFv2, certificates from ACM, and reports to WAFv2's telemetry and the bus's subscribers.
fn elbv2(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let config = config(node)?;
        let certificates = node.need::<rampart_acm::AcmService>("elbv2")?;
        let web_acls = node.need::<rampart_wafv2::Enforcement>("elbv2")?;
        let telemetry = node.need::<rampart_wafv2::Telemetry>("elbv2")?;
        let subscribers = node.need::<rampart_service::events::Subscribers>("elbv2")?;
        let geo = Arc::new(
            rampart_waf::GeoDatabases::open(
                config.geoip_country_db.as_deref(),
                config.geoip_asn_db.as_deref(),
            )
            .map_err(|e| e.to_string())?,
        );
        geo.watch(std::time::Duration::from_secs(5));
        let proxy = rampart_proxy::Proxy::new(rampart_proxy::Sources {
            ports: elb_ports(&config.elb_ports).map_err(|e| e.0)?,
            web_acls,
            certificates: Arc::new(AcmCertificates(Arc::clone(&certificates))),
            telemetry: vec![
                telemetry as Arc<dyn rampart_proxy::Telemetry>,
                Arc::new(rampart_proxy::counters::BusCounters::new(subscribers)),
            ],
            geo: Some(geo),
            clock: Arc::clone(&node.clock),
            access_logs: Some(node.data_dir.join("elb-logs")),
        });
        let elb = Arc::new(
            rampart_elbv2::ElbService::new(Arc::clone(&node.store), Arc::clone(&node.clock), proxy)
                .with_certificates(certificates),
        );
        elb.start().await.map_err(|e| format!("elbv2: {e}"))?;
        node.provide(Arc::clone(&elb));
        Ok(elb as Arc<dyn Service>)
    })
}

fn cloudtrail(node: &mut Node) -> BuildFuture<'_> {
    Box::pin(async move {
        let auditor = node.need::<rampart_audit::Auditor>("cloudtrail")?;
        Ok(Arc::new(rampart_audit::CloudTrailService::new(
            Arc::clone(&node.store),
            (*auditor).clone(),
        )) as Arc<dyn Service>)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_is_consistent() {
        rampart_service::registry::check(super::SERVICES).expect("consistent service list");
    }
}
