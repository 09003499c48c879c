//! Group commit of access-token inserts on SQLite.
//!
//! SQLite lets one connection write at a time, and a token grant that issues
//! only an access token (client_credentials) is one insert per request: under
//! load, requests take turns at the write lock, and one that finds it taken
//! sleeps in SQLite's busy handler. Here the inserts of concurrent requests
//! wait in a queue and go in together, as one multi-row `INSERT` (one
//! statement, so atomic), written by one task per queue. Each caller still
//! sees its own outcome, and only after the statement has committed: if the
//! batch fails, its rows are inserted one by one, so one bad row fails alone.
//!
//! The queue lives in the [`Store`](crate::Store), one per shard of a
//! thread-per-core server (a shard's tasks never leave its thread, so its
//! queue and its writer task share a core), plus one for every other thread.

use std::sync::{Arc, Mutex, PoisonError};

use oidc_core::repo::{RepoError, RepoResult};
use sea_orm::{DatabaseConnection, EntityTrait as _, IntoActiveModel as _};
use tokio::sync::oneshot;

use crate::entity::access_tokens;

/// Rows per statement at most: SQLite binds at most 32,766 values, and an
/// access token is about 15 columns.
const MAX_ROWS: usize = 256;

/// One queue of access-token rows waiting to be inserted.
#[derive(Default)]
pub(crate) struct Batcher {
    state: Mutex<State>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// A writer task is running; it takes every row queued before it stops.
    writing: bool,
    rows: Vec<(access_tokens::Model, oneshot::Sender<RepoResult<()>>)>,
}

impl Batcher {
    /// Inserts `row` with whatever else is queued, on `db`; returns once its
    /// statement has committed.
    pub(crate) async fn insert(self: &Arc<Self>, db: &DatabaseConnection, row: access_tokens::Model) -> RepoResult<()> {
        let (done, outcome) = oneshot::channel();
        let start_writer = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.rows.push((row, done));
            !std::mem::replace(&mut state.writing, true)
        };
        if start_writer {
            // A task of its own, so that a caller that goes away (its client
            // closed the connection) cannot abandon the rows of the others.
            let (queue, db) = (self.clone(), db.clone());
            tokio::spawn(async move { queue.write_all(&db).await });
        }
        // The writer dropped the sender without an answer: only when the runtime stops.
        outcome.await.unwrap_or_else(|_| Err(RepoError::Backend("the token writer stopped".into())))
    }

    /// Writes batches until the queue is empty.
    async fn write_all(&self, db: &DatabaseConnection) {
        loop {
            let batch = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if state.rows.is_empty() {
                    state.writing = false;
                    return;
                }
                let n = state.rows.len().min(MAX_ROWS);
                state.rows.drain(..n).collect::<Vec<_>>()
            };
            write_batch(db, batch).await;
        }
    }
}

/// One statement for the whole batch; if it fails, one per row.
async fn write_batch(db: &DatabaseConnection, batch: Vec<(access_tokens::Model, oneshot::Sender<RepoResult<()>>)>) {
    let (rows, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let together = access_tokens::Entity::insert_many(rows.iter().cloned().map(|r| r.into_active_model()))
        .exec_without_returning(db)
        .await;
    if together.is_ok() {
        for w in waiters {
            let _ = w.send(Ok(()));
        }
        return;
    }
    for (row, w) in rows.into_iter().zip(waiters) {
        let _ = w.send(crate::repos::insert(db, row).await);
    }
}
