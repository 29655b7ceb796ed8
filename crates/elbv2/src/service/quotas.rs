//! Account limits: DescribeAccountLimits and the quota check applied to every change.

use rampart_service::{AwsError, RequestContext};

use crate::limits;
use crate::shapes::elbv2 as s;
use crate::state::State;

use super::{page, ElbService};

/// Whether `st` stays within the quotas after a change (see [`limits`]).
///
/// # Errors
/// The quota's `TooMany…` error.
pub fn check_quotas(st: &State) -> Result<(), AwsError> {
    limits::check(st)
}

impl ElbService {
    pub(crate) async fn describe_account_limits(
        &self,
        ctx: &RequestContext,
        req: s::DescribeAccountLimitsInput,
    ) -> Result<s::DescribeAccountLimitsOutput, AwsError> {
        self.authorize(ctx, "*").await?;
        let (out, next_marker) = page(
            ctx,
            "DescribeAccountLimits",
            limits::DEFAULTS.to_vec(),
            req.marker.as_deref(),
            req.page_size,
        )?;
        Ok(s::DescribeAccountLimitsOutput {
            limits: Some(
                out.into_iter()
                    .map(|(n, m)| s::Limit {
                        max: Some(m.to_string()),
                        name: Some(n.to_owned()),
                    })
                    .collect(),
            ),
            next_marker,
        })
    }
}
