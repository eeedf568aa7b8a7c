//! `slotkv-sentinel /path/to/sentinel.conf [--directive value ...]`: slotkv-server in
//! sentinel mode, as redis-sentinel is redis-server in sentinel mode.

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    slotkv_net::sentinel::main(&args)
}
