//! Weighting kernels on a million respondents: raking on three margins
//! (sex × 6 age groups × 10 regions) as R's `rake` with its defaults and to
//! convergence, and calibrate-raking (Newton) on the same margins.
//! `bench/compare-r-weight.sh` puts the same job side by side with R.

use criterion::{Criterion, criterion_group, criterion_main};
use vicor::weighting::calibrate::{Bounds, CalFun, CalibrationOptions, calibrate};
use vicor::weighting::margins::{Margin, ModelMatrix};
use vicor::weighting::rake::{RakeControl, rake};

const ROWS: usize = 1_000_000;

/// splitmix64: a fixed, dependency-free stream of test data.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, k: u64) -> u32 {
        (self.next() % k) as u32
    }
}

fn survey() -> (Vec<Margin>, Vec<f64>) {
    let mut rng = Mix(42);
    let mut sex = Vec::with_capacity(ROWS);
    let mut age = Vec::with_capacity(ROWS);
    let mut region = Vec::with_capacity(ROWS);
    let mut d = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        sex.push(rng.below(2));
        // Uneven age and region shares so that raking has work to do.
        age.push(rng.below(6).min(rng.below(6)));
        region.push(rng.below(10).max(rng.below(10)));
        d.push(5.0 + (rng.next() % 10_000) as f64 / 1000.0);
    }
    let n = 12.0 * ROWS as f64;
    let even = |k: usize, name: &str| -> Vec<(String, f64)> {
        (0..k)
            .map(|c| (format!("{name}{c}"), n / k as f64))
            .collect()
    };
    let margins = vec![
        Margin::from_codes("sex", sex, &even(2, "s")).expect("valid"),
        Margin::from_codes("age", age, &even(6, "a")).expect("valid"),
        Margin::from_codes("region", region, &even(10, "r")).expect("valid"),
    ];
    (margins, d)
}

fn bench(c: &mut Criterion) {
    let (margins, d) = survey();
    let mut g = c.benchmark_group("weighting_1m");
    g.sample_size(20);
    g.bench_function("rake_r_defaults", |b| {
        b.iter(|| rake(&margins, &d, &RakeControl::default(), 1e-6).expect("converges"))
    });
    let tight = RakeControl {
        maxit: 100,
        epsilon: 1e-10,
    };
    g.bench_function("rake_converged", |b| {
        b.iter(|| rake(&margins, &d, &tight, 1e-6).expect("converges"))
    });
    let mm = ModelMatrix::from_margins(&margins, &[], 1e-6).expect("valid");
    let opts = CalibrationOptions {
        calfun: CalFun::Raking,
        bounds: Bounds::NONE,
        epsilon: 1e-7,
        ..Default::default()
    };
    g.sample_size(10);
    g.bench_function("calibrate_raking", |b| {
        b.iter(|| calibrate(&mm, &d, &opts).expect("converges"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
