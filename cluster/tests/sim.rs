//! Deterministic cluster simulations (see sim/harness.rs). A failing seed prints the command
//! replaying it: `SIM_SEED=<n> cargo test -p slotkv-cluster --test sim`.

#[path = "sim/harness.rs"]
mod harness;

use harness::{Event, Faults, Sim};
use rand::Rng;
use slotkv_cluster::{ClusterConfig, FailoverKind};

const TIMEOUT: u64 = 3000;

fn config() -> ClusterConfig {
    ClusterConfig {
        node_timeout_ms: TIMEOUT,
        ..ClusterConfig::default()
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}"))
    }
}

/// Seeds to run: `SIM_SEED` alone when set, else `count` seeds from `base` (`SIM_SEEDS=n`
/// runs n times as many, for long sweeps).
fn seeds(base: u64, count: u64) -> Vec<u64> {
    let env = |name| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    match env("SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let count = count * env("SIM_SEEDS").unwrap_or(1);
            (base * 1000..base * 1000 + count).collect()
        }
    }
}

fn run_seeds(base: u64, count: u64, scenario: impl Fn(u64) -> Result<(), String>) {
    for seed in seeds(base, count) {
        if let Err(e) = scenario(seed) {
            panic!("seed {seed} failed: {e}\nreplay: SIM_SEED={seed} cargo test -p slotkv-cluster --test sim");
        }
    }
}

/// Kills the primary of slot 0; its replica takes over; returns (old, new, virtual ms taken).
fn kill_primary(sim: &mut Sim, slot: u16) -> Result<(usize, usize, u64), String> {
    let old = sim.primary_of(slot).ok_or("no primary for the slot")?;
    let replicas = sim.replicas_of(old);
    sim.crash(old);
    let took = sim.wait(10 * TIMEOUT, "a replica to take over", |s| {
        s.primary_of(slot).is_some_and(|p| p != old)
    })?;
    let new = sim.primary_of(slot).ok_or("no new primary")?;
    if !replicas.contains(&new) {
        return Err(format!(
            "node {new} took the slot but was not a replica of {old}"
        ));
    }
    Ok((old, new, took))
}

#[test]
fn create_three_primaries_three_replicas() {
    run_seeds(1, 40, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        let c = sim.cluster(0);
        let info = c.info_text();
        check(
            info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"),
            &info,
        )?;
        check(
            info.contains("cluster_known_nodes:6\r\ncluster_size:3\r\n"),
            &info,
        )?;
        let slots = c.slots_info();
        check(
            slots.len() == 3 && slots.iter().all(|r| r.nodes.len() == 2),
            "CLUSTER SLOTS",
        )?;
        check(c.nodes_text().lines().count() == 6, "CLUSTER NODES")?;
        check(
            c.shards_info().iter().all(|s| s.nodes.len() == 2),
            "CLUSTER SHARDS",
        )?;
        for i in 3..6 {
            check(
                sim.cluster(i).myshardid() == sim.cluster(i - 3).myshardid(),
                "shard ids",
            )?;
        }
        Ok(())
    });
}

#[test]
fn failover_then_old_primary_rejoins_as_replica() {
    run_seeds(100, 20, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        let (old, new, took) = kill_primary(&mut sim, 0)?;
        if took > 2 * TIMEOUT + 2000 {
            return Err(format!("failover took {took} ms"));
        }
        sim.restart(old, None)?;
        let new_id = sim.id(new);
        sim.wait(30_000, "the old primary to follow the new one", |s| {
            s.cluster(old).primary() == Some(new_id)
        })?;
        let followed = sim
            .events
            .iter()
            .any(|e| matches!(e, Event::Replicates { node, primary, .. } if *node == old && *primary == new_id));
        if !followed {
            return Err("no Replicate output on the old primary".into());
        }
        sim.wait(60_000, "agreement", |s| s.agreement().is_ok())?;
        Ok(())
    });
}

#[test]
fn failover_time_is_about_two_node_timeouts() {
    let mut total = 0;
    let seeds = seeds(500, 20);
    for &seed in &seeds {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1).expect("cluster forms");
        let (_, _, took) = kill_primary(&mut sim, 9000).expect("failover");
        total += took;
    }
    let mean = total / seeds.len() as u64;
    eprintln!(
        "mean failover time over {} seeds: {mean} ms (node timeout {TIMEOUT} ms)",
        seeds.len()
    );
    assert!(mean <= 2 * TIMEOUT, "mean failover time {mean} ms");
}

#[test]
fn primary_cut_off_in_a_minority_stops_serving_and_rejoins_as_replica() {
    run_seeds(250, 10, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        sim.isolate(0);
        let took = sim.wait(
            3 * TIMEOUT,
            "the cut-off primary to report cluster_state:fail",
            |s| !s.cluster(0).state_ok(),
        )?;
        check(
            took <= 2 * TIMEOUT,
            &format!("minority primary still ok after {took} ms"),
        )?;
        sim.wait(10 * TIMEOUT, "its replica to take over", |s| {
            s.cluster(3).is_primary() && s.cluster(1).slot_owner(0) == Some(s.id(3))
        })?;
        check(
            !sim.cluster(0).state_ok(),
            "the minority primary stays fail",
        )?;
        sim.heal();
        let new = sim.id(3);
        sim.wait(30_000, "the old primary to follow its replica", |s| {
            s.cluster(0).primary() == Some(new)
        })?;
        sim.wait(30_000, "agreement", |s| s.agreement().is_ok())?;
        Ok(())
    });
}

#[test]
fn repeated_failovers_of_one_shard() {
    run_seeds(200, 15, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        for round in 0..4 {
            let (old, new, _) = kill_primary(&mut sim, 100)?;
            sim.restart(old, None)?;
            let new_id = sim.id(new);
            sim.wait(30_000, "the old primary to rejoin", |s| {
                s.cluster(old).primary() == Some(new_id)
            })
            .map_err(|e| format!("round {round}: {e}"))?;
            sim.wait(60_000, "agreement", |s| s.agreement().is_ok())
                .map_err(|e| format!("round {round}: {e}"))?;
        }
        Ok(())
    });
}

#[test]
fn node_restarted_at_a_new_address_is_found_by_id() {
    run_seeds(300, 15, |seed| {
        // Odd seeds: nodes announce no IP; peers take the connections' source address.
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        if seed % 2 == 1 {
            sim.stop_announcing();
        }
        // Node 1 is a primary; node 4 replicates it.
        let moved = 1;
        let since = sim.now;
        sim.crash(moved);
        sim.restart(moved, Some("10.9.9.9".into()))?;
        let id = sim.id(moved);
        sim.wait(30_000, "everyone to learn the new address", |s| {
            (0..6).all(|i| s.cluster(i).node(&id).is_some_and(|n| n.ip == "10.9.9.9"))
        })?;
        sim.wait(30_000, "agreement", |s| s.agreement().is_ok())?;
        let routing = sim.cluster(moved).routing();
        check(
            routing.myself().ip == "10.9.9.9",
            "the moved node knows its own address",
        )?;
        let repointed = sim.events.iter().any(|e| {
            matches!(e, Event::Replicates { node: 4, primary, at } if *primary == id && *at >= since)
        });
        check(repointed, "the replica was pointed at the moved primary")?;
        Ok(())
    });
}

#[test]
fn every_node_moved_reconnects_by_hostname() {
    run_seeds(350, 10, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        if seed % 2 == 1 {
            sim.stop_announcing();
        }
        for i in 0..6 {
            sim.crash(i);
        }
        for i in 0..6 {
            sim.restart(i, Some(format!("10.8.0.{}", i + 1)))?;
        }
        let ids: Vec<_> = (0..6).map(|i| sim.id(i)).collect();
        sim.wait(60_000, "everyone to learn every new address", |s| {
            (0..6).all(|i| {
                ids.iter().all(|id| {
                    s.cluster(i)
                        .node(id)
                        .is_some_and(|n| n.ip.starts_with("10.8.0."))
                })
            })
        })?;
        sim.wait(30_000, "agreement", |s| s.agreement().is_ok())?;
        Ok(())
    });
}

#[test]
fn replica_migrates_to_an_orphaned_primary() {
    run_seeds(400, 15, |seed| {
        let mut sim = Sim::new(seed, 7, config());
        sim.create(3, 1)?;
        // Node 6 joins as a second replica of node 0.
        let ip = sim.nodes[6].me.ip.clone();
        sim.admin(0, |c, t| c.meet(t, &ip, 6379, None))
            .map_err(|e| e.to_string())?;
        let p0 = sim.id(0);
        sim.wait(60_000, "node 6 to know node 0", |s| {
            s.cluster(6).node(&p0).is_some_and(|n| !n.handshake)
        })?;
        sim.admin(6, |c, t| c.replicate(t, &p0.to_string(), false))
            .map_err(|e| e.to_string())?;
        sim.joined.insert(6);
        sim.wait(60_000, "agreement", |s| s.agreement().is_ok())?;
        // Node 1 loses its only replica (node 4).
        sim.crash(4);
        let p1 = sim.id(1);
        sim.wait(60_000, "a replica of node 0 to migrate to node 1", |s| {
            [3, 6].iter().any(|&r| s.cluster(r).primary() == Some(p1))
        })?;
        if sim.replicas_of(0).len() != 1 {
            return Err("node 0 should keep one replica".into());
        }
        Ok(())
    });
}

#[test]
fn no_failover_for_nofailover_replicas_or_stale_data() {
    run_seeds(700, 5, |seed| {
        // cluster-replica-no-failover: the shard stays down.
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        sim.admin(3, |c, _| {
            c.set_config(ClusterConfig {
                replica_no_failover: true,
                ..config()
            })
        });
        sim.run_for(2000)?;
        sim.crash(0);
        sim.run_for(6 * TIMEOUT)?;
        check(
            sim.primary_of(0).is_none(),
            "a no-failover replica took over",
        )?;
        check(
            sim.cluster(1)
                .node(&sim.id(3))
                .is_some_and(|n| n.nofailover),
            "nofailover flag",
        )?;
        check(!sim.cluster(1).state_ok(), "cluster_state stays fail")?;
        // A replica cut from its primary for longer than the validity limit does not either;
        // with cluster-replica-validity-factor 0 it does.
        for (factor, expect) in [(1, false), (0, true)] {
            let mut sim = Sim::new(
                seed,
                6,
                ClusterConfig {
                    replica_validity_factor: factor,
                    repl_ping_period_ms: 1000,
                    ..config()
                },
            );
            sim.create(3, 1)?;
            sim.nodes[4].repl_down = true;
            sim.run_for(3 * TIMEOUT)?;
            sim.crash(1);
            sim.run_for(6 * TIMEOUT)?;
            let took_over = sim.primary_of(5461).is_some();
            check(
                took_over == expect,
                &format!("validity factor {factor}: took over {took_over}"),
            )?;
        }
        Ok(())
    });
}

#[test]
fn manual_failovers() {
    run_seeds(600, 10, |seed| {
        let mut sim = Sim::new(seed, 6, config());
        sim.create(3, 1)?;
        sim.manual = true;
        for (replica, kind) in [
            (3, FailoverKind::Default),
            (0, FailoverKind::Force),
            (3, FailoverKind::Takeover),
        ] {
            let primary = sim.cluster(replica).primary().ok_or("not a replica")?;
            sim.admin(replica, |c, t| c.failover(t, kind))
                .map_err(|e| e.to_string())?;
            sim.wait(20_000, "the manual failover", |s| {
                s.cluster(replica).is_primary()
            })
            .map_err(|e| format!("{kind:?}: {e}"))?;
            let old = sim.index_of(primary).ok_or("old primary gone")?;
            let me = sim.id(replica);
            sim.wait(20_000, "the old primary to follow", |s| {
                s.cluster(old).primary() == Some(me)
            })
            .map_err(|e| format!("{kind:?}: {e}"))?;
            sim.wait(30_000, "agreement", |s| s.agreement().is_ok())?;
            if sim.nodes[old].paused_until != 0 {
                return Err(format!("{kind:?}: the old primary is still paused"));
            }
        }
        Ok(())
    });
}

/// Random faults for a minute, then heal: the cluster must converge. (Two tests, so the
/// seeds run on two threads.)
#[test]
fn chaos_then_heal_converges() {
    run_seeds(1000, 25, chaos);
}

#[test]
fn chaos_then_heal_converges_more_seeds() {
    run_seeds(1100, 25, chaos);
}

fn chaos(seed: u64) -> Result<(), String> {
    let mut sim = Sim::new(seed, 6, config());
    sim.faults = Faults {
        loss: 0.02,
        dup: 0.02,
        max_delay_ms: 150,
    };
    sim.create(3, 1)?;
    let mut down: Option<usize> = None;
    let mut isolated: Option<usize> = None;
    for _ in 0..60 {
        sim.run_for(1000)?;
        let roll = sim.rng.gen_range(0..100);
        let who = sim.rng.gen_range(0..6);
        match roll {
            0..=7 if down.is_none() && isolated != Some(who) => {
                sim.crash(who);
                down = Some(who);
            }
            8..=19 => {
                if let Some(d) = down.take() {
                    let new_ip = sim.rng.gen_bool(0.3).then(|| format!("10.7.{seed}.{d}"));
                    sim.restart(d, new_ip)?;
                }
            }
            20..=25 if isolated.is_none() && down != Some(who) => {
                sim.isolate(who);
                isolated = Some(who);
            }
            26..=35 => {
                sim.heal();
                isolated = None;
            }
            36..=38 => {
                let jump = sim.rng.gen_range(-1000..3000);
                sim.nodes[who].skew += jump;
            }
            _ => {}
        }
    }
    sim.heal();
    sim.faults = Faults::default();
    if let Some(d) = down {
        sim.restart(d, None)?;
    }
    sim.wait(120_000, "agreement after healing", |s| {
        s.agreement().is_ok()
    })
    .map_err(|e| format!("{e}: {}", sim.agreement().err().unwrap_or_default()))?;
    Ok(())
}

#[test]
fn fifteen_nodes_lose_two_primaries_at_once() {
    run_seeds(1500, 5, |seed| {
        let mut sim = Sim::new(seed, 15, config());
        sim.faults = Faults {
            loss: 0.01,
            dup: 0.01,
            max_delay_ms: 50,
        };
        sim.create(5, 2)?;
        let (a, b) = (
            sim.primary_of(0).ok_or("no primary")?,
            sim.primary_of(16383).ok_or("no primary")?,
        );
        sim.crash(a);
        sim.crash(b);
        // Two shards compete for the same voters: one may need a second election round.
        sim.wait(20 * TIMEOUT, "both shards to fail over", |s| {
            s.primary_of(0).is_some() && s.primary_of(16383).is_some()
        })?;
        sim.restart(a, None)?;
        sim.restart(b, None)?;
        sim.wait(60_000, "agreement", |s| s.agreement().is_ok())?;
        let shard = sim.replicas_of(sim.primary_of(0).ok_or("no primary")?);
        check(
            shard.len() == 2,
            &format!(
                "the old primary rejoined its shard: {shard:?}{}",
                sim.dump()
            ),
        )?;
        Ok(())
    });
}

#[test]
fn fifty_nodes_form_and_fail_over() {
    run_seeds(2000, 2, |seed| {
        let mut sim = Sim::new(
            seed,
            50,
            ClusterConfig {
                node_timeout_ms: 15_000,
                ..ClusterConfig::default()
            },
        );
        sim.create(25, 1)?;
        eprintln!("formed at {} ms after {} messages", sim.now, sim.messages);
        let old = sim.primary_of(0).ok_or("no primary")?;
        sim.crash(old);
        sim.wait(120_000, "a replica to take over", |s| {
            s.primary_of(0).is_some_and(|p| p != old)
        })?;
        Ok(())
    });
}
