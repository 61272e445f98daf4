//! The survey's sample: a stratified two-stage design. Strata are region ×
//! urban/rural; areas are drawn with probability proportional to their
//! number of households (systematic PPS over a random order), then a fixed
//! number of households by systematic sampling within each area. Each
//! household's selection probability is the product of the two stages, so
//! the design is self-weighting within a stratum. Unit nonresponse depends
//! only on region and urban/rural (missing at random given the weighting
//! classes), so a class adjustment removes its bias.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::simulate::country::Country;

/// The sample sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSize {
    pub areas_per_stratum: usize,
    pub households_per_area: usize,
}

/// One sampled household.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub household: usize,
    pub area: usize,
    /// Stratum label (region-urban).
    pub stratum: String,
    /// Selection probabilities of the area and of the household within it.
    pub p_area: f64,
    pub p_household: f64,
    pub responded: bool,
}

/// Checks that every stratum can give `size.areas_per_stratum` areas by
/// PPS without certainty selections (every n M_i / M_h below 1).
pub fn check(country: &Country, size: SampleSize) -> Result<(), String> {
    let mut strata: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for a in &country.areas {
        let e = strata.entry(a.stratum()).or_default();
        e.0 += a.households;
        e.1 = e.1.max(a.households);
    }
    for (label, (total, largest)) in strata {
        if size.areas_per_stratum * largest >= total {
            return Err(format!(
                "stratum {label} is too small for {} areas by PPS: use fewer areas per stratum or a larger country",
                size.areas_per_stratum
            ));
        }
    }
    Ok(())
}

/// Draws a sample; the same `seed` on the same country gives the same
/// sample. [`check`] first: a stratum too small for its areas gives
/// certainty selections, which this design does not handle.
pub fn draw(country: &Country, size: SampleSize, seed: u64) -> Vec<Sampled> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut strata: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, a) in country.areas.iter().enumerate() {
        let label = a.stratum();
        match strata.iter_mut().find(|(l, _)| *l == label) {
            Some((_, v)) => v.push(i),
            None => strata.push((label, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (label, mut areas) in strata {
        // A random order, then systematic PPS: each area's chance is
        // n M_i / M_h (below 1 for the sizes the country makes).
        for i in (1..areas.len()).rev() {
            let j = rng.random_range(0..=i);
            areas.swap(i, j);
        }
        let total: usize = areas.iter().map(|&a| country.areas[a].households).sum();
        let n = size.areas_per_stratum.min(areas.len());
        let step = total as f64 / n as f64;
        let start = rng.random::<f64>() * step;
        let mut cumulative = 0.0;
        let mut k = 0;
        for &a in &areas {
            let m = country.areas[a].households as f64;
            let upper = cumulative + m;
            while k < n && start + k as f64 * step < upper {
                // An area larger than the step could be hit twice; `check`
                // refuses strata where one is (n M_i >= M_h).
                k += 1;
                let p_area = (n as f64 * m / total as f64).min(1.0);
                sample_households(country, a, &label, p_area, size, &mut rng, &mut out);
            }
            cumulative = upper;
        }
    }
    out
}

fn sample_households(
    country: &Country,
    area: usize,
    label: &str,
    p_area: f64,
    size: SampleSize,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Sampled>,
) {
    let a = &country.areas[area];
    let m = size.households_per_area.min(a.households);
    let step = a.households as f64 / m as f64;
    let start = rng.random::<f64>() * step;
    // Response: lower in cities and in some regions.
    let region_effect = [0.3, 0.0, 0.2, -0.2, 0.1, 0.0, 0.4, -0.1, 0.2, 0.5];
    let logit: f64 =
        1.9 - if a.urban { 0.8 } else { 0.0 } + region_effect[usize::from(a.region) - 1];
    let p_respond = 1.0 / (1.0 + (-logit).exp());
    for j in 0..m {
        let h = a.first_household + (start + j as f64 * step) as usize;
        out.push(Sampled {
            household: h,
            area,
            stratum: label.to_string(),
            p_area,
            p_household: m as f64 / a.households as f64,
            responded: rng.random::<f64>() < p_respond,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::country::CountrySize;

    #[test]
    fn the_sample_has_its_sizes_and_probabilities() {
        let c = Country::generate(CountrySize { areas: 300 }, 3);
        let size = SampleSize {
            areas_per_stratum: 2,
            households_per_area: 8,
        };
        let s = draw(&c, size, 11);
        assert!(check(&c, size).is_ok());
        assert!(
            check(
                &c,
                SampleSize {
                    areas_per_stratum: 40,
                    households_per_area: 8
                }
            )
            .is_err()
        );
        assert_eq!(s.len(), 20 * 2 * 8);
        assert_eq!(s, draw(&c, size, 11));
        let mut seen = std::collections::HashSet::new();
        for x in &s {
            assert!(seen.insert(x.household), "a household drawn twice");
            assert_eq!(c.households[x.household].area, x.area);
            assert!(x.p_area > 0.0 && x.p_area < 1.0);
            let a = &c.areas[x.area];
            assert!((x.p_household - 8.0 / a.households as f64).abs() < 1e-15);
        }
        // The design weights of a stratum add up to about its households:
        // the expectation is exact, so allow sampling error.
        let stratum = &s[0].stratum;
        let weighted: f64 = s
            .iter()
            .filter(|x| &x.stratum == stratum)
            .map(|x| 1.0 / (x.p_area * x.p_household))
            .sum();
        let truth: usize = c
            .areas
            .iter()
            .filter(|a| &a.stratum() == stratum)
            .map(|a| a.households)
            .sum();
        let ratio = weighted / truth as f64;
        assert!((0.5..2.0).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn areas_are_drawn_with_their_stated_probability() {
        // Over many samples each area's inclusion frequency matches its
        // p_area = n M_i / M_h, the property that makes the weights unbiased.
        let c = Country::generate(CountrySize { areas: 200 }, 3);
        let size = SampleSize {
            areas_per_stratum: 3,
            households_per_area: 1,
        };
        let draws = 1500;
        let mut hits = vec![0usize; c.areas.len()];
        let mut p = vec![0.0; c.areas.len()];
        for seed in 0..draws {
            for x in draw(&c, size, seed) {
                hits[x.area] += 1;
                p[x.area] = x.p_area;
            }
        }
        let stratum = c.areas[0].stratum();
        let total: usize = c
            .areas
            .iter()
            .filter(|a| a.stratum() == stratum)
            .map(|a| a.households)
            .sum();
        for (i, a) in c.areas.iter().enumerate() {
            if a.stratum() != stratum {
                continue;
            }
            let expected = 3.0 * a.households as f64 / total as f64;
            let freq = hits[i] as f64 / draws as f64;
            let sd = (expected * (1.0 - expected) / draws as f64).sqrt();
            assert!(
                (freq - expected).abs() < 4.5 * sd,
                "area {i}: drawn {freq}, probability {expected}"
            );
            if hits[i] > 0 {
                assert!((p[i] - expected).abs() < 1e-12);
            }
        }
    }
}
