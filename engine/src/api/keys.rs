//! Typed API for key commands (DEL, EXISTS, EXPIRE, TTL, ...).
