//! A seeded generator (splitmix64) for the jitter Sentinel adds to failover starts, so a
//! simulation replays exactly from its seed.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// A run id: 40 lowercase hex digits, as Redis's.
    pub fn run_id(&mut self) -> String {
        let mut id = String::with_capacity(40);
        while id.len() < 40 {
            id.push_str(&format!("{:016x}", self.next_u64()));
        }
        id.truncate(40);
        id
    }
}
