//! A counter many threads bump without fighting over one cache line: it is split into stripes,
//! each on its own line, and each thread adds to its own stripe. Reading sums the stripes, so a
//! read is exact for everything that happened before it.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Number of stripes: more than the threads a server runs in practice.
pub(crate) const STRIPES: usize = 16;

/// One stripe, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Stripe(AtomicI64);

/// A striped signed counter.
#[derive(Debug, Default)]
pub struct StripedCounter {
    stripes: [Stripe; STRIPES],
}

/// The stripe of the calling thread, assigned round-robin at its first use.
pub(crate) fn thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        if stripe.get() == usize::MAX {
            stripe.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        stripe.get()
    })
}

impl StripedCounter {
    /// Adds `delta` (may be negative).
    pub fn add(&self, delta: i64) {
        self.stripes[thread_stripe()]
            .0
            .fetch_add(delta, Ordering::Relaxed);
    }

    /// The count; a negative sum (never expected) reads as 0.
    pub fn get(&self) -> u64 {
        let total: i64 = self
            .stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum();
        u64::try_from(total).unwrap_or(0)
    }

    /// Sets the count to zero.
    pub fn reset(&self) {
        for stripe in &self.stripes {
            stripe.0.store(0, Ordering::Relaxed);
        }
    }

    /// Exchanges the counts of two counters (callers hold whatever keeps both still).
    pub fn swap_with(&self, other: &StripedCounter) {
        for (mine, theirs) in self.stripes.iter().zip(&other.stripes) {
            let value = mine.0.load(Ordering::Relaxed);
            mine.0
                .store(theirs.0.swap(value, Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_across_threads() {
        let counter = StripedCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| (0..1000).for_each(|_| counter.add(1)));
            }
        });
        counter.add(-10);
        assert_eq!(counter.get(), 3990);
        let other = StripedCounter::default();
        counter.swap_with(&other);
        assert_eq!((counter.get(), other.get()), (0, 3990));
        other.reset();
        assert_eq!(other.get(), 0);
    }
}
