//! The open-files limit `maxclients` needs, raised as Redis raises it.
//!
//! Every client is a file descriptor, and the server keeps a few more of its own (listeners,
//! the AOF, replication and bus links). At start-up and on `CONFIG SET maxclients` the soft
//! `RLIMIT_NOFILE` is raised towards `maxclients` plus that reserve, up to the hard limit.
//! Where the hard limit is lower, start-up lowers `maxclients` to what fits (with Redis's
//! warning) and CONFIG SET refuses the value, so the server never accepts a client it has no
//! descriptor for.

/// Descriptors kept for the server's own use beyond its clients (Redis keeps 32).
pub const RESERVED_FDS: u64 = 32;

/// Raises the soft open-files limit so `maxclients` clients fit. `Err` carries the most
/// clients the limit in force allows (0 when not even the reserve fits).
pub fn reserve_for(maxclients: u64) -> Result<(), u64> {
    let wanted = maxclients.saturating_add(RESERVED_FDS);
    let granted = rlimit::increase_nofile_limit(wanted).unwrap_or_else(|_| current_limit());
    if granted >= wanted {
        Ok(())
    } else {
        Err(granted.saturating_sub(RESERVED_FDS))
    }
}

/// The soft open-files limit in force (`u64::MAX` when it cannot be read: assume no limit).
fn current_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft)
}

/// Start-up's adjustment: the `maxclients` the limit allows, with Redis's warning when it is
/// lower than the one configured.
pub fn adjust_at_startup(maxclients: u64) -> u64 {
    match reserve_for(maxclients) {
        Ok(()) => maxclients,
        Err(fitting) => {
            tracing::warn!(
                "You requested maxclients of {maxclients} requiring at least {} max file descriptors.",
                maxclients.saturating_add(RESERVED_FDS)
            );
            tracing::warn!(
                "Current maximum open files is {}. maxclients has been reduced to {fitting} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
                fitting + RESERVED_FDS
            );
            fitting.max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_maxclients_always_fits() {
        assert_eq!(reserve_for(16), Ok(()));
        assert_eq!(adjust_at_startup(16), 16);
    }

    #[test]
    fn an_impossible_maxclients_reports_what_fits() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
        if hard >= u64::from(u32::MAX) {
            return; // No hard limit to run into on this machine.
        }
        let fitting = reserve_for(hard + 1000).expect_err("above the hard limit");
        assert_eq!(fitting, hard - RESERVED_FDS);
        assert_eq!(adjust_at_startup(hard + 1000), hard - RESERVED_FDS);
    }
}
