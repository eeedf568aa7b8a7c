//! Engine GET/SET throughput at one and two threads, ZPOPMIN on a sorted set and SADD on a set
//! of a million members (redis-benchmark's shapes), without any network: the ceiling the
//! server can reach.
//! Run with `cargo bench -p slotkv-benches --bench engine`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use slotkv_engine::{Config, Engine, Reply};

const KEYS: usize = 100_000;

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key:{i:08}"))
}

fn command(words: &[Bytes]) -> Vec<Bytes> {
    words.to_vec()
}

fn filled_engine() -> Engine {
    let engine = Engine::open(Config::default()).expect("open engine");
    let value = Bytes::from(vec![b'v'; 32]);
    for i in 0..KEYS {
        let reply = engine.execute(&command(&[
            Bytes::from_static(b"SET"),
            key(i),
            value.clone(),
        ]));
        assert_eq!(reply, Reply::Ok);
    }
    engine
}

/// Runs `ops_per_thread` operations on each of `threads` threads; returns the wall time.
fn run_threads(engine: &Engine, threads: usize, ops_per_thread: u64, get: bool) -> Duration {
    let engine = Arc::new(engine.clone());
    let value = Bytes::from(vec![b'w'; 32]);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let engine = engine.clone();
            let value = value.clone();
            scope.spawn(move || {
                let mut i = t * 7919;
                for _ in 0..ops_per_thread {
                    i = (i + 104_729) % KEYS;
                    let args = if get {
                        vec![Bytes::from_static(b"GET"), key(i)]
                    } else {
                        vec![Bytes::from_static(b"SET"), key(i), value.clone()]
                    };
                    std::hint::black_box(engine.execute(&args));
                }
            });
        }
    });
    started.elapsed()
}

fn bench_engine(c: &mut Criterion) {
    let engine = filled_engine();
    let mut group = c.benchmark_group("engine");
    for threads in [1usize, 2] {
        for (name, get) in [("get", true), ("set", false)] {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(format!("{name}/{threads}-thread"), |b| {
                b.iter_custom(|iters| run_threads(&engine, threads, iters, get));
            });
        }
    }
    group.bench_function("set/fresh-engine-batch", |b| {
        b.iter_batched(
            || {
                Engine::open(Config {
                    active_expiry: false,
                    ..Config::default()
                })
                .expect("open")
            },
            |fresh| {
                for i in 0..1000 {
                    fresh.execute(&[Bytes::from_static(b"SET"), key(i), Bytes::from_static(b"v")]);
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// Members in the sorted set ZPOPMIN pops from; it is refilled (untimed) below half.
const ZSET_MEMBERS: u64 = 1_000_000;

/// Adds members with pseudo-random scores until the sorted set holds [`ZSET_MEMBERS`].
fn refill_zset(engine: &Engine, next: &mut u64) {
    let card = |engine: &Engine| match engine
        .execute(&[Bytes::from_static(b"ZCARD"), Bytes::from_static(b"myzset")])
    {
        Reply::Integer(n) => n as u64,
        other => panic!("ZCARD answered {other:?}"),
    };
    while card(engine) < ZSET_MEMBERS {
        *next += 1;
        let score = next.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 2_000_000;
        engine.execute(&[
            Bytes::from_static(b"ZADD"),
            Bytes::from_static(b"myzset"),
            Bytes::from(score.to_string()),
            Bytes::from(format!("element:{next}")),
        ]);
    }
}

fn bench_zset(c: &mut Criterion) {
    let engine = Engine::open(Config::default()).expect("open engine");
    let mut next = 0;
    refill_zset(&engine, &mut next);
    let pop = [
        Bytes::from_static(b"ZPOPMIN"),
        Bytes::from_static(b"myzset"),
    ];
    c.bench_function("zset/zpopmin-1M", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                refill_zset(&engine, &mut next);
                let batch = left.min(ZSET_MEMBERS / 2);
                let started = Instant::now();
                for _ in 0..batch {
                    std::hint::black_box(engine.execute(&pop));
                }
                spent += started.elapsed();
                left -= batch;
            }
            spent
        });
    });
}

/// SADD of pseudo-random short members (redis-benchmark's `element:N`) into one set of about
/// a million: the member lookup dominates.
fn bench_set(c: &mut Criterion) {
    let engine = Engine::open(Config::default()).expect("open engine");
    let mut next = 0u64;
    let mut sadd = |engine: &Engine| {
        next += 1;
        let member = next.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000;
        engine.execute(&[
            Bytes::from_static(b"SADD"),
            Bytes::from_static(b"myset"),
            Bytes::from(format!("element:{member}")),
        ])
    };
    for _ in 0..1_000_000 {
        sadd(&engine);
    }
    c.bench_function("set/sadd-1M", |b| {
        b.iter(|| std::hint::black_box(sadd(&engine)))
    });
}

criterion_group!(benches, bench_engine, bench_zset, bench_set);
criterion_main!(benches);
