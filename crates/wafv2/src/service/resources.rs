//! What hangs off a web ACL: logging configurations, associations with load balancers, and the
//! traffic views (sampled requests, rate-based keys) that stay empty until the proxy exists.

use super::{
    from_value, invalid, nonexistent, optimistic_lock, page_size, records, s, to_value,
    AssociationRecord, AwsError, Expect, Kind, LoggingRecord, RequestContext, Value, Wafv2Service,
    BAD_FORMAT, NS_ASSOCIATION, NS_LOGGING,
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
            records::put(NS_LOGGING, &key, &rec, Expect::Any)?,
            records::put(
                Kind::WebAcl.ns(),
                &found.key,
                &found.entity,
                Expect::Version(found.version),
            )?,
        ];
        records::commit(self.store.as_ref(), ops, optimistic_lock).await?;
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
        let rec = records::get::<LoggingRecord>(self.store.as_ref(), NS_LOGGING, &key)
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
        let (key, _) = self.logging_record(ctx, &req.resource_arn).await?;
        records::commit(
            self.store.as_ref(),
            vec![records::delete(NS_LOGGING, &key, Expect::Any)],
            optimistic_lock,
        )
        .await?;
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
        let page = records::list::<LoggingRecord>(
            self.store.as_ref(),
            NS_LOGGING,
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
        let existing = records::get::<AssociationRecord>(
            self.store.as_ref(),
            NS_ASSOCIATION,
            &req.resource_arn,
        )
        .await?;
        let mut ops = Vec::new();
        let assoc_expect = match &existing {
            Some(v) if v.value.web_acl_arn == acl.entity.arn => {
                return Ok(s::AssociateWebACLResponse::default())
            }
            Some(v) => {
                // Associating a resource that has a web ACL replaces it, as on AWS.
                if let Some(old) = records::get::<super::Entity>(
                    self.store.as_ref(),
                    Kind::WebAcl.ns(),
                    &v.value.web_acl_key,
                )
                .await?
                {
                    let mut e = old.value;
                    e.associated.retain(|a| a != &req.resource_arn);
                    ops.push(records::put(
                        Kind::WebAcl.ns(),
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
        ops.push(records::put(
            Kind::WebAcl.ns(),
            &acl.key,
            &acl.entity,
            Expect::Version(acl.version),
        )?);
        let rec = AssociationRecord {
            resource_arn: req.resource_arn.clone(),
            web_acl_arn: acl.entity.arn.clone(),
            web_acl_key: acl.key.clone(),
        };
        ops.push(records::put(
            NS_ASSOCIATION,
            &req.resource_arn,
            &rec,
            assoc_expect,
        )?);
        records::commit(self.store.as_ref(), ops, unavailable_entity).await?;
        ctx.note_resource("webacl", &acl.entity.arn);
        Ok(s::AssociateWebACLResponse::default())
    }

    pub(super) async fn disassociate_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::DisassociateWebACLRequest,
    ) -> Result<s::DisassociateWebACLResponse, AwsError> {
        Self::check_resource(ctx, &req.resource_arn)?;
        let Some(assoc) = records::get::<AssociationRecord>(
            self.store.as_ref(),
            NS_ASSOCIATION,
            &req.resource_arn,
        )
        .await?
        else {
            self.authorize(ctx, &req.resource_arn, &[]).await?;
            return Ok(s::DisassociateWebACLResponse::default());
        };
        let mut ops = vec![records::delete(
            NS_ASSOCIATION,
            &req.resource_arn,
            Expect::Version(assoc.version),
        )];
        if let Some(acl) = records::get::<super::Entity>(
            self.store.as_ref(),
            Kind::WebAcl.ns(),
            &assoc.value.web_acl_key,
        )
        .await?
        {
            self.authorize(ctx, &acl.value.arn, &acl.value.tags).await?;
            let mut e = acl.value;
            e.associated.retain(|a| a != &req.resource_arn);
            ops.push(records::put(
                Kind::WebAcl.ns(),
                &assoc.value.web_acl_key,
                &e,
                Expect::Version(acl.version),
            )?);
        }
        records::commit(self.store.as_ref(), ops, unavailable_entity).await?;
        ctx.note_resource("webacl", &assoc.value.web_acl_arn);
        Ok(s::DisassociateWebACLResponse::default())
    }

    pub(super) async fn get_web_acl_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::GetWebACLForResourceRequest,
    ) -> Result<s::GetWebACLForResourceResponse, AwsError> {
        Self::check_resource(ctx, &req.resource_arn)?;
        let Some(assoc) = records::get::<AssociationRecord>(
            self.store.as_ref(),
            NS_ASSOCIATION,
            &req.resource_arn,
        )
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

    /// Empty until the proxy samples traffic; the time window is echoed as AWS does.
    pub(super) async fn get_sampled_requests(
        &self,
        ctx: &RequestContext,
        req: s::GetSampledRequestsRequest,
    ) -> Result<s::GetSampledRequestsResponse, AwsError> {
        Self::place(ctx, &req.scope)?;
        let acl = self.load_arn(ctx, Kind::WebAcl, &req.web_acl_arn).await?;
        self.authorize(ctx, &acl.entity.arn, &acl.entity.tags)
            .await?;
        if req.time_window.start_time.millis() >= req.time_window.end_time.millis() {
            return Err(invalid("TIME_WINDOW", "TimeWindow", BAD_FORMAT));
        }
        Ok(s::GetSampledRequestsResponse {
            population_size: Some(0),
            sampled_requests: Some(Vec::new()),
            time_window: Some(req.time_window),
        })
    }

    /// Empty until the proxy counts requests; the rule must be a rate-based rule of the web ACL.
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
        let rules = acl
            .entity
            .body
            .get("Rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let found = rules.iter().any(|r| {
            r.get("Name").and_then(Value::as_str) == Some(req.rule_name.as_str())
                && (req.rule_group_rule_name.is_some()
                    || r.get("Statement")
                        .and_then(|st| st.get("RateBasedStatement"))
                        .is_some())
        });
        if !found {
            return Err(nonexistent());
        }
        let empty = |v: &str| s::RateBasedStatementManagedKeysIPSet {
            addresses: Some(Vec::new()),
            ip_address_version: Some(v.to_owned()),
        };
        Ok(s::GetRateBasedStatementManagedKeysResponse {
            managed_keys_ipv4: Some(empty("IPV4")),
            managed_keys_ipv6: Some(empty("IPV6")),
        })
    }
}

fn unavailable_entity() -> AwsError {
    AwsError::new(
        "WAFUnavailableEntityException",
        400,
        "AWS WAF couldn\u{2019}t retrieve a resource that you specified for this operation. If you\u{2019}ve just created a resource that you\u{2019}re using in this operation, you might just need to wait a few minutes. It can take from a few seconds to a number of minutes for changes to propagate. Verify the resources that you are specifying in your request parameters and then retry the operation.",
    )
}
