//! What hangs off a web ACL: logging configurations, associations with load balancers, and the
//! traffic views (sampled requests, rate-based keys) the proxy feeds through
//! [`crate::telemetry`].

use rampart_protocol::types::Timestamp;

use super::{
    from_value, invalid, nonexistent, optimistic_lock, page_size, records, s, to_value,
    AssociationRecord, AwsError, Expect, Kind, LoggingRecord, RequestContext, Value, Wafv2Service,
    BAD_FORMAT,
};

const ALB: &str = "APPLICATION_LOAD_BALANCER";

impl Wafv2Service {
    pub(super) async fn put_logging_configuration(
        &self,
        ctx: &RequestContext,
        req: s::PutLoggingConfigurationRequest,
    ) -> Result<s::PutLoggingConfigurationResponse, AwsError> {
        let mut config = req.logging_configuration;
        let found = self
            .load_arn(ctx, Kind::WebAcl, &config.resource_arn)
            .await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        if config.log_destination_configs.len() != 1 {
            return Err(invalid(
                "LOG_DESTINATION",
                &config.log_destination_configs.join(","),
                BAD_FORMAT,
            ));
        }
        for d in &config.log_destination_configs {
            crate::validate::log_destination(d)?;
        }
        logging_fields(&config)?;
        config.log_type.get_or_insert_with(|| "WAF_LOGS".to_owned());
        config
            .log_scope
            .get_or_insert_with(|| "CUSTOMER".to_owned());
        config.managed_by_firewall_manager = Some(false);
        let place = Self::place(ctx, &found.entity.scope)?;
        let rec = LoggingRecord {
            resource_arn: found.entity.arn.clone(),
            body: to_value(&config)?,
        };
        let key = format!("{}{}", place.prefix(), found.entity.arn);
        let ops = vec![
            records::LOGGINGS.put_op(&key, &rec, Expect::Any)?,
            records::entities(Kind::WebAcl).put_op(
                &found.key,
                &found.entity,
                Expect::Version(found.version),
            )?,
        ];
        records::DB
            .commit_or(self.store.as_ref(), ops, optimistic_lock)
            .await?;
        self.telemetry
            .set_logging(&found.entity.arn, Some(&rec.body));
        ctx.note_resource("webacl", &found.entity.arn);
        Ok(s::PutLoggingConfigurationResponse {
            logging_configuration: Some(config),
        })
    }

    async fn logging_record(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<(String, LoggingRecord), AwsError> {
        let found = self.load_arn(ctx, Kind::WebAcl, arn).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        let place = Self::place(ctx, &found.entity.scope)?;
        let key = format!("{}{}", place.prefix(), found.entity.arn);
        let rec = records::LOGGINGS
            .get(self.store.as_ref(), &key)
            .await?
            .ok_or_else(nonexistent)?;
        Ok((key, rec.value))
    }

    pub(super) async fn get_logging_configuration(
        &self,
        ctx: &RequestContext,
        req: s::GetLoggingConfigurationRequest,
    ) -> Result<s::GetLoggingConfigurationResponse, AwsError> {
        let (_, rec) = self.logging_record(ctx, &req.resource_arn).await?;
        Ok(s::GetLoggingConfigurationResponse {
            logging_configuration: Some(from_value(rec.body)?),
        })
    }

    pub(super) async fn delete_logging_configuration(
        &self,
        ctx: &RequestContext,
        req: s::DeleteLoggingConfigurationRequest,
    ) -> Result<s::DeleteLoggingConfigurationResponse, AwsError> {
        let (key, rec) = self.logging_record(ctx, &req.resource_arn).await?;
        records::DB
            .commit_or(
                self.store.as_ref(),
                vec![records::LOGGINGS.delete_op(&key, Expect::Any)],
                optimistic_lock,
            )
            .await?;
        self.telemetry.set_logging(&rec.resource_arn, None);
        Ok(s::DeleteLoggingConfigurationResponse::default())
    }

    pub(super) async fn list_logging_configurations(
        &self,
        ctx: &RequestContext,
        req: s::ListLoggingConfigurationsRequest,
    ) -> Result<s::ListLoggingConfigurationsResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, Kind::WebAcl, "*", "*"), &[])
            .await?;
        let size = page_size(req.limit);
        let after = req.next_marker.map(|m| format!("{}{m}", place.prefix()));
        let page = records::LOGGINGS
            .list(
                self.store.as_ref(),
                &place.prefix(),
                after.as_deref(),
                size + 1,
            )
            .await?;
        let next = if page.len() > size {
            page.get(size - 1).map(|(_, r)| r.resource_arn.clone())
        } else {
            None
        };
        let configs = page
            .into_iter()
            .take(size)
            .map(|(_, r)| from_value(r.body))
            .collect::<Result<Vec<s::LoggingConfiguration>, _>>()?;
        Ok(s::ListLoggingConfigurationsResponse {
            logging_configurations: Some(configs),
            next_marker: next,
        })
    }

    /// Load balancers are checked for their ARN's form only (not for existence).
    fn check_resource(ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
        crate::validate::load_balancer_arn(arn, &ctx.region, &ctx.caller.account)
    }

    pub(super) async fn associate_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::AssociateWebACLRequest,
    ) -> Result<s::AssociateWebACLResponse, AwsError> {
        Self::check_resource(ctx, &req.resource_arn)?;
        let mut acl = self.load_arn(ctx, Kind::WebAcl, &req.web_acl_arn).await?;
        if acl.entity.scope != "REGIONAL" {
            return Err(invalid(
                "WEB_ACL",
                &req.web_acl_arn,
                "The web ACL scope must be REGIONAL to associate it with a regional resource.",
            ));
        }
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        let existing = records::ASSOCIATIONS
            .get(self.store.as_ref(), &req.resource_arn)
            .await?;
        let mut ops = Vec::new();
        let assoc_expect = match &existing {
            Some(v) if v.value.web_acl_arn == acl.entity.arn => {
                return Ok(s::AssociateWebACLResponse::default())
            }
            Some(v) => {
                // Associating a resource that has a web ACL replaces it, as on AWS.
                if let Some(old) = records::entities(Kind::WebAcl)
                    .get(self.store.as_ref(), &v.value.web_acl_key)
                    .await?
                {
                    let mut e = old.value;
                    e.associated.retain(|a| a != &req.resource_arn);
                    ops.push(records::entities(Kind::WebAcl).put_op(
                        &v.value.web_acl_key,
                        &e,
                        Expect::Version(old.version),
                    )?);
                }
                Expect::Version(v.version)
            }
            None => Expect::Absent,
        };
        acl.entity.associated.push(req.resource_arn.clone());
        ops.push(records::entities(Kind::WebAcl).put_op(
            &acl.key,
            &acl.entity,
            Expect::Version(acl.version),
        )?);
        let rec = AssociationRecord {
            resource_arn: req.resource_arn.clone(),
            web_acl_arn: acl.entity.arn.clone(),
            web_acl_key: acl.key.clone(),
        };
        ops.push(records::ASSOCIATIONS.put_op(&req.resource_arn, &rec, assoc_expect)?);
        records::DB
            .commit_or(self.store.as_ref(), ops, unavailable_entity)
            .await?;
        ctx.note_resource("webacl", &acl.entity.arn);
        Ok(s::AssociateWebACLResponse::default())
    }

    pub(super) async fn disassociate_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::DisassociateWebACLRequest,
    ) -> Result<s::DisassociateWebACLResponse, AwsError> {
        Self::check_resource(ctx, &req.resource_arn)?;
        let Some(assoc) = records::ASSOCIATIONS
            .get(self.store.as_ref(), &req.resource_arn)
            .await?
        else {
            self.authorize(ctx, &req.resource_arn, &[]).await?;
            return Ok(s::DisassociateWebACLResponse::default());
        };
        let mut ops = vec![
            records::ASSOCIATIONS.delete_op(&req.resource_arn, Expect::Version(assoc.version))
        ];
        if let Some(acl) = records::entities(Kind::WebAcl)
            .get(self.store.as_ref(), &assoc.value.web_acl_key)
            .await?
        {
            self.authorize(ctx, &acl.value.arn, &acl.value.tags).await?;
            let mut e = acl.value;
            e.associated.retain(|a| a != &req.resource_arn);
            ops.push(records::entities(Kind::WebAcl).put_op(
                &assoc.value.web_acl_key,
                &e,
                Expect::Version(acl.version),
            )?);
        }
        records::DB
            .commit_or(self.store.as_ref(), ops, unavailable_entity)
            .await?;
        ctx.note_resource("webacl", &assoc.value.web_acl_arn);
        Ok(s::DisassociateWebACLResponse::default())
    }

    pub(super) async fn get_web_acl_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::GetWebACLForResourceRequest,
    ) -> Result<s::GetWebACLForResourceResponse, AwsError> {
        Self::check_resource(ctx, &req.resource_arn)?;
        let Some(assoc) = records::ASSOCIATIONS
            .get(self.store.as_ref(), &req.resource_arn)
            .await?
        else {
            self.authorize(ctx, &req.resource_arn, &[]).await?;
            return Ok(s::GetWebACLForResourceResponse { web_acl: None });
        };
        let acl = self
            .load_arn(ctx, Kind::WebAcl, &assoc.value.web_acl_arn)
            .await?;
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        Ok(s::GetWebACLForResourceResponse {
            web_acl: Some(from_value(acl.entity.body)?),
        })
    }

    pub(super) async fn list_resources_for_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::ListResourcesForWebACLRequest,
    ) -> Result<s::ListResourcesForWebACLResponse, AwsError> {
        let acl = self.load_arn(ctx, Kind::WebAcl, &req.web_acl_arn).await?;
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        let arns = if req.resource_type.as_deref().unwrap_or(ALB) == ALB {
            acl.entity.associated
        } else {
            Vec::new()
        };
        Ok(s::ListResourcesForWebACLResponse {
            resource_arns: Some(arns),
        })
    }

    /// Samples the proxy recorded for the web ACL's metric name (a rule's, or the web ACL's own
    /// for requests that reached the default action) within the previous three hours.
    pub(super) async fn get_sampled_requests(
        &self,
        ctx: &RequestContext,
        req: s::GetSampledRequestsRequest,
    ) -> Result<s::GetSampledRequestsResponse, AwsError> {
        Self::place(ctx, &req.scope)?;
        let acl = self.load_arn(ctx, Kind::WebAcl, &req.web_acl_arn).await?;
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        let (start, end) = (
            req.time_window.start_time.millis(),
            req.time_window.end_time.millis(),
        );
        let now = self.now();
        // AWS: any time range within the previous three hours.
        if start >= end || start < now - crate::telemetry::HORIZON_MS {
            return Err(invalid("TIME_WINDOW", "TimeWindow", BAD_FORMAT));
        }
        if !(1..=500).contains(&req.max_items) {
            return Err(invalid("MAX_ITEMS", &req.max_items.to_string(), BAD_FORMAT));
        }
        if !metric_names(&acl.entity.body).any(|m| m == req.rule_metric_name) {
            return Err(nonexistent());
        }
        let max = usize::try_from(req.max_items).unwrap_or(500);
        let view = self
            .telemetry
            .sampled(&acl.entity.arn, &req.rule_metric_name, start, end, max);
        let header = |(k, v): &(String, String)| s::HTTPHeader {
            name: Some(k.clone()),
            value: Some(v.clone()),
        };
        let sampled = view
            .samples
            .iter()
            .map(|x| {
                let r = &x.request;
                s::SampledHTTPRequest {
                    action: Some(x.action.to_owned()),
                    labels: (!r.labels.is_empty()).then(|| {
                        r.labels
                            .iter()
                            .map(|l| s::Label { name: l.clone() })
                            .collect()
                    }),
                    request: s::HTTPRequest {
                        client_ip: Some(r.client_ip.clone()),
                        country: r.country.clone(),
                        http_version: Some(r.http_version.to_owned()),
                        headers: Some(r.headers.iter().map(header).collect()),
                        method: Some(r.method.clone()),
                        uri: Some(r.uri.clone()),
                    },
                    request_headers_inserted: (!r.inserted.is_empty())
                        .then(|| r.inserted.iter().map(header).collect()),
                    response_code_sent: r.response_code.map(i32::from),
                    rule_name_within_rule_group: x.rule_within_group.clone(),
                    timestamp: Some(Timestamp::from_millis(x.at_ms)),
                    weight: 1,
                    ..Default::default()
                }
            })
            .collect();
        Ok(s::GetSampledRequestsResponse {
            population_size: Some(i64::try_from(view.population).unwrap_or(i64::MAX)),
            sampled_requests: Some(sampled),
            time_window: Some(s::TimeWindow {
                start_time: req.time_window.start_time,
                end_time: Timestamp::from_millis(view.end_ms.min(end)),
            }),
        })
    }

    /// The addresses the rate-based rule currently rate limits, from the live counters of the
    /// load balancers enforcing the web ACL on this node.
    pub(super) async fn get_rate_based_statement_managed_keys(
        &self,
        ctx: &RequestContext,
        req: s::GetRateBasedStatementManagedKeysRequest,
    ) -> Result<s::GetRateBasedStatementManagedKeysResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let acl = self
            .load(&place, Kind::WebAcl, &req.web_acl_name, &req.web_acl_id)
            .await?;
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        let rule_named = |rules: &Value, name: &str| -> Option<Value> {
            rules
                .get("Rules")
                .and_then(Value::as_array)?
                .iter()
                .find(|r| r.get("Name").and_then(Value::as_str) == Some(name))
                .cloned()
        };
        let rule = match &req.rule_group_rule_name {
            None => rule_named(&acl.entity.body, &req.rule_name),
            Some(g) => {
                let outer = rule_named(&acl.entity.body, g).ok_or_else(nonexistent)?;
                let group = outer
                    .get("Statement")
                    .and_then(|st| st.get("RuleGroupReferenceStatement"))
                    .and_then(|r| r.get("ARN"))
                    .and_then(Value::as_str)
                    .ok_or_else(nonexistent)?;
                let group = crate::lookup::entity_by_arn(self.store.as_ref(), group)
                    .await?
                    .ok_or_else(nonexistent)?;
                rule_named(&group.body, &req.rule_name)
            }
        };
        let rate = rule
            .as_ref()
            .and_then(|r| r.get("Statement"))
            .and_then(|st| st.get("RateBasedStatement"))
            .ok_or_else(nonexistent)?;
        let key = rate
            .get("AggregateKeyType")
            .and_then(Value::as_str)
            .unwrap_or("IP");
        if !matches!(key, "IP" | "FORWARDED_IP") {
            return Err(AwsError::new(
                "WAFUnsupportedAggregateKeyTypeException",
                400,
                "The rule that you've named doesn't aggregate solely on the IP address or solely on the forwarded IP address. This call is only available for rate-based rules with an AggregateKeyType setting of IP or FORWARDED_IP.",
            ));
        }
        let keys = self.telemetry.managed_keys(
            &acl.entity.arn,
            &acl.entity.associated,
            &req.rule_name,
            req.rule_group_rule_name.as_deref(),
        );
        let set = |version: &str, addresses: Vec<String>| s::RateBasedStatementManagedKeysIPSet {
            addresses: Some(addresses),
            ip_address_version: Some(version.to_owned()),
        };
        let v4 = keys
            .iter()
            .filter(|ip| ip.is_ipv4())
            .map(|ip| format!("{ip}/32"))
            .collect();
        let v6 = keys
            .iter()
            .filter(|ip| ip.is_ipv6())
            .map(|ip| format!("{ip}/128"))
            .collect();
        Ok(s::GetRateBasedStatementManagedKeysResponse {
            managed_keys_ipv4: Some(set("IPV4", v4)),
            managed_keys_ipv6: Some(set("IPV6", v6)),
        })
    }
}

/// AWS redacts only `SingleHeader`, `UriPath`, `QueryString` and `Method` in logs, one per
/// entry; a filter condition is either an action or a label condition.
fn logging_fields(config: &s::LoggingConfiguration) -> Result<(), AwsError> {
    for f in config.redacted_fields.as_deref().unwrap_or_default() {
        let supported = [
            f.single_header.is_some(),
            f.uri_path.is_some(),
            f.query_string.is_some(),
            f.method.is_some(),
        ]
        .into_iter()
        .filter(|x| *x)
        .count();
        let others = f.all_query_arguments.is_some()
            || f.body.is_some()
            || f.cookies.is_some()
            || f.header_order.is_some()
            || f.headers.is_some()
            || f.ja3_fingerprint.is_some()
            || f.ja4_fingerprint.is_some()
            || f.json_body.is_some()
            || f.single_query_argument.is_some()
            || f.uri_fragment.is_some();
        if supported != 1 || others {
            return Err(invalid("FIELD_TO_MATCH", "RedactedFields", BAD_FORMAT));
        }
    }
    if let Some(lf) = &config.logging_filter {
        for c in lf.filters.iter().flat_map(|f| &f.conditions) {
            if c.action_condition.is_some() == c.label_name_condition.is_some() {
                return Err(invalid("FILTER_CONDITION", "Conditions", BAD_FORMAT));
            }
        }
    }
    Ok(())
}

/// The metric names GetSampledRequests accepts for a web ACL: its own and its rules'.
fn metric_names(body: &Value) -> impl Iterator<Item = &str> {
    let own = body
        .get("VisibilityConfig")
        .and_then(|v| v.get("MetricName"))
        .and_then(Value::as_str);
    let rules = body
        .get("Rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            r.get("VisibilityConfig")
                .and_then(|v| v.get("MetricName"))
                .and_then(Value::as_str)
        });
    own.into_iter().chain(rules)
}

fn unavailable_entity() -> AwsError {
    AwsError::new(
        "WAFUnavailableEntityException",
        400,
        "AWS WAF couldn\u{2019}t retrieve a resource that you specified for this operation. If you\u{2019}ve just created a resource that you\u{2019}re using in this operation, you might just need to wait a few minutes. It can take from a few seconds to a number of minutes for changes to propagate. Verify the resources that you are specifying in your request parameters and then retry the operation.",
    )
}
