//! The one list of services: each service crate declares what it implements once, and the
//! server builds its router, its scheduler, the audit classification and `rampart coverage`
//! from that declaration. Adding a service is its crate plus one [`Entry`] in the server's list.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use rampart_protocol::model::ServiceModel;
use rampart_store::Store;

use crate::events::EventBus;
use crate::scheduler::{JobFn, Scheduler};
use crate::{Authorizer, Clock, Service};

/// A part of a model that an issue treats as a whole: a row of its own in `rampart coverage`.
#[derive(Debug)]
pub struct Area {
    /// What the part is (`Parameter Store`).
    pub name: &'static str,
    /// The model's operations that make up the part.
    pub operations: &'static [&'static str],
}

/// What a service crate declares about itself, with no running node needed.
pub struct Registration {
    /// The AWS model the service implements.
    pub model: &'static ServiceModel,
    /// Operations with a handler: the same table the service dispatches on.
    pub implemented: &'static [&'static str],
    /// Whether CloudTrail records an operation as read-only (`readOnly: true`); a read-only
    /// call's audit event may be written with the next batch instead of before the answer.
    pub read_only: fn(&str) -> bool,
    /// Parts of the model counted separately in `rampart coverage`.
    pub areas: &'static [Area],
}

impl Registration {
    /// The model's key (`kms`, `acm-pca`).
    #[must_use]
    pub fn key(&self) -> &'static str {
        self.model.key
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("model", &self.model.key)
            .field("implemented", &self.implemented.len())
            .finish_non_exhaustive()
    }
}

/// CloudTrail's usual classification: operations that only read (`Get…`, `List…`,
/// `Describe…`, `Lookup…`, `Search…`, `Check…`, `Validate…`) are read-only.
#[must_use]
pub fn read_only_by_name(operation: &str) -> bool {
    [
        "Get", "List", "Describe", "Lookup", "Search", "Check", "Validate", "Head",
    ]
    .iter()
    .any(|p| operation.starts_with(p))
}

/// The future a [`BuildFn`] returns.
pub type BuildFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<dyn Service>, String>> + Send + 'a>>;

/// Builds a service on a node: reads what it needs from the node, registers its scheduled
/// jobs, and may provide parts (itself, typically) for the services built after it.
pub type BuildFn = for<'a> fn(&'a mut Node) -> BuildFuture<'a>;

/// One line of the server's service list.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The service's declaration.
    pub registration: &'static Registration,
    /// How to build it on a node.
    pub build: BuildFn,
}

/// What a node offers the services being built on it.
pub struct Node {
    /// The persistent store.
    pub store: Arc<dyn Store>,
    /// The business clock.
    pub clock: Arc<dyn Clock>,
    /// The node's scheduler (jobs run on one node at a time).
    pub scheduler: Arc<Scheduler>,
    /// The event bus.
    pub events: Arc<dyn EventBus>,
    /// The authorizer every service uses.
    pub authorizer: Arc<dyn Authorizer>,
    /// The node's private data directory.
    pub data_dir: PathBuf,
    parts: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Node {
    /// A node with no parts yet.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        scheduler: Arc<Scheduler>,
        events: Arc<dyn EventBus>,
        authorizer: Arc<dyn Authorizer>,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            store,
            clock,
            scheduler,
            events,
            authorizer,
            data_dir,
            parts: HashMap::new(),
        }
    }

    /// Offer `part` to the services built after this point (one part per type).
    pub fn provide<T: Any + Send + Sync>(&mut self, part: Arc<T>) {
        self.parts.insert(TypeId::of::<T>(), part);
    }

    /// The part of type `T`, if something provided it.
    #[must_use]
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.parts
            .get(&TypeId::of::<T>())
            .and_then(|p| Arc::clone(p).downcast::<T>().ok())
    }

    /// The part of type `T`, which `who` cannot be built without.
    ///
    /// # Errors
    /// When nothing provided it (the list builds services in the wrong order).
    pub fn need<T: Any + Send + Sync>(&self, who: &str) -> Result<Arc<T>, String> {
        self.get::<T>().ok_or_else(|| {
            format!(
                "{who} needs a {} registered before it",
                std::any::type_name::<T>()
            )
        })
    }

    /// Run `job` every `every` on the node's scheduler.
    pub fn every(&self, name: &str, every: chrono::Duration, job: JobFn) {
        self.scheduler.every(name, every, job);
    }

    /// Run `job(service, now as epoch millis)` every `every`: the usual shape of a service's
    /// housekeeping job.
    pub fn every_on<T, F, Fut>(&self, name: &str, every: chrono::Duration, service: &Arc<T>, job: F)
    where
        T: Send + Sync + 'static,
        F: Fn(Arc<T>, i64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let service = Arc::clone(service);
        self.scheduler.every(
            name,
            every,
            Arc::new(move |now| Box::pin(job(Arc::clone(&service), now.timestamp_millis()))),
        );
    }
}

/// Checks a list of entries: each model once, every implemented operation in its model.
///
/// # Errors
/// A description of the first inconsistency.
pub fn check(entries: &[Entry]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let r = e.registration;
        if !seen.insert(r.key()) {
            return Err(format!("{} is registered twice", r.key()));
        }
        for op in r.implemented {
            if r.model.operation(op).is_none() {
                return Err(format!("{} has no operation {op}", r.key()));
            }
        }
        for area in r.areas {
            for op in area.operations {
                if r.model.operation(op).is_none() {
                    return Err(format!("{} area {}: no operation {op}", r.key(), area.name));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::read_only_by_name;

    #[test]
    fn reads_are_read_only_and_writes_are_not() {
        assert!(read_only_by_name("GetParameter"));
        assert!(read_only_by_name("ListKeys"));
        assert!(read_only_by_name("DescribeKey"));
        assert!(!read_only_by_name("PutParameter"));
        assert!(!read_only_by_name("CreateKey"));
    }
}
