//! Web ACLs, rule groups, IP sets and regex pattern sets: create, get, update, delete, list,
//! with AWS's lock tokens.

use rampart_service::tags;

use super::{
    associated, duplicate, from_value, invalid, limits_exceeded, new_token, nonexistent,
    optimistic_lock, page_size, records, s, to_value, AwsError, Entity, Expect, Found, Kind, Op,
    Owner, Place, RequestContext, Value, Wafv2Service, MAX_CAPACITY, MAX_TAGS,
};

/// WAFv2's tag rules: only the count is enforced here (the model checks lengths and pattern).
const TAG_RULES: tags::Rules = tags::Rules {
    max: MAX_TAGS,
    reserved_any_case: false,
    answer: |v| matches!(v, tags::Violation::TooMany { .. }).then(limits_exceeded),
};

impl tags::TagShape for s::Tag {
    fn from_pair(key: String, value: String) -> Self {
        s::Tag { key, value }
    }
    fn into_pair(self) -> (String, String) {
        (self.key, self.value)
    }
}

fn summary<T: serde::de::DeserializeOwned>(e: &Entity) -> Result<T, AwsError> {
    from_value(serde_json::json!({
        "ARN": e.arn, "Id": e.id, "Name": e.name, "Description": e.description, "LockToken": e.lock_token,
    }))
}

/// The locator fields every Get request has: name, scope and id, or the ARN.
struct Locator {
    name: Option<String>,
    scope: Option<String>,
    id: Option<String>,
    arn: Option<String>,
}

impl Wafv2Service {
    #[allow(clippy::too_many_arguments)]
    async fn create_entity(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        place: &Place,
        name: &str,
        description: Option<String>,
        tags: Vec<(String, String)>,
        body: impl FnOnce(&str, &str) -> Result<Value, AwsError>,
    ) -> Result<Entity, AwsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let arn = Self::arn(ctx, place, kind, name, &id);
        self.authorize(ctx, &arn, &tags).await?;
        let now = self.now();
        let entity = Entity {
            kind,
            body: body(&arn, &id)?,
            id,
            name: name.to_owned(),
            arn,
            scope: place.scope.to_owned(),
            account: place.account.clone(),
            region: ctx.region.clone(),
            description,
            lock_token: new_token(),
            tags,
            associated: Vec::new(),
            created: now,
            updated: now,
        };
        let op = records::entities(kind).put_op(&place.key_of(name), &entity, Expect::Absent)?;
        records::DB
            .commit_or(self.store.as_ref(), vec![op], duplicate)
            .await?;
        ctx.note_resource(kind.arn_word(), &entity.arn);
        Ok(entity)
    }

    /// Replace an entity's body if `token` is current; answers the next lock token.
    #[allow(clippy::too_many_arguments)]
    async fn update_entity(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        place: &Place,
        name: &str,
        id: &str,
        token: &str,
        description: Option<String>,
        body: impl FnOnce(&Entity) -> Result<Value, AwsError>,
    ) -> Result<String, AwsError> {
        let found = self.load(place, kind, name, id).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        if found.entity.lock_token != token {
            return Err(optimistic_lock());
        }
        let mut e = found.entity;
        e.body = body(&e)?;
        e.description = description;
        e.lock_token = new_token();
        e.updated = self.now();
        let op = records::entities(kind).put_op(&found.key, &e, Expect::Version(found.version))?;
        records::DB
            .commit_or(self.store.as_ref(), vec![op], optimistic_lock)
            .await?;
        ctx.note_resource(kind.arn_word(), &e.arn);
        Ok(e.lock_token)
    }

    async fn delete_entity(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: &str,
        name: &str,
        id: &str,
        token: &str,
    ) -> Result<(), AwsError> {
        let place = Self::place(ctx, scope)?;
        let found = self.load(&place, kind, name, id).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        if found.entity.lock_token != token {
            return Err(optimistic_lock());
        }
        if !found.entity.associated.is_empty() {
            return Err(associated());
        }
        if kind != Kind::WebAcl && self.referenced(&place, &found.entity.arn).await? {
            return Err(associated());
        }
        let mut ops =
            vec![records::entities(kind).delete_op(&found.key, Expect::Version(found.version))];
        if kind == Kind::RuleGroup {
            ops.push(super::sharing::POLICIES.delete_op(&found.entity.arn, Expect::Any));
        }
        if kind == Kind::WebAcl {
            ops.push(records::LOGGINGS.delete_op(
                &format!("{}{}", place.prefix(), found.entity.arn),
                Expect::Any,
            ));
        }
        records::DB
            .commit_or(self.store.as_ref(), ops, optimistic_lock)
            .await?;
        ctx.note_resource(kind.arn_word(), &found.entity.arn);
        Ok(())
    }

    async fn get_entity(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        l: Locator,
    ) -> Result<Found, AwsError> {
        let found = if let Some(arn) = l.arn {
            if kind == Kind::RuleGroup && !Self::own_arn(ctx, &arn) {
                // Another account's rule group, shared with wafv2:GetRuleGroup.
                let entity = self
                    .shared_rule_group(ctx, &arn, "wafv2:GetRuleGroup")
                    .await?;
                return Ok(Found {
                    key: String::new(),
                    version: 0,
                    entity,
                });
            }
            self.load_arn(ctx, kind, &arn).await?
        } else {
            let (Some(name), Some(scope), Some(id)) = (l.name, l.scope, l.id) else {
                return Err(invalid(
                    "RESOURCE_ARN",
                    "ARN",
                    "You must specify either the ARN or the name, scope and ID.",
                ));
            };
            let place = Self::place(ctx, &scope)?;
            self.load(&place, kind, &name, &id).await?
        };
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        ctx.note_resource(kind.arn_word(), &found.entity.arn);
        Ok(found)
    }

    async fn list_entities<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: &str,
        limit: Option<i32>,
        marker: Option<String>,
    ) -> Result<(Vec<T>, Option<String>), AwsError> {
        let place = Self::place(ctx, scope)?;
        self.authorize(ctx, &Self::arn(ctx, &place, kind, "*", "*"), &[])
            .await?;
        let size = page_size(limit);
        let after = marker.map(|m| place.key_of(&m));
        let page = records::entities(kind)
            .list(
                self.store.as_ref(),
                &place.prefix(),
                after.as_deref(),
                size + 1,
            )
            .await?;
        let more = page.len() > size;
        let items: Vec<&Entity> = page.iter().take(size).map(|(_, e)| e).collect();
        let next = if more {
            items.last().map(|e| e.name.clone())
        } else {
            None
        };
        let out = items
            .iter()
            .map(|e| summary(e))
            .collect::<Result<Vec<T>, _>>()?;
        Ok((out, next))
    }

    fn web_acl_body(
        place: &Place,
        arn: &str,
        id: &str,
        name: &str,
        wcu: i64,
        fields: s::WebACL,
    ) -> Result<Value, AwsError> {
        if wcu > MAX_CAPACITY {
            return Err(limits_exceeded());
        }
        to_value(&s::WebACL {
            arn: arn.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            capacity: Some(wcu),
            label_namespace: Some(format!("awswaf:{}:webacl:{name}:", place.account)),
            managed_by_firewall_manager: Some(false),
            retrofitted_by_firewall_manager: Some(false),
            ..fields
        })
    }

    pub(super) async fn create_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::CreateWebACLRequest,
    ) -> Result<s::CreateWebACLResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let (_, wcu) = self
            .check_rules(ctx, &place, req.rules.as_ref(), Owner::WebAcl)
            .await?;
        let tags = TAG_RULES.on_create(req.tags.unwrap_or_default())?;
        let name = req.name.clone();
        let fields = s::WebACL {
            association_config: req.association_config,
            captcha_config: req.captcha_config,
            challenge_config: req.challenge_config,
            custom_response_bodies: req.custom_response_bodies,
            data_protection_config: req.data_protection_config,
            default_action: req.default_action,
            description: req.description.clone(),
            rules: Some(req.rules.unwrap_or_default()),
            token_domains: req.token_domains,
            visibility_config: req.visibility_config,
            ..Default::default()
        };
        let e = self
            .create_entity(
                ctx,
                Kind::WebAcl,
                &place,
                &name,
                req.description,
                tags,
                |arn, id| Self::web_acl_body(&place, arn, id, &name, wcu, fields),
            )
            .await?;
        Ok(s::CreateWebACLResponse {
            summary: Some(summary(&e)?),
        })
    }

    pub(super) async fn get_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::GetWebACLRequest,
    ) -> Result<s::GetWebACLResponse, AwsError> {
        let f = self
            .get_entity(
                ctx,
                Kind::WebAcl,
                Locator {
                    name: req.name,
                    scope: req.scope,
                    id: req.id,
                    arn: req.arn,
                },
            )
            .await?;
        Ok(s::GetWebACLResponse {
            application_integration_url: None,
            lock_token: Some(f.entity.lock_token),
            web_acl: Some(from_value(f.entity.body)?),
        })
    }

    pub(super) async fn update_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::UpdateWebACLRequest,
    ) -> Result<s::UpdateWebACLResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let (_, wcu) = self
            .check_rules(ctx, &place, req.rules.as_ref(), Owner::WebAcl)
            .await?;
        let fields = s::WebACL {
            association_config: req.association_config,
            captcha_config: req.captcha_config,
            challenge_config: req.challenge_config,
            custom_response_bodies: req.custom_response_bodies,
            data_protection_config: req.data_protection_config,
            default_action: req.default_action,
            description: req.description.clone(),
            rules: Some(req.rules.unwrap_or_default()),
            token_domains: req.token_domains,
            visibility_config: req.visibility_config,
            ..Default::default()
        };
        let token = self
            .update_entity(
                ctx,
                Kind::WebAcl,
                &place,
                &req.name,
                &req.id,
                &req.lock_token,
                req.description,
                |e| Self::web_acl_body(&place, &e.arn, &e.id, &e.name, wcu, fields),
            )
            .await?;
        Ok(s::UpdateWebACLResponse {
            next_lock_token: Some(token),
        })
    }

    pub(super) async fn delete_web_acl(
        &self,
        ctx: &RequestContext,
        req: s::DeleteWebACLRequest,
    ) -> Result<s::DeleteWebACLResponse, AwsError> {
        self.delete_entity(
            ctx,
            Kind::WebAcl,
            &req.scope,
            &req.name,
            &req.id,
            &req.lock_token,
        )
        .await?;
        Ok(s::DeleteWebACLResponse::default())
    }

    pub(super) async fn list_web_acls(
        &self,
        ctx: &RequestContext,
        req: s::ListWebACLsRequest,
    ) -> Result<s::ListWebACLsResponse, AwsError> {
        let (items, next) = self
            .list_entities(ctx, Kind::WebAcl, &req.scope, req.limit, req.next_marker)
            .await?;
        Ok(s::ListWebACLsResponse {
            next_marker: next,
            web_ac_ls: Some(items),
        })
    }

    fn rule_group_body(
        place: &Place,
        arn: &str,
        id: &str,
        name: &str,
        capacity: i64,
        wcu: i64,
        fields: s::RuleGroup,
    ) -> Result<Value, AwsError> {
        if wcu > capacity {
            return Err(invalid(
                "RULE_GROUP",
                &wcu.to_string(),
                "The rules need more capacity than the rule group has.",
            ));
        }
        let namespace = format!("awswaf:{}:rulegroup:{name}:", place.account);
        let labels: Vec<s::LabelSummary> = fields
            .rules
            .iter()
            .flatten()
            .flat_map(|r| r.rule_labels.iter().flatten())
            .map(|l| s::LabelSummary {
                name: Some(format!("{namespace}{}", l.name)),
            })
            .collect();
        to_value(&s::RuleGroup {
            arn: arn.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            capacity,
            available_labels: Some(labels),
            consumed_labels: Some(Vec::new()),
            label_namespace: Some(namespace),
            ..fields
        })
    }

    pub(super) async fn create_rule_group(
        &self,
        ctx: &RequestContext,
        req: s::CreateRuleGroupRequest,
    ) -> Result<s::CreateRuleGroupResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        if req.capacity > MAX_CAPACITY {
            return Err(limits_exceeded());
        }
        let (_, wcu) = self
            .check_rules(ctx, &place, req.rules.as_ref(), Owner::RuleGroup)
            .await?;
        let tags = TAG_RULES.on_create(req.tags.unwrap_or_default())?;
        let name = req.name.clone();
        let capacity = req.capacity;
        let fields = s::RuleGroup {
            custom_response_bodies: req.custom_response_bodies,
            description: req.description.clone(),
            rules: Some(req.rules.unwrap_or_default()),
            visibility_config: req.visibility_config,
            ..Default::default()
        };
        let e = self
            .create_entity(
                ctx,
                Kind::RuleGroup,
                &place,
                &name,
                req.description,
                tags,
                |arn, id| Self::rule_group_body(&place, arn, id, &name, capacity, wcu, fields),
            )
            .await?;
        Ok(s::CreateRuleGroupResponse {
            summary: Some(summary(&e)?),
        })
    }

    pub(super) async fn get_rule_group(
        &self,
        ctx: &RequestContext,
        req: s::GetRuleGroupRequest,
    ) -> Result<s::GetRuleGroupResponse, AwsError> {
        let f = self
            .get_entity(
                ctx,
                Kind::RuleGroup,
                Locator {
                    name: req.name,
                    scope: req.scope,
                    id: req.id,
                    arn: req.arn,
                },
            )
            .await?;
        Ok(s::GetRuleGroupResponse {
            lock_token: Some(f.entity.lock_token),
            rule_group: Some(from_value(f.entity.body)?),
        })
    }

    pub(super) async fn update_rule_group(
        &self,
        ctx: &RequestContext,
        req: s::UpdateRuleGroupRequest,
    ) -> Result<s::UpdateRuleGroupResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let (_, wcu) = self
            .check_rules(ctx, &place, req.rules.as_ref(), Owner::RuleGroup)
            .await?;
        let fields = s::RuleGroup {
            custom_response_bodies: req.custom_response_bodies,
            description: req.description.clone(),
            rules: Some(req.rules.unwrap_or_default()),
            visibility_config: req.visibility_config,
            ..Default::default()
        };
        let token = self
            .update_entity(
                ctx,
                Kind::RuleGroup,
                &place,
                &req.name,
                &req.id,
                &req.lock_token,
                req.description,
                |e| {
                    let capacity = e.body.get("Capacity").and_then(Value::as_i64).unwrap_or(0);
                    Self::rule_group_body(&place, &e.arn, &e.id, &e.name, capacity, wcu, fields)
                },
            )
            .await?;
        Ok(s::UpdateRuleGroupResponse {
            next_lock_token: Some(token),
        })
    }

    pub(super) async fn delete_rule_group(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRuleGroupRequest,
    ) -> Result<s::DeleteRuleGroupResponse, AwsError> {
        self.delete_entity(
            ctx,
            Kind::RuleGroup,
            &req.scope,
            &req.name,
            &req.id,
            &req.lock_token,
        )
        .await?;
        Ok(s::DeleteRuleGroupResponse::default())
    }

    pub(super) async fn list_rule_groups(
        &self,
        ctx: &RequestContext,
        req: s::ListRuleGroupsRequest,
    ) -> Result<s::ListRuleGroupsResponse, AwsError> {
        let (items, next) = self
            .list_entities(ctx, Kind::RuleGroup, &req.scope, req.limit, req.next_marker)
            .await?;
        Ok(s::ListRuleGroupsResponse {
            next_marker: next,
            rule_groups: Some(items),
        })
    }

    pub(super) async fn create_ip_set(
        &self,
        ctx: &RequestContext,
        req: s::CreateIPSetRequest,
    ) -> Result<s::CreateIPSetResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        crate::validate::ip_addresses(&req.ip_address_version, &req.addresses)?;
        let tags = TAG_RULES.on_create(req.tags.unwrap_or_default())?;
        let name = req.name.clone();
        let (description, version, addresses) = (
            req.description.clone(),
            req.ip_address_version,
            req.addresses,
        );
        let e = self
            .create_entity(
                ctx,
                Kind::IpSet,
                &place,
                &name,
                req.description,
                tags,
                |arn, id| {
                    to_value(&s::IPSet {
                        arn: arn.to_owned(),
                        id: id.to_owned(),
                        name: name.clone(),
                        description,
                        ip_address_version: version,
                        addresses,
                    })
                },
            )
            .await?;
        Ok(s::CreateIPSetResponse {
            summary: Some(summary(&e)?),
        })
    }

    pub(super) async fn get_ip_set(
        &self,
        ctx: &RequestContext,
        req: s::GetIPSetRequest,
    ) -> Result<s::GetIPSetResponse, AwsError> {
        let f = self
            .get_entity(
                ctx,
                Kind::IpSet,
                Locator {
                    name: Some(req.name),
                    scope: Some(req.scope),
                    id: Some(req.id),
                    arn: None,
                },
            )
            .await?;
        Ok(s::GetIPSetResponse {
            ip_set: Some(from_value(f.entity.body)?),
            lock_token: Some(f.entity.lock_token),
        })
    }

    pub(super) async fn update_ip_set(
        &self,
        ctx: &RequestContext,
        req: s::UpdateIPSetRequest,
    ) -> Result<s::UpdateIPSetResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let description = req.description.clone();
        let addresses = req.addresses;
        let token = self
            .update_entity(
                ctx,
                Kind::IpSet,
                &place,
                &req.name,
                &req.id,
                &req.lock_token,
                req.description,
                |e| {
                    let mut set: s::IPSet = from_value(e.body.clone())?;
                    crate::validate::ip_addresses(&set.ip_address_version, &addresses)?;
                    set.addresses = addresses;
                    set.description = description;
                    to_value(&set)
                },
            )
            .await?;
        Ok(s::UpdateIPSetResponse {
            next_lock_token: Some(token),
        })
    }

    pub(super) async fn delete_ip_set(
        &self,
        ctx: &RequestContext,
        req: s::DeleteIPSetRequest,
    ) -> Result<s::DeleteIPSetResponse, AwsError> {
        self.delete_entity(
            ctx,
            Kind::IpSet,
            &req.scope,
            &req.name,
            &req.id,
            &req.lock_token,
        )
        .await?;
        Ok(s::DeleteIPSetResponse::default())
    }

    pub(super) async fn list_ip_sets(
        &self,
        ctx: &RequestContext,
        req: s::ListIPSetsRequest,
    ) -> Result<s::ListIPSetsResponse, AwsError> {
        let (items, next) = self
            .list_entities(ctx, Kind::IpSet, &req.scope, req.limit, req.next_marker)
            .await?;
        Ok(s::ListIPSetsResponse {
            next_marker: next,
            ip_sets: Some(items),
        })
    }

    pub(super) async fn create_regex_pattern_set(
        &self,
        ctx: &RequestContext,
        req: s::CreateRegexPatternSetRequest,
    ) -> Result<s::CreateRegexPatternSetResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let patterns: Vec<String> = req
            .regular_expression_list
            .iter()
            .map(|r| r.regex_string.clone().unwrap_or_default())
            .collect();
        crate::validate::regex_list(&patterns)?;
        let tags = TAG_RULES.on_create(req.tags.unwrap_or_default())?;
        let name = req.name.clone();
        let (description, list) = (req.description.clone(), req.regular_expression_list);
        let e = self
            .create_entity(
                ctx,
                Kind::RegexPatternSet,
                &place,
                &name,
                req.description,
                tags,
                |arn, id| {
                    to_value(&s::RegexPatternSet {
                        arn: Some(arn.to_owned()),
                        id: Some(id.to_owned()),
                        name: Some(name.clone()),
                        description,
                        regular_expression_list: Some(list),
                    })
                },
            )
            .await?;
        Ok(s::CreateRegexPatternSetResponse {
            summary: Some(summary(&e)?),
        })
    }

    pub(super) async fn get_regex_pattern_set(
        &self,
        ctx: &RequestContext,
        req: s::GetRegexPatternSetRequest,
    ) -> Result<s::GetRegexPatternSetResponse, AwsError> {
        let f = self
            .get_entity(
                ctx,
                Kind::RegexPatternSet,
                Locator {
                    name: Some(req.name),
                    scope: Some(req.scope),
                    id: Some(req.id),
                    arn: None,
                },
            )
            .await?;
        Ok(s::GetRegexPatternSetResponse {
            lock_token: Some(f.entity.lock_token),
            regex_pattern_set: Some(from_value(f.entity.body)?),
        })
    }

    pub(super) async fn update_regex_pattern_set(
        &self,
        ctx: &RequestContext,
        req: s::UpdateRegexPatternSetRequest,
    ) -> Result<s::UpdateRegexPatternSetResponse, AwsError> {
        let place = Self::place(ctx, &req.scope)?;
        let patterns: Vec<String> = req
            .regular_expression_list
            .iter()
            .map(|r| r.regex_string.clone().unwrap_or_default())
            .collect();
        crate::validate::regex_list(&patterns)?;
        let description = req.description.clone();
        let list = req.regular_expression_list;
        let token = self
            .update_entity(
                ctx,
                Kind::RegexPatternSet,
                &place,
                &req.name,
                &req.id,
                &req.lock_token,
                req.description,
                |e| {
                    let mut set: s::RegexPatternSet = from_value(e.body.clone())?;
                    set.regular_expression_list = Some(list);
                    set.description = description;
                    to_value(&set)
                },
            )
            .await?;
        Ok(s::UpdateRegexPatternSetResponse {
            next_lock_token: Some(token),
        })
    }

    pub(super) async fn delete_regex_pattern_set(
        &self,
        ctx: &RequestContext,
        req: s::DeleteRegexPatternSetRequest,
    ) -> Result<s::DeleteRegexPatternSetResponse, AwsError> {
        self.delete_entity(
            ctx,
            Kind::RegexPatternSet,
            &req.scope,
            &req.name,
            &req.id,
            &req.lock_token,
        )
        .await?;
        Ok(s::DeleteRegexPatternSetResponse::default())
    }

    pub(super) async fn list_regex_pattern_sets(
        &self,
        ctx: &RequestContext,
        req: s::ListRegexPatternSetsRequest,
    ) -> Result<s::ListRegexPatternSetsResponse, AwsError> {
        let (items, next) = self
            .list_entities(
                ctx,
                Kind::RegexPatternSet,
                &req.scope,
                req.limit,
                req.next_marker,
            )
            .await?;
        Ok(s::ListRegexPatternSetsResponse {
            next_marker: next,
            regex_pattern_sets: Some(items),
        })
    }

    /// Tag changes keep the lock token, as on AWS.
    async fn retag(
        &self,
        ctx: &RequestContext,
        arn: &str,
        change: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Result<Found, AwsError> {
        let (place, kind, name, id) = Self::parse_arn(ctx, arn).ok_or_else(nonexistent)?;
        let mut found = self.load(&place, kind, &name, &id).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        change(&mut found.entity.tags);
        if found.entity.tags.len() > MAX_TAGS {
            return Err(limits_exceeded());
        }
        let op: Op = records::entities(kind).put_op(
            &found.key,
            &found.entity,
            Expect::Version(found.version),
        )?;
        records::DB
            .commit_or(self.store.as_ref(), vec![op], optimistic_lock)
            .await?;
        ctx.note_resource(kind.arn_word(), &found.entity.arn);
        Ok(found)
    }

    pub(super) async fn tag_resource(
        &self,
        ctx: &RequestContext,
        req: s::TagResourceRequest,
    ) -> Result<s::TagResourceResponse, AwsError> {
        self.retag(ctx, &req.resource_arn, |tags| {
            for t in req.tags {
                match tags.iter_mut().find(|(k, _)| *k == t.key) {
                    Some(existing) => existing.1 = t.value,
                    None => tags.push((t.key, t.value)),
                }
            }
        })
        .await?;
        Ok(s::TagResourceResponse::default())
    }

    pub(super) async fn untag_resource(
        &self,
        ctx: &RequestContext,
        req: s::UntagResourceRequest,
    ) -> Result<s::UntagResourceResponse, AwsError> {
        self.retag(ctx, &req.resource_arn, |tags| {
            tags.retain(|(k, _)| !req.tag_keys.contains(k))
        })
        .await?;
        Ok(s::UntagResourceResponse::default())
    }

    pub(super) async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        req: s::ListTagsForResourceRequest,
    ) -> Result<s::ListTagsForResourceResponse, AwsError> {
        let (place, kind, name, id) =
            Self::parse_arn(ctx, &req.resource_arn).ok_or_else(nonexistent)?;
        let found = self.load(&place, kind, &name, &id).await?;
        self.authorize(ctx, &found.entity.arn, &found.entity.tags)
            .await?;
        let tags = found
            .entity
            .tags
            .into_iter()
            .map(|(key, value)| s::Tag { key, value })
            .collect();
        Ok(s::ListTagsForResourceResponse {
            next_marker: None,
            tag_info_for_resource: Some(s::TagInfoForResource {
                resource_arn: Some(found.entity.arn),
                // The model's TagList holds at least one tag: an untagged resource has none.
                tag_list: Some(tags).filter(|t: &Vec<s::Tag>| !t.is_empty()),
            }),
        })
    }
}
