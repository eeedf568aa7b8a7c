//! CRC-64 as Redis computes it (the "Jones" polynomial 0xad93d23594c935a9, reflected, initial
//! value and final xor 0; `123456789` checks to 0xe9c6d914c4b8d9ca). It ends every RDB file
//! (0 when `rdbchecksum no`) and every DUMP payload.
//!
//! The `crc` crate's catalog entry `CRC_64_REDIS` carries these parameters; a table sliced 16
//! ways keeps checksumming a multi-gigabyte file fast.

use crc::{Crc, Digest, Table, CRC_64_REDIS};

static CRC: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// The CRC64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    CRC.checksum(data)
}

/// A running CRC64 over data that arrives in pieces.
pub struct Crc64 {
    digest: Digest<'static, u64, Table<16>>,
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crc64")
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

impl Crc64 {
    /// A checksum of nothing yet.
    pub fn new() -> Crc64 {
        Crc64 {
            digest: CRC.digest(),
        }
    }

    /// Adds `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    /// The checksum of everything added.
    pub fn finish(self) -> u64 {
        self.digest.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_is_redis_s() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn pieces_give_the_whole_s_checksum() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut running = Crc64::new();
        for piece in data.chunks(37) {
            running.update(piece);
        }
        assert_eq!(running.finish(), crc64(&data));
    }
}
