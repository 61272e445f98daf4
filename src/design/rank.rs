//! Numerical rank of a replicate-weight matrix, for the degrees of freedom of
//! replicate designs (R's `degf.svyrep.design`: `qr(weights, tol = 1e-5)$rank - 1`).
//!
//! The matrix itself (rows × replicates) can be large; its Gram matrix
//! (replicates × replicates) is small, so the rank is found there by a
//! Cholesky factorisation in column order that skips a column whose residual
//! norm falls below `tol` times its own norm. That is the rule of LINPACK's
//! `dqrdc2` (R's `qr`), which moves such columns to the end.

/// R's tolerance for `degf` of replicate designs.
pub const RANK_TOL: f64 = 1e-5;

/// Rank of a k × k Gram matrix `g` (row-major, symmetric).
pub fn rank_from_gram(g: &[f64], k: usize, tol: f64) -> usize {
    debug_assert_eq!(g.len(), k * k);
    // rows[r] holds L_{r, kept[0..]} for every r: the factor restricted to
    // kept columns, so each update is a dot product of two slices.
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut rank = 0usize;
    for j in 0..k {
        let gjj = g[j * k + j];
        if gjj <= 0.0 {
            continue;
        }
        let lj = std::mem::take(&mut rows[j]);
        let resid = gjj - dot(&lj, &lj);
        if resid <= tol * tol * gjj {
            rows[j] = lj;
            continue;
        }
        let d = resid.sqrt();
        for r in (j + 1)..k {
            let s = g[r * k + j] - dot(&rows[r], &lj);
            rows[r].push(s / d);
        }
        rows[j] = lj;
        rank += 1;
    }
    rank
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gram(x: &[Vec<f64>]) -> (Vec<f64>, usize) {
        let k = x[0].len();
        let mut g = vec![0.0; k * k];
        for row in x {
            for a in 0..k {
                for b in 0..k {
                    g[a * k + b] += row[a] * row[b];
                }
            }
        }
        (g, k)
    }

    #[test]
    fn full_rank_and_dependent_columns() {
        let x = vec![
            vec![1.0, 0.0, 1.0],
            vec![0.0, 1.0, 1.0],
            vec![1.0, 1.0, 2.0],
            vec![2.0, 0.0, 2.0],
        ];
        let (g, k) = gram(&x);
        assert_eq!(rank_from_gram(&g, k, RANK_TOL), 2);
        let y = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![3.0, 1.0]];
        let (g, k) = gram(&y);
        assert_eq!(rank_from_gram(&g, k, RANK_TOL), 2);
    }

    #[test]
    fn jkn_replicates_lose_one_per_stratum() {
        // Two strata of 2 PSUs with JKn multipliers: the replicates of each
        // stratum sum to 2 × the all-ones vector, one dependency, so the
        // rank is R − H + 1 = 3 and df = R − H = 2 (R's degf).
        let rows = vec![
            vec![0.0, 2.0, 1.0, 1.0],
            vec![2.0, 0.0, 1.0, 1.0],
            vec![1.0, 1.0, 0.0, 2.0],
            vec![1.0, 1.0, 2.0, 0.0],
        ];
        let (g, k) = gram(&rows);
        assert_eq!(rank_from_gram(&g, k, RANK_TOL), 3);
    }
}
