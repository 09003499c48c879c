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
use sea_orm::{DatabaseConnection, DbBackend, DbErr};
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

/// The turn of an SQLite file's writers of one kind (code inserts, token
/// inserts, redemptions, ...), shared by that kind's queues in every shard.
///
/// SQLite lets one connection write at a time. A connection that finds the
/// write lock taken sleeps in SQLite's busy handler, 1, 2, 5, 10 ms and
/// longer, however soon the lock is free again: under load the two shards'
/// queues of one kind met there all the time (1,293 sleeps in 5 s of the
/// flow at 16 connections, `strace -c`), each sleep with a batch of requests
/// behind it. Taking its kind's turn before a write batch, a queue waits in
/// the process instead and is woken as soon as the other shard's batch of
/// that kind has committed. One turn for every kind was measured too: then
/// the authorization endpoint's code insert waited behind the token
/// endpoint's redemptions for the whole of their hand-off to sqlx's thread,
/// and the flow lost 8% (docs/PERFORMANCE.md). PostgreSQL takes row locks,
/// not a lock of the whole database: no turn.
pub(crate) type WriteTurn = Option<Arc<tokio::sync::Mutex<()>>>;

/// The queues of one pool (see the module documentation).
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

/// One [`WriteTurn`] per kind of write, shared by the queues of that kind
/// in every shard.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteTurns {
    access: WriteTurn,
    pairs: WriteTurn,
    codes: WriteTurn,
    spends: WriteTurn,
    redeem_pairs: WriteTurn,
    redeem_lone: WriteTurn,
}

impl WriteTurns {
    /// Turns for a store on `backend`: SQLite only.
    pub(crate) fn for_backend(backend: DbBackend) -> WriteTurns {
        if backend != DbBackend::Sqlite {
            return WriteTurns::default();
        }
        let turn = || Some(Arc::new(tokio::sync::Mutex::new(())));
        WriteTurns {
            access: turn(),
            pairs: turn(),
            codes: turn(),
            spends: turn(),
            redeem_pairs: turn(),
            redeem_lone: turn(),
        }
    }
}

impl Batchers {
    /// Queues whose write batches take their kind's turn (see [`WriteTurn`]).
    pub(crate) fn new(turns: &WriteTurns) -> Batchers {
        Batchers {
            access: Batcher::new(&turns.access),
            pairs: Batcher::new(&turns.pairs),
            codes: Batcher::new(&turns.codes),
            spends: Batcher::new(&turns.spends),
            redeem_pairs: Batcher::new(&turns.redeem_pairs),
            redeem_lone: Batcher::new(&turns.redeem_lone),
            sessions: Batcher::new(&None),
            code_reads: Batcher::new(&None),
            token_reads: Batcher::new(&None),
        }
    }
}

impl std::fmt::Debug for Batchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batchers").finish_non_exhaustive()
    }
}

/// One queue of rows waiting to be written or looked up.
pub(crate) struct Batcher<R: BatchRow> {
    state: Arc<Mutex<State<R>>>,
    /// Taken for each batch of a queue that writes (see [`WriteTurn`]); `None` for lookups.
    turn: WriteTurn,
}

impl<R: BatchRow> Batcher<R> {
    fn new(turn: &WriteTurn) -> Self {
        Batcher { state: Arc::new(Mutex::new(State { writing: false, rows: Vec::new() })), turn: turn.clone() }
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
            let (state, db, turn) = (self.state.clone(), db.clone(), self.turn.clone());
            tokio::spawn(async move { drain(&state, &db, turn.as_deref()).await });
        }
        // The writer dropped the sender without an answer: only when the runtime stops.
        outcome.await.unwrap_or_else(|_| Err(RepoError::Backend("the writer task stopped".into())))
    }
}

/// Runs batches until the queue is empty.
async fn drain<R: BatchRow>(state: &Mutex<State<R>>, db: &DatabaseConnection, turn: Option<&tokio::sync::Mutex<()>>) {
    loop {
        // Taken before the rows, so that the batch holds every row queued while it waited.
        let _turn = match turn {
            Some(turn) => Some(turn.lock().await),
            None => None,
        };
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Batches in progress now, and the most seen at once.
    static NOW: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    /// A "write" that takes a while and counts how many run at once.
    #[derive(Clone)]
    struct SlowWrite;

    impl BatchRow for SlowWrite {
        type Outcome = ();
        async fn run_all(_db: &DatabaseConnection, rows: &[Self]) -> Result<Vec<()>, DbErr> {
            let now = NOW.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            NOW.fetch_sub(1, Ordering::SeqCst);
            Ok(vec![(); rows.len()])
        }
    }

    #[test]
    fn only_sqlite_has_turns() {
        assert!(WriteTurns::for_backend(DbBackend::Sqlite).codes.is_some());
        assert!(WriteTurns::for_backend(DbBackend::Postgres).codes.is_none());
    }

    /// Two shards' queues of one kind share its turn: their batches never
    /// write at the same time, and every row still gets its outcome.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queues_of_one_kind_take_turns_across_shards() {
        let turns = WriteTurns::for_backend(DbBackend::Sqlite);
        let (a, b) = (Batcher::<SlowWrite>::new(&turns.access), Batcher::<SlowWrite>::new(&turns.access));
        let (a, b) = (Arc::new(a), Arc::new(b));
        let db = DatabaseConnection::default();
        let mut calls = Vec::new();
        for i in 0..40 {
            let q = if i % 2 == 0 { a.clone() } else { b.clone() };
            let db = db.clone();
            calls.push(tokio::spawn(async move { q.run(&db, SlowWrite).await }));
        }
        for c in calls {
            c.await.expect("task").expect("every row is written");
        }
        assert_eq!(MOST.load(Ordering::SeqCst), 1, "one batch of the kind at a time");
    }
}
