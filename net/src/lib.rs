//! slotkv-net: the RESP server in front of the engine.
