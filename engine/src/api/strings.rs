//! Typed API for string commands (GET, SET, INCRBY, ...).
