//! slotkv-persistence: durability in Redis's own formats.
