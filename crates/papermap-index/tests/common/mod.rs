//! Seeded test data: unit vectors around a few cluster centres.
#![allow(dead_code)]

/// splitmix64: tiny, seeded, and enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

pub fn normalize(v: &mut [f32]) {
    papermap_index::l2_normalize(v).unwrap();
}

/// `n` unit vectors of `dim` dimensions in `clusters` Gaussian clusters, row-major.
pub fn clustered(n: usize, dim: usize, clusters: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| {
            let mut c: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
            normalize(&mut c);
            c
        })
        .collect();
    let mut rows = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = &centres[i % clusters];
        let mut v: Vec<f32> = c.iter().map(|x| x + spread * rng.normal()).collect();
        normalize(&mut v);
        rows.extend_from_slice(&v);
    }
    rows
}

pub fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("p{i:05}")).collect()
}

/// Fraction of `truth`'s keys found in `got`.
pub fn recall(got: &[papermap_index::Hit], truth: &[papermap_index::Hit]) -> f64 {
    let found = truth
        .iter()
        .filter(|t| got.iter().any(|g| g.key == t.key))
        .count();
    found as f64 / truth.len().max(1) as f64
}
