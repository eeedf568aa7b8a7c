//! The transaction gate: a reader-writer lock split into one stripe per thread. Every command
//! enters its thread's stripe (shared, uncontended: its own cache line); EXEC takes every
//! stripe exclusively, so the commands of a transaction run with no other command in between,
//! as Redis promises, while ordinary commands on different slots still run in parallel.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::counter::{thread_stripe, STRIPES};

/// One stripe, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Stripe(RwLock<()>);

/// The gate.
#[derive(Debug, Default)]
pub struct Gate {
    stripes: [Stripe; STRIPES],
}

/// A command's shared hold on its thread's stripe.
pub type GateGuard<'a> = RwLockReadGuard<'a, ()>;

/// EXEC's exclusive hold on every stripe.
#[derive(Debug)]
pub struct ExclusiveGuard<'a> {
    _stripes: Vec<RwLockWriteGuard<'a, ()>>,
}

impl Gate {
    /// Enters the gate for one command (never nest: a thread enters once at a time).
    pub fn enter(&self) -> GateGuard<'_> {
        self.stripes[thread_stripe()].0.read()
    }

    /// Closes the gate: waits for running commands to finish and keeps new ones out.
    pub fn close(&self) -> ExclusiveGuard<'_> {
        ExclusiveGuard {
            _stripes: self.stripes.iter().map(|s| s.0.write()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn closing_waits_for_commands_and_keeps_new_ones_out() {
        let gate = Gate::default();
        let inside = AtomicBool::new(false);
        let closed = gate.close();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _entered = gate.enter();
                inside.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                !inside.load(Ordering::SeqCst),
                "a command ran while the gate was closed"
            );
            drop(closed);
        });
        assert!(inside.load(Ordering::SeqCst));
    }
}
