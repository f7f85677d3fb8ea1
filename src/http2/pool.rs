//! The threads that run HTTP/2 and gRPC handlers, off the connections' threads, so that a
//! slow handler holds back only its own stream.
//!
//! tokio's blocking pool (`spawn_blocking`) wakes a sleeping thread for every job: under
//! h2load's ten streams at a time that is a thread woken, and a connection woken back, per
//! request, which was most of the server's time in a profile. This pool wakes lazily:
//!
//! 1. A job is queued; a sleeping thread is woken only when no thread is already awake
//!    and looking for work — a burst of requests costs one wake-up, and the awake thread
//!    runs them one after the other.
//! 2. A thread takes jobs until the queue is empty, then sleeps.
//! 3. When every thread is busy, a job waits. The watchdog looks every millisecond: a job
//!    that has waited that long behind busy threads gets a new thread (up to [`MAX_THREADS`]),
//!    so a fast request is held back at most a millisecond by a slow one, never for the
//!    slow one's whole time.
//!
//! A thread with nothing to do for `IDLE` (10 s) ends (the first one stays).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// At most this many threads run handlers at once (tokio's blocking pool has the same cap).
pub const MAX_THREADS: usize = 512;
/// How long a queued job may wait behind busy threads before another thread is started.
const PATIENCE: Duration = Duration::from_millis(1);
/// A thread idle this long ends.
const IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<(Instant, Job)>,
    /// Threads alive.
    threads: usize,
    /// Threads asleep, waiting for a job.
    sleeping: usize,
    /// Threads started, woken, or just done with a job, that have not yet looked at the queue.
    looking: usize,
    /// Sleepers woken by `wake_or_start` that have not yet woken up.
    wakeups: usize,
    /// The watchdog thread runs.
    watchdog: bool,
    /// The watchdog sleeps until called (no job waits).
    watchdog_idle: bool,
}

struct Pool {
    state: Mutex<State>,
    /// Wakes a sleeping thread.
    work: Condvar,
    /// Wakes the watchdog when jobs wait behind busy threads.
    stalled: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        stalled: Condvar::new(),
    })
}

fn lock(pool: &Pool) -> MutexGuard<'_, State> {
    // A job runs outside the lock, so a panic never poisons it; if it ever were, the
    // state is still whole (every change is made in one step).
    pool.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `job` on one of the pool's threads (step 1).
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut s = lock(pool);
    s.queue.push_back((Instant::now(), Box::new(job)));
    if s.looking > 0 {
        // An awake thread will see it.
        return;
    }
    if s.sleeping > 0 || s.threads == 0 {
        return wake_or_start(pool, &mut s);
    }
    // Every thread is busy: the watchdog decides (step 3).
    call_watchdog(pool, &mut s);
}

/// Jobs wait and no thread is looking: the watchdog is started, or woken if it sleeps
/// without a deadline.
fn call_watchdog(pool: &Pool, s: &mut State) {
    if !s.watchdog {
        let started = std::thread::Builder::new()
            .name("h2 pool watchdog".into())
            .spawn(watchdog);
        s.watchdog = started.is_ok();
    } else if s.watchdog_idle {
        s.watchdog_idle = false;
        pool.stalled.notify_one();
    }
}

/// Wakes a sleeping thread, or starts one; it is counted as looking from now on. Without a
/// thread (the system refuses one), the job waits for a busy thread.
fn wake_or_start(pool: &Pool, s: &mut State) {
    if s.sleeping > 0 {
        s.sleeping -= 1;
        s.looking += 1;
        s.wakeups += 1;
        pool.work.notify_one();
        return;
    }
    if s.threads >= MAX_THREADS {
        return;
    }
    let started = std::thread::Builder::new()
        .name("h2 handler".into())
        .spawn(run);
    if started.is_ok() {
        s.threads += 1;
        s.looking += 1;
    }
}

/// One thread of the pool (step 2): jobs until the queue is empty, then sleep.
fn run() {
    let pool = pool();
    let mut s = lock(pool);
    loop {
        // This thread is counted as looking (started, woken, or done with a job).
        if let Some((_, job)) = s.queue.pop_front() {
            s.looking -= 1;
            if !s.queue.is_empty() && s.looking == 0 {
                // The next job may wait for this one: the watchdog keeps an eye on it.
                call_watchdog(pool, &mut s);
            }
            drop(s);
            // Handlers catch their own panics; one that escapes must not take the thread's
            // place in the counts with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            s = lock(pool);
            s.looking += 1;
            continue;
        }
        s.looking -= 1;
        s.sleeping += 1;
        loop {
            let (next, waited) = pool
                .work
                .wait_timeout(s, IDLE)
                .unwrap_or_else(|p| p.into_inner());
            s = next;
            if s.wakeups > 0 {
                // `wake_or_start` already counted a sleeper as looking: this one.
                s.wakeups -= 1;
                break;
            }
            if waited.timed_out() && s.threads > 1 {
                s.sleeping -= 1;
                s.threads -= 1;
                return;
            }
        }
    }
}

/// Step 3: while jobs wait behind busy threads, every [`PATIENCE`] one more thread.
fn watchdog() {
    let pool = pool();
    let mut s = lock(pool);
    loop {
        let waited = s.queue.front().map(|(since, _)| since.elapsed());
        let nap = match waited {
            None => {
                s.watchdog_idle = true;
                s = pool.stalled.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            Some(w) if w < PATIENCE => PATIENCE - w,
            Some(_) => {
                if s.looking == 0 {
                    wake_or_start(pool, &mut s);
                }
                PATIENCE
            }
        };
        s = pool
            .stalled
            .wait_timeout(s, nap)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_slow_job_holds_back_no_other() {
        let (tx, rx) = mpsc::channel();
        let slow = tx.clone();
        spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let _ = slow.send("slow");
        });
        for _ in 0..20 {
            let fast = tx.clone();
            spawn(move || {
                let _ = fast.send("fast");
            });
        }
        let order: Vec<_> = (0..21).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(order.last(), Some(&"slow"), "{order:?}");
    }

    #[test]
    fn many_jobs_at_once_all_run() {
        let (tx, rx) = mpsc::channel();
        for i in 0..1000 {
            let tx = tx.clone();
            spawn(move || {
                let _ = tx.send(i);
            });
        }
        let mut got: Vec<i32> = (0..1000).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}
