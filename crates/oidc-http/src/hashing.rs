//! Password hashing on a small pool of dedicated threads.
//!
//! Argon2id is CPU-bound (tens of milliseconds) and memory-bound (12 MiB per
//! check, see [`oidc_core::password::HASH_M_COST_KIB`]). Running it on tokio's
//! blocking pool let each check allocate and free its buffer on whichever
//! thread ran it, and the allocator kept those buffers: a burst of failed
//! logins left hundreds of MiB resident. Here one thread per core owns a
//! [`PasswordWorker`] whose working memory is allocated once and reused, so
//! password checks hold at most 12 MiB per thread, and at most that many run at
//! once; the rest queue (with backpressure) instead of piling up.

use std::sync::{Arc, Mutex};

use oidc_core::model::PasswordHash;
use oidc_core::password::{PasswordWorker, Verified};
use oidc_core::rand::Random;
use oidc_core::secret::Password;
use tokio::sync::{mpsc, oneshot};

enum Job {
    Verify(Password, PasswordHash, oneshot::Sender<Verified>),
    Hash(Password, oneshot::Sender<PasswordHash>),
}

/// The password threads; they stop when the pool is dropped.
pub(crate) struct PasswordPool {
    jobs: mpsc::Sender<Job>,
}

impl PasswordPool {
    /// Starts `threads` hashing threads (at least one).
    pub(crate) fn new(threads: usize, rng: Arc<dyn Random>) -> PasswordPool {
        let (tx, rx) = mpsc::channel::<Job>(256);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let rng = rng.clone();
            let spawned = std::thread::Builder::new().name(format!("oidc-password-{i}")).spawn(move || {
                let mut worker = PasswordWorker::new();
                loop {
                    // One idle thread waits on the queue at a time; it lets go as soon as it has a job.
                    let job = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).blocking_recv();
                    match job {
                        Some(Job::Verify(pw, hash, reply)) => {
                            let _ = reply.send(worker.verify(&pw, &hash));
                        }
                        Some(Job::Hash(pw, reply)) => {
                            let _ = reply.send(worker.hash(&pw, rng.as_ref()));
                        }
                        None => break,
                    }
                }
            });
            if let Err(e) = spawned {
                crate::log::error(&format!("cannot start a password hashing thread: {e}"));
            }
        }
        PasswordPool { jobs: tx }
    }

    /// Verifies `password` against `hash` on a hashing thread; `No` if the pool is gone.
    pub(crate) async fn verify(&self, password: Password, hash: PasswordHash) -> Verified {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Verify(password, hash, tx)).await.is_err() {
            return Verified::No;
        }
        rx.await.unwrap_or(Verified::No)
    }

    /// Hashes `password` with today's parameters on a hashing thread.
    pub(crate) async fn hash(&self, password: Password) -> Option<PasswordHash> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Hash(password, tx)).await.ok()?;
        rx.await.ok()
    }
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool").finish_non_exhaustive()
    }
}
