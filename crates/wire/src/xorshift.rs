//! A deterministic pseudo-random sequence (xorshift64*) for generated test data: corpora,
//! synthetic captures, shuffles. Not randomness: the same seed gives the same sequence on
//! every run and machine, which is what the catalog and the generators need.

/// xorshift64* (Marsaglia's xorshift with Vigna's multiplier).
#[derive(Clone, Debug)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A sequence from `seed` (0, which xorshift cannot leave, is replaced by a fixed seed).
    pub fn new(seed: u64) -> Self {
        Xorshift(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index in `0..n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let a: Vec<u64> = (0..5).scan(Xorshift::new(7), |r, _| Some(r.next())).collect();
        let b: Vec<u64> = (0..5).scan(Xorshift::new(7), |r, _| Some(r.next())).collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        let mut r = Xorshift::new(0);
        assert!((0..1000).all(|_| r.below(10) < 10 && r.index(3) < 3));
        assert_eq!(r.below(0), 0);
    }
}
