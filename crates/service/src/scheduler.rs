//! Background jobs (rotation, expiry, deletion) run from one scheduler that tests drive by
//! calling [`Scheduler::tick`] after moving the clock, so no test sleeps.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};

/// A job's body: called with the scheduler's notion of now.
pub type JobFn =
    Arc<dyn Fn(DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Job {
    name: String,
    every: chrono::Duration,
    next: Option<DateTime<Utc>>,
    run: JobFn,
}

/// Told, for each job run, its name and how late it ran (business time past its due time).
pub type LagObserver = Arc<dyn Fn(&str, chrono::Duration) + Send + Sync>;

/// Runs registered jobs when they are due.
#[derive(Default)]
pub struct Scheduler {
    jobs: Mutex<Vec<Job>>,
    lag: OnceLock<LagObserver>,
}

impl Scheduler {
    /// An empty scheduler.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `run` to be called every `every`, first at the next tick.
    pub fn every(&self, name: &str, every: chrono::Duration, run: JobFn) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.push(Job {
                name: name.to_owned(),
                every,
                next: None,
                run,
            });
        }
    }

    /// Report how late each job runs to `observer` (metrics); the first observer set stays.
    pub fn observe_lag(&self, observer: LagObserver) {
        let _ = self.lag.set(observer);
    }

    /// Run every job due at `now`; returns the names of the jobs run.
    pub async fn tick(&self, now: DateTime<Utc>) -> Vec<String> {
        let due: Vec<(String, JobFn, Option<DateTime<Utc>>)> = match self.jobs.lock() {
            Ok(mut jobs) => jobs
                .iter_mut()
                .filter(|j| j.next.is_none_or(|n| n <= now))
                .map(|j| {
                    let was_due = j.next;
                    j.next = now.checked_add_signed(j.every);
                    (j.name.clone(), Arc::clone(&j.run), was_due)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut ran = Vec::with_capacity(due.len());
        for (name, run, was_due) in due {
            if let (Some(observer), Some(due)) = (self.lag.get(), was_due) {
                observer(&name, now.signed_duration_since(due));
            }
            run(now).await;
            tracing::debug!(job = %name, "scheduled job ran");
            ran.push(name);
        }
        ran
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::Scheduler;

    #[tokio::test]
    async fn job_runs_when_due_and_not_before() {
        let s = Scheduler::new();
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        s.every(
            "count",
            chrono::Duration::hours(1),
            Arc::new(move |_| {
                let c = Arc::clone(&c);
                Box::pin(async move {
                    c.fetch_add(1, Ordering::SeqCst);
                })
            }),
        );
        let t0 = chrono::Utc::now();
        s.tick(t0).await;
        s.tick(t0 + chrono::Duration::minutes(30)).await;
        assert_eq!(count.load(Ordering::SeqCst), 1);
        s.tick(t0 + chrono::Duration::minutes(61)).await;
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn lag_is_how_far_past_its_due_time_a_job_runs() {
        let s = Scheduler::new();
        s.every(
            "noop",
            chrono::Duration::minutes(10),
            Arc::new(|_| Box::pin(async {})),
        );
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        s.observe_lag(Arc::new(move |name, lag| {
            log.lock()
                .unwrap()
                .push((name.to_owned(), lag.num_seconds()));
        }));
        let t0 = chrono::Utc::now();
        s.tick(t0).await; // first run: never due before, no lag reported
        s.tick(t0 + chrono::Duration::minutes(13)).await;
        assert_eq!(*seen.lock().unwrap(), vec![("noop".to_owned(), 180)]);
    }
}
