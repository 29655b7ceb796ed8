//! ELBv2's errors, with AWS's codes, in one place.

use rampart_service::AwsError;

fn e(code: &'static str, msg: impl Into<String>) -> AwsError {
    AwsError::new(code, 400, msg)
}

/// `LoadBalancerNotFound`.
#[must_use]
pub fn lb_not_found() -> AwsError {
    e(
        "LoadBalancerNotFound",
        "One or more load balancers not found",
    )
}
/// `TargetGroupNotFound`.
#[must_use]
pub fn tg_not_found() -> AwsError {
    e("TargetGroupNotFound", "One or more target groups not found")
}
/// `ListenerNotFound`.
#[must_use]
pub fn listener_not_found() -> AwsError {
    e("ListenerNotFound", "One or more listeners not found")
}
/// `RuleNotFound`.
#[must_use]
pub fn rule_not_found() -> AwsError {
    e("RuleNotFound", "One or more rules not found")
}
/// `DuplicateLoadBalancerName`.
#[must_use]
pub fn duplicate_lb() -> AwsError {
    e(
        "DuplicateLoadBalancerName",
        "A load balancer with the same name already exists",
    )
}
/// `DuplicateTargetGroupName`.
#[must_use]
pub fn duplicate_tg() -> AwsError {
    e(
        "DuplicateTargetGroupName",
        "A target group with the same name already exists",
    )
}
/// `DuplicateListener`.
#[must_use]
pub fn duplicate_listener() -> AwsError {
    e(
        "DuplicateListener",
        "A listener already exists on this port for this load balancer",
    )
}
/// `PriorityInUse`.
#[must_use]
pub fn priority_in_use(p: i32) -> AwsError {
    e(
        "PriorityInUse",
        format!("Priority '{p}' is currently in use"),
    )
}
/// `ResourceInUse`.
#[must_use]
pub fn in_use(what: &str) -> AwsError {
    e("ResourceInUse", format!("{what} is currently in use"))
}
/// `ValidationError`.
#[must_use]
pub fn validation(msg: impl Into<String>) -> AwsError {
    e("ValidationError", msg)
}
/// `InvalidTarget`.
#[must_use]
pub fn invalid_target(msg: impl Into<String>) -> AwsError {
    e("InvalidTarget", msg)
}
/// `UnsupportedProtocol`.
#[must_use]
pub fn unsupported_protocol(p: &str) -> AwsError {
    e(
        "UnsupportedProtocol",
        format!("Protocol '{p}' is not supported"),
    )
}
/// `TooManyLoadBalancers`: the configured port range is exhausted.
#[must_use]
pub fn no_port() -> AwsError {
    e(
        "TooManyLoadBalancers",
        "The quota on the number of load balancers has been reached (no free port in Rampart's load balancer port range)",
    )
}
/// `CertificateNotFound`.
#[must_use]
pub fn certificate_not_found() -> AwsError {
    e("CertificateNotFound", "Certificate not found")
}
/// A store failure (logged, not shown).
#[must_use]
pub fn store_unavailable(err: &rampart_store::StoreError) -> AwsError {
    tracing::error!(error = %err, "elbv2 store failure");
    AwsError::internal()
}
