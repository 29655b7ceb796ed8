//! Per-request counters for in-process subscribers (the event bus's
//! [`Subscribers`](rampart_service::events::Subscribers)): an analyser (Shield-style rate
//! detection, GuardDuty-style findings) subscribes to counters of source `proxy` or `waf` and
//! gets them as they move, without polling the store.
//!
//! Counters, each moved by 1:
//! - `proxy.requests`, `proxy.responses.<N>xx`, `proxy.lb.<load balancer ARN>` and
//!   `proxy.client.<client IP>` for every answered request;
//! - `waf.allowed`, `waf.blocked`, `waf.captcha` or `waf.challenge` for every web ACL decision;
//! - `waf.rule.<web ACL ARN>#<rule>` (`<rule group rule>/<rule>` inside a group) for every rule
//!   that matched, `waf.label.<label>` for every label the request carried at the end;
//! - `waf.blocked.client.<client IP>` for every blocked request.
//!
//! With nobody subscribed a request costs one atomic load here.

use std::sync::Arc;

use async_trait::async_trait;

use rampart_service::events::{Published, Subscribers};
use rampart_waf::Action;

use crate::telemetry::{Decision, Outcome, Telemetry};

/// Publishes the counters above to `subscribers`.
pub struct BusCounters {
    subscribers: Arc<Subscribers>,
}

impl BusCounters {
    /// Counters for `subscribers`.
    #[must_use]
    pub fn new(subscribers: Arc<Subscribers>) -> Self {
        BusCounters { subscribers }
    }

    fn bump(&self, name: String) {
        self.subscribers
            .publish(&Published::Counter { name, delta: 1 });
    }
}

/// The counter a terminating action moves.
fn action_counter(a: &Action) -> &'static str {
    match a {
        Action::Allow => "waf.allowed",
        Action::Block(_) => "waf.blocked",
        Action::Captcha => "waf.captcha",
        Action::Challenge => "waf.challenge",
    }
}

#[async_trait]
impl Telemetry for BusCounters {
    async fn decided(&self, d: &Decision<'_>) {
        if self.subscribers.is_empty() {
            return;
        }
        self.bump(action_counter(&d.verdict.action).to_owned());
        let acl = d.acl.arn();
        for m in &d.verdict.matched_rules {
            self.bump(match &m.rule_group {
                Some(g) => format!("waf.rule.{acl}#{g}/{}", m.name),
                None => format!("waf.rule.{acl}#{}", m.name),
            });
        }
        for l in &d.verdict.labels {
            self.bump(format!("waf.label.{l}"));
        }
        if matches!(d.verdict.action, Action::Block(_)) {
            self.bump(format!("waf.blocked.client.{}", d.request.client_ip));
        }
    }

    fn answered(&self, o: &Outcome<'_>) {
        if self.subscribers.is_empty() {
            return;
        }
        self.bump("proxy.requests".to_owned());
        self.bump(format!("proxy.responses.{}xx", o.status / 100));
        self.bump(format!("proxy.lb.{}", o.lb));
        self.bump(format!("proxy.client.{}", o.client));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_service::events::Filter;

    struct Acl;
    impl crate::WebAcl for Acl {
        fn arn(&self) -> &str {
            "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/a/1"
        }
        fn evaluate(&self, _: &rampart_waf::Request<'_>) -> rampart_waf::Verdict {
            unreachable!("not evaluated here")
        }
        fn response_body(&self, _: &str) -> Option<crate::ResponseBody> {
            None
        }
        fn token_domains(&self) -> &[String] {
            &[]
        }
    }

    fn names(sub: &mut rampart_service::events::Subscription) -> Vec<String> {
        std::iter::from_fn(|| sub.try_recv())
            .filter_map(|p| match p {
                Published::Counter { name, delta: 1 } => Some(name),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_blocked_request_moves_action_rule_label_and_client_counters() {
        let subs = Arc::new(Subscribers::new());
        let counters = BusCounters::new(Arc::clone(&subs));
        let ip: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let req = rampart_waf::Request::new("GET", "/", ip);
        let verdict = rampart_waf::Verdict {
            action: Action::Block(rampart_waf::BlockResponse {
                status: 403,
                headers: Vec::new(),
                body_key: None,
            }),
            terminating_rule: Some("sqli".into()),
            labels: vec!["awswaf:managed:x".into()],
            matched_rules: vec![rampart_waf::MatchedRule {
                name: "sqli".into(),
                rule_group: None,
                action: rampart_waf::ActionKind::Block,
            }],
            inserted_headers: Vec::new(),
        };
        let acl: Arc<dyn crate::WebAcl> = Arc::new(Acl);
        let d = Decision {
            lb: "lb",
            acl: &acl,
            request: &req,
            version: http::Version::HTTP_11,
            verdict: &verdict,
        };
        // Nobody listening: nothing is built.
        counters.decided(&d).await;
        let mut sub = subs.subscribe(
            Filter {
                counters: true,
                ..Filter::default()
            },
            64,
        );
        counters.decided(&d).await;
        counters.answered(&Outcome {
            lb: "lb",
            client: ip,
            status: 403,
        });
        assert_eq!(
            names(&mut sub),
            [
                "waf.blocked",
                "waf.rule.arn:aws:wafv2:us-east-1:111122223333:regional/webacl/a/1#sqli",
                "waf.label.awswaf:managed:x",
                "waf.blocked.client.203.0.113.9",
                "proxy.requests",
                "proxy.responses.4xx",
                "proxy.lb.lb",
                "proxy.client.203.0.113.9",
            ]
        );
    }
}
