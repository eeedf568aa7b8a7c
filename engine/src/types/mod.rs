//! The collection value types, one file each: their in-memory representations (compact below
//! Redis's size thresholds, indexed above them) and the operations their commands need.

pub mod encodings;
pub mod hash;
pub mod list;
pub mod scan;
pub mod set;
pub mod zset;
