//! RESP request parsing and reply encoding throughput. Run with
//! `cargo bench -p slotkv-benches --bench resp`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slotkv_engine::Reply;
use slotkv_net::resp::{
    encode_reply, encode_request, parse_request, ParseLimits, Protocol, RequestDecoder,
};

fn pipeline(commands: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..commands {
        let args = [
            Bytes::from_static(b"SET"),
            Bytes::from(format!("key:{i:08}")),
            Bytes::from(vec![b'v'; 32]),
        ];
        encode_request(&args, &mut out);
    }
    out
}

fn bench_parse(c: &mut Criterion) {
    let limits = ParseLimits::default();
    let input = pipeline(1000);
    let mut group = c.benchmark_group("resp");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("parse/set-pipeline-1000", |b| {
        // As a connection parses: one decoder, one argument vector reused.
        let mut decoder = RequestDecoder::default();
        let mut args = Vec::new();
        b.iter(|| {
            let mut buf = input.clone();
            let mut parsed = 0;
            while let Ok(true) = decoder.decode_into(&mut buf, &limits, &mut args) {
                parsed += args.len();
            }
            assert_eq!(parsed, 3000);
        });
    });
    let inline = BytesMut::from(&b"SET key:00000001 some-value-here\r\n".repeat(1000)[..]);
    group.bench_function("parse/inline-1000", |b| {
        b.iter(|| {
            let mut buf = inline.clone();
            while let Ok(Some(args)) = parse_request(&mut buf, &limits) {
                std::hint::black_box(args);
            }
        });
    });
    let replies: Vec<Reply> = (0..1000)
        .map(|i| Reply::Bulk(Bytes::from(format!("value-{i:026}"))))
        .collect();
    group.bench_function("encode/bulk-1000", |b| {
        let mut out = BytesMut::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            for reply in &replies {
                encode_reply(reply, Protocol::Resp2, &mut out);
            }
            std::hint::black_box(out.len());
        });
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
