//! Deleting expired codes, tokens, sessions (and the clients they served),
//! consents, replay records and stale failed-password counters in bounded
//! batches: once (`oidc cleanup`) or periodically while serving.

use std::sync::Arc;
use std::time::Duration;

use oidc_core::repo::{Expired, RepoError, Repositories};
use oidc_core::time::Clock as _;

use crate::server::SystemClock;

/// The default number of rows of one table deleted by one statement.
pub const DEFAULT_BATCH: u64 = 1000;
/// The default time between two cleanups of a running server.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes every row expired at the time of the call, one batch per table
/// at a time, until no table had a full batch. Failed-password counters go
/// once nothing has been added to them for `failure_horizon` seconds (the
/// longer of the brute-force window and the longest lockout).
pub async fn run_once(repos: &dyn Repositories, batch: u64, failure_horizon: i64) -> Result<Expired, RepoError> {
    let now = SystemClock.now();
    let failures_before = now.plus(-failure_horizon.max(0));
    let batch = batch.max(1);
    let mut total = Expired::default();
    loop {
        let round = repos.delete_expired(now, failures_before, batch).await?;
        total.add(round);
        if round.counts().iter().all(|n| *n < batch) {
            return Ok(total);
        }
        // Let requests in between two batches.
        tokio::task::yield_now().await;
    }
}

/// Runs [`run_once`] every `interval` in the background (the first time
/// after one interval); failures are logged and retried at the next tick.
pub fn spawn_periodic(
    repos: Arc<dyn Repositories>,
    interval: Duration,
    batch: u64,
    failure_horizon: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match run_once(repos.as_ref(), batch, failure_horizon).await {
                Ok(n) if n.total() > 0 => eprintln!("cleanup: deleted {} expired rows", n.total()),
                Ok(_) => {}
                Err(e) => eprintln!("error: cleanup of expired rows: {e}"),
            }
        }
    })
}
