//! The typed embedded API: `Engine` methods that take and return Rust types instead of RESP
//! argument vectors. Each method runs the same code as the command it mirrors.

pub mod cluster;
pub mod keys;
pub mod strings;
