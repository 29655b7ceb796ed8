//! The attribute operations of load balancers, target groups and listeners (keys, defaults
//! and validation live in [`crate::attributes`]).

use rampart_service::{AwsError, RequestContext};

use crate::attributes::{self, Of};
use crate::errors::{self as err};
use crate::shapes::elbv2 as s;

use super::{invalid_config, ElbService};

fn pairs<K, V>(given: &[(Option<K>, Option<V>)]) -> Vec<(String, String)>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    given
        .iter()
        .map(|(k, v)| {
            (
                k.as_ref()
                    .map(|x| x.as_ref().to_owned())
                    .unwrap_or_default(),
                v.as_ref()
                    .map(|x| x.as_ref().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn lb_attrs(v: Vec<(String, String)>) -> Vec<s::LoadBalancerAttribute> {
    v.into_iter()
        .map(|(k, v)| s::LoadBalancerAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

fn tg_attrs(v: Vec<(String, String)>) -> Vec<s::TargetGroupAttribute> {
    v.into_iter()
        .map(|(k, v)| s::TargetGroupAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

fn listener_attrs(v: Vec<(String, String)>) -> Vec<s::ListenerAttribute> {
    v.into_iter()
        .map(|(k, v)| s::ListenerAttribute {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

impl ElbService {
    pub(crate) async fn describe_load_balancer_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeLoadBalancerAttributesInput,
    ) -> Result<s::DescribeLoadBalancerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let lb = st
            .lbs
            .get(&req.load_balancer_arn)
            .ok_or_else(err::lb_not_found)?;
        Ok(s::DescribeLoadBalancerAttributesOutput {
            attributes: Some(lb_attrs(attributes::effective(
                Of::LoadBalancer,
                &lb.attributes,
                lb.scheme == "internal",
            ))),
        })
    }

    pub(crate) async fn modify_load_balancer_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyLoadBalancerAttributesInput,
    ) -> Result<s::ModifyLoadBalancerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.load_balancer_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let lb = st
                    .lbs
                    .get_mut(&req.load_balancer_arn)
                    .ok_or_else(err::lb_not_found)?;
                lb.attributes = attributes::apply(Of::LoadBalancer, &lb.attributes, &changes)?;
                Ok(attributes::effective(
                    Of::LoadBalancer,
                    &lb.attributes,
                    lb.scheme == "internal",
                ))
            })
            .await?;
        Ok(s::ModifyLoadBalancerAttributesOutput {
            attributes: Some(lb_attrs(out)),
        })
    }

    pub(crate) async fn describe_target_group_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeTargetGroupAttributesInput,
    ) -> Result<s::DescribeTargetGroupAttributesOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let tg = st
            .tgs
            .get(&req.target_group_arn)
            .ok_or_else(err::tg_not_found)?;
        Ok(s::DescribeTargetGroupAttributesOutput {
            attributes: Some(tg_attrs(attributes::effective(
                Of::TargetGroup,
                &tg.attributes,
                false,
            ))),
        })
    }

    pub(crate) async fn modify_target_group_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyTargetGroupAttributesInput,
    ) -> Result<s::ModifyTargetGroupAttributesOutput, AwsError> {
        self.authorize(ctx, &req.target_group_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let tg = st
                    .tgs
                    .get_mut(&req.target_group_arn)
                    .ok_or_else(err::tg_not_found)?;
                let next = attributes::apply(Of::TargetGroup, &tg.attributes, &changes)?;
                if attributes::get(&next, Of::TargetGroup, "stickiness.type") == "app_cookie"
                    && attributes::enabled(&next, Of::TargetGroup, "stickiness.enabled")
                    && attributes::get(&next, Of::TargetGroup, "stickiness.app_cookie.cookie_name")
                        .is_empty()
                {
                    return Err(invalid_config(
                        "An application cookie name must be specified for app_cookie stickiness",
                    ));
                }
                tg.attributes = next;
                Ok(attributes::effective(
                    Of::TargetGroup,
                    &tg.attributes,
                    false,
                ))
            })
            .await?;
        Ok(s::ModifyTargetGroupAttributesOutput {
            attributes: Some(tg_attrs(out)),
        })
    }

    pub(crate) async fn describe_listener_attributes(
        &self,
        ctx: &RequestContext,
        req: s::DescribeListenerAttributesInput,
    ) -> Result<s::DescribeListenerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let (st, _) = self.load(ctx).await?;
        let l = st
            .listeners
            .get(&req.listener_arn)
            .ok_or_else(err::listener_not_found)?;
        Ok(s::DescribeListenerAttributesOutput {
            attributes: Some(listener_attrs(attributes::effective(
                Of::Listener,
                &l.attributes,
                false,
            ))),
        })
    }

    pub(crate) async fn modify_listener_attributes(
        &self,
        ctx: &RequestContext,
        req: s::ModifyListenerAttributesInput,
    ) -> Result<s::ModifyListenerAttributesOutput, AwsError> {
        self.authorize(ctx, &req.listener_arn).await?;
        let changes = pairs(
            &req.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<Vec<_>>(),
        );
        let out = self
            .mutate(ctx, |st| {
                let l = st
                    .listeners
                    .get_mut(&req.listener_arn)
                    .ok_or_else(err::listener_not_found)?;
                l.attributes = attributes::apply(Of::Listener, &l.attributes, &changes)?;
                Ok(attributes::effective(Of::Listener, &l.attributes, false))
            })
            .await?;
        Ok(s::ModifyListenerAttributesOutput {
            attributes: Some(listener_attrs(out)),
        })
    }
}
