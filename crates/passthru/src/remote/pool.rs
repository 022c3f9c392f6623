//! Many hosts at once: at most `concurrency` at a time, in order of the list, each
//! host's result in its own slot; a failure never stops the others unless
//! `max_fail` says to stop starting new ones.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// What a run reports as it goes (a progress bar listens).
pub trait Observer: Sync {
    /// Item `i` started.
    fn started(&self, _i: usize) {}
    /// Item `i` finished (`failed` as the job said).
    fn finished(&self, _i: usize, _failed: bool) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// How to run the jobs.
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    /// At most this many at once (at least 1).
    pub concurrency: usize,
    /// Stop starting new jobs after this many failures.
    pub max_fail: Option<usize>,
}

impl Pool {
    /// Runs `job` on every item; returns each result, `None` for items never started
    /// (after `max_fail` failures). `job` returns its result and whether it failed.
    pub fn run<T, R, F>(&self, items: &[T], job: F, obs: &dyn Observer) -> Vec<Option<R>>
    where
        T: Sync,
        R: Send,
        F: Fn(usize, &T) -> (R, bool) + Sync,
    {
        let next = AtomicUsize::new(0);
        let failures = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
        let workers = self.concurrency.clamp(1, items.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { return };
                    obs.started(i);
                    let (r, failed) = job(i, item);
                    if failed {
                        let n = failures.fetch_add(1, Ordering::SeqCst) + 1;
                        if self.max_fail.is_some_and(|m| n >= m) {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    obs.finished(i, failed);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|m| m.into_inner().ok().flatten())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once_in_order_of_slots() {
        let items: Vec<u32> = (0..50).collect();
        let out = Pool {
            concurrency: 7,
            max_fail: None,
        }
        .run(&items, |_, x| (x * 2, false), &Quiet);
        assert_eq!(out, items.iter().map(|x| Some(x * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn max_fail_stops_starting_new_items() {
        let items: Vec<u32> = (0..10).collect();
        let out = Pool {
            concurrency: 1,
            max_fail: Some(2),
        }
        .run(&items, |_, x| (*x, *x % 2 == 1), &Quiet);
        // 1 and 3 fail: nothing after 3 starts.
        assert_eq!(
            out,
            [
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
    }
}
