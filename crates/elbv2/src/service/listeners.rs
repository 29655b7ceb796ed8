//! Listeners, their certificates and security policies.

use rampart_service::{tags, AwsError, RequestContext};

use crate::errors::{self as err};
use crate::shapes::elbv2 as s;
use crate::ssl_policies;
use crate::state::Listener;

use super::{check_actions, hex_id, lb_path, page, ElbService};

/// Check a listener's `SslPolicy` (HTTPS listeners only).
///
/// # Errors
/// `SSLPolicyNotFound` for an unknown name.
pub fn check_ssl_policy(policy: Option<&str>) -> Result<(), AwsError> {
    match policy {
        Some(p) if ssl_policies::find(p).is_none() => Err(AwsError::new(
            "SSLPolicyNotFound",
            400,
            format!("SSL policy '{p}' not found"),
        )),
        _ => Ok(()),
    }
}

impl ElbService {
    pub(super) fn check_listener_protocol(
        protocol: &str,
        certs: Option<&Vec<s::Certificate>>,
    ) -> Result<(), AwsError> {
        match protocol {
            "HTTP" => Ok(()),
            "HTTPS" => {
                if certs.is_none_or(Vec::is_empty) {
                    return Err(err::validation(
                        "A certificate must be specified for HTTPS listeners",
                    ));
                }
                Ok(())
            }
            other => Err(err::unsupported_protocol(other)),
        }
    }

    /// Mutual TLS needs a trust store, which cannot exist in Rampart (see `trust_stores`).
    pub(super) fn check_mutual_authentication(
        m: Option<&s::MutualAuthenticationAttributes>,
    ) -> Result<(), AwsError> {
        let Some(m) = m else { return Ok(()) };
        match m.mode.as_deref() {
            None | Some("off") => Ok(()),
            Some("verify") => Err(AwsError::new(
                "TrustStoreNotFound",
                400,
                "One or more trust stores not found",
            )),
            Some(other) => Err(AwsError::new(
                "InvalidConfigurationRequest",
                400,
                format!("Mutual authentication mode '{other}' is not supported by Rampart's load balancer"),
            )),
        }
    }

    /// Every certificate must be an issued ACM certificate.
    pub(super) async fn check_certificates(
        &self,
        certs: Option<&Vec<s::Certificate>>,
    ) -> Result<(), AwsError> {
        let source = self.certs.clone();
        for c in certs.into_iter().flatten() {
            let arn = c
                .certificate_arn
                .as_deref()
                .ok_or_else(err::certificate_not_found)?;
            source
                .check(arn)
                .await
                .map_err(|_| err::certificate_not_found())?;
        }
        Ok(())
    }

    /// Show the listener's load balancer in its certificates' `InUseBy`.
    pub(super) fn mark_certificates(&self, l: &s::Listener) {
        let lb = l.load_balancer_arn.as_deref().unwrap_or_default();
        for c in l.certificates.iter().flatten() {
            if let Some(arn) = &c.certificate_arn {
                self.certs.mark_in_use(arn, lb);
            }
        }
    }

    pub(super) async fn create_listener(
        &self,
        ctx: &RequestContext,
        req: s::CreateListenerInput,
    ) -> Result<s::CreateListenerOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let protocol = req.protocol.clone().unwrap_or_else(|| "HTTP".to_owned());
        Self::check_listener_protocol(&protocol, req.certificates.as_ref())?;
        crate::service::listeners::check_ssl_policy(req.ssl_policy.as_deref())?;
        Self::check_mutual_authentication(req.mutual_authentication.as_ref())?;
        self.check_certificates(req.certificates.as_ref()).await?;
        let ssl_policy = (protocol == "HTTPS").then(|| {
            req.ssl_policy
                .clone()
                .unwrap_or_else(|| crate::ssl_policies::DEFAULT_POLICY.to_owned())
        });
        let port = req.port.unwrap_or(80);
        if !(1..=65535).contains(&port) {
            return Err(err::validation("Port must be between 1 and 65535"));
        }
        let tags = tags::pairs(req.tags.clone().unwrap_or_default());
        let out = self
            .mutate(ctx, |st| {
                if !st.lbs.contains_key(&req.load_balancer_arn) {
                    return Err(err::lb_not_found());
                }
                if st
                    .listeners_of(&req.load_balancer_arn)
                    .iter()
                    .any(|l| l.desc.port == Some(port))
                {
                    return Err(err::duplicate_listener());
                }
                check_actions(st, &req.default_actions)?;
                let arn = Self::arn(
                    ctx,
                    &format!("listener/{}/{}", lb_path(&req.load_balancer_arn), hex_id()),
                );
                let desc = s::Listener {
                    certificates: req.certificates.clone(),
                    default_actions: Some(req.default_actions.clone()),
                    listener_arn: Some(arn.clone()),
                    load_balancer_arn: Some(req.load_balancer_arn.clone()),
                    port: Some(port),
                    protocol: Some(protocol.clone()),
                    ssl_policy: ssl_policy.clone(),
                    ..Default::default()
                };
                st.listeners.insert(
                    arn.clone(),
                    Listener {
                        desc: desc.clone(),
                        extra_certificates: Vec::new(),
                        attributes: std::collections::BTreeMap::new(),
                    },
                );
                if !tags.is_empty() {
                    st.tags.insert(arn, tags.clone());
                }
                Ok(desc)
            })
            .await?;
        self.mark_certificates(&out);
        if let Some(a) = &out.listener_arn {
            ctx.note_resource("AWS::ElasticLoadBalancingV2::Listener", a);
        }
        Ok(s::CreateListenerOutput {
            listeners: Some(vec![out]),
        })
    }

    pub(super) async fn describe_listeners(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenersInput,
    ) -> Result<s::DescribeListenersOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (st, _) = self.load(ctx).await?;
        let out: Vec<s::Listener> = if let Some(arns) = &req.listener_arns {
            arns.iter()
                .map(|a| {
                    st.listeners
                        .get(a)
                        .map(|l| l.desc.clone())
                        .ok_or_else(err::listener_not_found)
                })
                .collect::<Result<_, _>>()?
        } else if let Some(lb) = &req.load_balancer_arn {
            if !st.lbs.contains_key(lb) {
                return Err(err::lb_not_found());
            }
            st.listeners_of(lb)
                .into_iter()
                .map(|l| l.desc.clone())
                .collect()
        } else {
            return Err(err::validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ));
        };
        let (out, next_marker) = page(
            ctx,
            "DescribeListeners",
            out,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeListenersOutput {
            listeners: Some(out),
            next_marker,
        })
    }

    pub(super) async fn modify_listener(
        &self,
        ctx: &RequestContext,
        req: s::ModifyListenerInput,
    ) -> Result<s::ModifyListenerOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        crate::service::listeners::check_ssl_policy(req.ssl_policy.as_deref())?;
        Self::check_mutual_authentication(req.mutual_authentication.as_ref())?;
        self.check_certificates(req.certificates.as_ref()).await?;
        let out = self
            .mutate(ctx, |st| {
                let cur = st
                    .listeners
                    .get(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?
                    .desc
                    .clone();
                let mut next = cur.clone();
                if let Some(p) = &req.protocol {
                    next.protocol = Some(p.clone());
                }
                if let Some(c) = &req.certificates {
                    next.certificates = Some(c.clone());
                }
                Self::check_listener_protocol(
                    next.protocol.as_deref().unwrap_or("HTTP"),
                    next.certificates.as_ref(),
                )?;
                if let Some(p) = req.port {
                    if !(1..=65535).contains(&p) {
                        return Err(err::validation("Port must be between 1 and 65535"));
                    }
                    let lb = cur.load_balancer_arn.clone().unwrap_or_default();
                    if st
                        .listeners_of(&lb)
                        .iter()
                        .any(|l| l.desc.port == Some(p) && l.desc.listener_arn != cur.listener_arn)
                    {
                        return Err(err::duplicate_listener());
                    }
                    next.port = Some(p);
                }
                if let Some(a) = &req.default_actions {
                    check_actions(st, a)?;
                    next.default_actions = Some(a.clone());
                }
                if let Some(p) = &req.ssl_policy {
                    next.ssl_policy = Some(p.clone());
                }
                if next.protocol.as_deref() == Some("HTTPS") {
                    if next.ssl_policy.is_none() {
                        next.ssl_policy = Some(crate::ssl_policies::DEFAULT_POLICY.to_owned());
                    }
                } else {
                    next.ssl_policy = None;
                }
                let (extra_certificates, attributes) = st
                    .listeners
                    .get(&req.listener_arn)
                    .map(|l| (l.extra_certificates.clone(), l.attributes.clone()))
                    .unwrap_or_default();
                st.listeners.insert(
                    req.listener_arn.clone(),
                    Listener {
                        desc: next.clone(),
                        extra_certificates,
                        attributes,
                    },
                );
                Ok(next)
            })
            .await?;
        self.mark_certificates(&out);
        Ok(s::ModifyListenerOutput {
            listeners: Some(vec![out]),
        })
    }

    pub(super) async fn delete_listener(
        &self,
        ctx: &RequestContext,
        req: s::DeleteListenerInput,
    ) -> Result<s::DeleteListenerOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let arn = req.listener_arn.clone();
        self.mutate(ctx, |st| {
            if st.listeners.remove(&arn).is_none() {
                return Err(err::listener_not_found());
            }
            st.tags.remove(&arn);
            let rules: Vec<String> = st
                .rules
                .iter()
                .filter(|(_, r)| r.listener_arn == arn)
                .map(|(k, _)| k.clone())
                .collect();
            for r in rules {
                st.rules.remove(&r);
                st.tags.remove(&r);
            }
            Ok(())
        })
        .await?;
        Ok(s::DeleteListenerOutput::default())
    }

    pub(super) async fn add_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::AddListenerCertificatesInput,
    ) -> Result<s::AddListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        self.check_certificates(Some(&req.certificates)).await?;
        let arns: Vec<String> = req
            .certificates
            .iter()
            .filter_map(|c| c.certificate_arn.clone())
            .collect();
        let lb = self
            .mutate(ctx, |st| {
                let l = st
                    .listeners
                    .get_mut(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?;
                if l.desc.protocol.as_deref() != Some("HTTPS") {
                    return Err(err::validation(
                        "Certificates can only be added to HTTPS listeners",
                    ));
                }
                for a in &arns {
                    if !l.extra_certificates.contains(a) {
                        l.extra_certificates.push(a.clone());
                    }
                }
                Ok(l.desc.load_balancer_arn.clone().unwrap_or_default())
            })
            .await?;
        for a in &arns {
            self.certs.mark_in_use(a, &lb);
        }
        Ok(s::AddListenerCertificatesOutput {
            certificates: Some(
                arns.into_iter()
                    .map(|a| s::Certificate {
                        certificate_arn: Some(a),
                        is_default: Some(false),
                    })
                    .collect(),
            ),
        })
    }

    pub(super) async fn describe_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenerCertificatesInput,
    ) -> Result<s::DescribeListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let l = st
            .listeners
            .get(&req.listener_arn)
            .ok_or_else(err::listener_not_found)?;
        let mut out: Vec<s::Certificate> = l
            .desc
            .certificates
            .iter()
            .flatten()
            .map(|c| s::Certificate {
                certificate_arn: c.certificate_arn.clone(),
                is_default: Some(true),
            })
            .collect();
        out.extend(l.extra_certificates.iter().map(|a| s::Certificate {
            certificate_arn: Some(a.clone()),
            is_default: Some(false),
        }));
        let (out, next_marker) = page(
            ctx,
            "DescribeListenerCertificates",
            out,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeListenerCertificatesOutput {
            certificates: Some(out),
            next_marker,
        })
    }

    pub(super) async fn remove_listener_certificates(
        &self,
        ctx: &RequestContext,
        req: s::RemoveListenerCertificatesInput,
    ) -> Result<s::RemoveListenerCertificatesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        self.mutate(ctx, |st| {
            let l = st
                .listeners
                .get_mut(&req.listener_arn)
                .ok_or_else(err::listener_not_found)?;
            for c in &req.certificates {
                let Some(a) = &c.certificate_arn else {
                    continue;
                };
                let is_default = l
                    .desc
                    .certificates
                    .iter()
                    .flatten()
                    .any(|d| d.certificate_arn.as_ref() == Some(a));
                if is_default {
                    return Err(AwsError::new(
                        "OperationNotPermitted",
                        400,
                        "The default certificate of a listener cannot be removed",
                    ));
                }
                l.extra_certificates.retain(|x| x != a);
            }
            Ok(())
        })
        .await?;
        Ok(s::RemoveListenerCertificatesOutput::default())
    }

    pub(crate) async fn describe_ssl_policies(
        &self,
        ctx: &RequestContext,
        req: s::DescribeSSLPoliciesInput,
    ) -> Result<s::DescribeSSLPoliciesOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let policies: Vec<&ssl_policies::Policy> = match &req.names {
            Some(names) if !names.is_empty() => names
                .iter()
                .map(|n| {
                    ssl_policies::find(n).ok_or_else(|| {
                        AwsError::new(
                            "SSLPolicyNotFound",
                            400,
                            format!("SSL policy '{n}' not found"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => match req.load_balancer_type.as_deref() {
                None | Some("application" | "network") => ssl_policies::POLICIES.iter().collect(),
                Some(_) => Vec::new(),
            },
        };
        let (out, next_marker) = page(
            ctx,
            "DescribeSSLPolicies",
            policies,
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeSSLPoliciesOutput {
            next_marker,
            ssl_policies: Some(
                out.into_iter()
                    .map(|p| s::SslPolicy {
                        ciphers: Some(
                            p.cipher_names()
                                .zip(1..)
                                .map(|(n, i)| s::Cipher {
                                    name: Some(n.to_owned()),
                                    priority: Some(i),
                                })
                                .collect(),
                        ),
                        name: Some(p.name.to_owned()),
                        ssl_protocols: Some(p.protocols.iter().map(|x| (*x).to_owned()).collect()),
                        supported_load_balancer_types: Some(vec![
                            "application".to_owned(),
                            "network".to_owned(),
                        ]),
                    })
                    .collect(),
            ),
        })
    }
}
