//! Group commit of inserts and spends, and batched lookups of the hot path.
//!
//! An authorization code, a token response's access and refresh token, and
//! an access token alone (client_credentials) are each one insert. On SQLite,
//! which lets one connection write at a time, requests took turns at the
//! write lock under load, and one that found it taken slept in SQLite's busy
//! handler; on PostgreSQL each insert was a round trip and a commit that
//! waits for its WAL flush. Here the inserts of concurrent requests wait in a
//! queue per kind of row and go in together, as one multi-row `INSERT` (one
//! statement, so atomic), run by one task per queue. Each caller still
//! sees its own outcome, and only after the statement has committed: if the
//! batch fails, its rows are inserted one by one, so one bad row fails alone.
//! Code redemptions' spends go the same way, as one conditional `UPDATE ...
//! RETURNING` that tells each caller whether it won its code.
//!
//! The three reads of every code flow (the login session at the
//! authorization endpoint, the code with its session and user at the token
//! endpoint, the access token with its user at UserInfo) are queued the same
//! way and made as one `SELECT ... WHERE (digest, realm) = ... OR ...` per
//! batch: every statement is a hand-off to the pool's connection thread and
//! back, and under load one hand-off now answers many requests. A lookup is
//! queued only once its caller asks, so it sees every write that caller has
//! seen committed.
//!
//! The queues live in the [`Store`](crate::Store), one set per shard of a
//! thread-per-core server (a shard's tasks never leave its thread, so its
//! queues and their writer tasks share a core), plus one for other threads.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use oidc_core::repo::{RepoError, RepoResult};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::oneshot;

use crate::convert::OrRepo as _;

/// Rows per statement at most (a power of two). Each statement of another
/// number of rows is another prepared statement in every connection's cache
/// (sqlx keeps up to 100), so a batch goes in as statements of 1, 2, 4, ...
/// or `MAX_ROWS` rows: six shapes per kind of row. Measured: batches of any
/// size up to 128 raised the peak RSS under the flow load by 13 MiB.
const MAX_ROWS: usize = 32;

/// A kind of row that can be written many at a time.
pub(crate) trait BatchRow: Clone + Send + Sync + 'static {
    /// What a caller learns about its own row once it is written.
    type Outcome: Send + 'static;
    /// One statement that writes every row of `rows` (never empty), or none,
    /// and each row's outcome, in the order of `rows`.
    fn run_all(
        db: &DatabaseConnection,
        rows: &[Self],
    ) -> impl Future<Output = Result<Vec<Self::Outcome>, DbErr>> + Send;
    /// One row on its own, for the rows of a batch that failed: by default
    /// `run_all` of that row alone.
    fn run_one(db: &DatabaseConnection, row: Self) -> impl Future<Output = RepoResult<Self::Outcome>> + Send {
        async move {
            Self::run_all(db, std::slice::from_ref(&row))
                .await
                .repo()?
                .pop()
                .ok_or_else(|| RepoError::Backend("a batch of one gave no outcome".into()))
        }
    }
}

/// Rows that are inserted and have no outcome but success.
pub(crate) trait InsertRow: Clone + Send + Sync + 'static {
    /// One statement that inserts every row of `rows` (never empty), or none.
    fn insert_all(db: &DatabaseConnection, rows: &[Self]) -> impl Future<Output = Result<(), DbErr>> + Send;
    /// One row on its own.
    fn insert_one(db: &DatabaseConnection, row: Self) -> impl Future<Output = RepoResult<()>> + Send;
}

impl<R: InsertRow> BatchRow for R {
    type Outcome = ();
    async fn run_all(db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<()>, DbErr> {
        R::insert_all(db, rows).await.map(|()| vec![(); rows.len()])
    }
    async fn run_one(db: &DatabaseConnection, row: Self) -> RepoResult<()> {
        R::insert_one(db, row).await
    }
}

/// The queues of one pool (see the module documentation).
#[derive(Default)]
pub(crate) struct Batchers {
    pub(crate) access: Batcher<crate::entity::access_tokens::Model>,
    pub(crate) pairs: Batcher<crate::repos::TokenPair>,
    pub(crate) codes: Batcher<crate::entity::auth_codes::Model>,
    pub(crate) spends: Batcher<crate::repos::CodeSpend>,
    pub(crate) redeem_pairs: Batcher<crate::repos::Redemption>,
    pub(crate) redeem_lone: Batcher<crate::repos::Redemption>,
    pub(crate) sessions: Batcher<crate::repos::SessionLookup>,
    pub(crate) code_reads: Batcher<crate::repos::CodeLookup>,
    pub(crate) token_reads: Batcher<crate::repos::AccessTokenLookup>,
}

impl std::fmt::Debug for Batchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batchers").finish_non_exhaustive()
    }
}

/// One queue of rows waiting to be written or looked up.
pub(crate) struct Batcher<R: BatchRow> {
    state: Arc<Mutex<State<R>>>,
}

impl<R: BatchRow> Default for Batcher<R> {
    fn default() -> Self {
        Batcher { state: Arc::new(Mutex::new(State { writing: false, rows: Vec::new() })) }
    }
}

/// A row waiting, and where its outcome goes.
type Waiting<R> = (R, oneshot::Sender<RepoResult<<R as BatchRow>::Outcome>>);

struct State<R: BatchRow> {
    /// A writer task is running; it takes every row queued before it stops.
    writing: bool,
    rows: Vec<Waiting<R>>,
}

impl<R: BatchRow> Batcher<R> {
    /// Writes `row` with whatever else is queued, on `db`; returns its
    /// outcome once its statement has committed.
    pub(crate) async fn run(&self, db: &DatabaseConnection, row: R) -> RepoResult<R::Outcome> {
        let (done, outcome) = oneshot::channel();
        let start_writer = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.rows.push((row, done));
            !std::mem::replace(&mut state.writing, true)
        };
        if start_writer {
            // A task of its own, so that a caller that goes away (its client
            // closed the connection) cannot abandon the rows of the others.
            let (state, db) = (self.state.clone(), db.clone());
            tokio::spawn(async move { drain(&state, &db).await });
        }
        // The writer dropped the sender without an answer: only when the runtime stops.
        outcome.await.unwrap_or_else(|_| Err(RepoError::Backend("the writer task stopped".into())))
    }
}

/// Runs batches until the queue is empty.
async fn drain<R: BatchRow>(state: &Mutex<State<R>>, db: &DatabaseConnection) {
    loop {
        let batch = {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.rows.is_empty() {
                state.writing = false;
                return;
            }
            // The largest power of two that fits (see `MAX_ROWS`).
            let n = 1usize << state.rows.len().min(MAX_ROWS).ilog2();
            state.rows.drain(..n).collect::<Vec<_>>()
        };
        let (rows, waiters): (Vec<R>, Vec<_>) = batch.into_iter().unzip();
        if let Ok(outcomes) = R::run_all(db, &rows).await {
            // `run_all` gives one outcome per row; a waiter without one
            // (never expected) hears that its statement failed.
            let mut outcomes = outcomes.into_iter();
            for w in waiters {
                let outcome = outcomes.next().ok_or_else(|| RepoError::Backend("a batch lost a row's outcome".into()));
                let _ = w.send(outcome);
            }
            continue;
        }
        // The statement failed, so it wrote nothing: each row on its own.
        for (row, w) in rows.into_iter().zip(waiters) {
            let _ = w.send(R::run_one(db, row).await);
        }
    }
}
