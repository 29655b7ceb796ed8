//! Rampart's one IAM policy engine, for identity policies, resource policies (key policies,
//! secret policies) and role trust policies, written from the AWS IAM User Guide's "Policy
//! evaluation logic" and "IAM JSON policy elements reference".
//!
//! ```
//! use rampart_policy::{evaluate, Context, Decision, Policy, Principal, Request};
//!
//! let policy = Policy::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}
//! }"#).unwrap();
//! let alice = Principal::user("111122223333", "/", "alice", "AIDAEXAMPLE");
//! let context = Context::with_principal(&alice);
//! let request = Request {
//!     principal: &alice,
//!     action: "kms:Encrypt",
//!     resource: "arn:aws:kms:us-east-1:111122223333:key/1234",
//!     context: &context,
//! };
//! assert_eq!(evaluate(&[&policy], &request), Decision::Allow);
//! ```
//!
//! No input reaches a panic: documents are bounded ([`MAX_POLICY_BYTES`], [`MAX_STATEMENTS`],
//! JSON depth 128) before they are read, and matching is iterative.

#![warn(missing_docs)]

mod condition;
mod context;
mod document;
mod error;
mod evaluate;
mod glob;
mod principal;
mod variables;

pub use condition::{BaseOperator, Condition, Operator, SetQualifier};
pub use context::Context;
pub use document::{
    Effect, Policy, PolicyKind, Statement, Version, MAX_POLICY_BYTES, MAX_STATEMENTS,
};
pub use error::PolicyError;
pub use evaluate::{authorize, evaluate, Authorization, Decision, Request};
pub use principal::{Principal, PrincipalPattern};
