//! "Did you mean ...?": the edit distance and the closest-word rule that every
//! "unknown name" message of vicor uses, in one place.
//!
//! Instruments (unknown keys, item types, outcome codes), expressions
//! (unknown items and functions) and the hand-written analysis files
//! (design files, estimate specs, weighting plans) all suggest a spelling
//! through these two functions, so a typo is caught the same way
//! everywhere.

/// Levenshtein distance over chars: the fewest insertions, deletions and
/// substitutions that turn `a` into `b` (a transposition counts as two).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest accepted word, when it is close enough to be a typo. Keys
/// and types are short words, so up to two edits are allowed (a quarter of
/// a long word), and never as many edits as the candidate has letters;
/// ties go to the first candidate.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("age", "age"), 0);
        assert_eq!(edit_distance("agee", "age"), 1);
        assert_eq!(edit_distance("sex", "sez"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        // A transposition is a deletion and an insertion.
        assert_eq!(edit_distance("stratra", "strata"), 1);
        assert_eq!(edit_distance("fcp", "fpc"), 2);
        // Counted in characters, not bytes.
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("optons", &["options", "range"]), Some("options"));
        assert_eq!(suggest("colour", &["options", "range"]), None);
        assert_eq!(
            suggest("strat", &["weight", "strata", "clusters"]),
            Some("strata")
        );
        assert_eq!(suggest("fcp", &["fpc", "nest"]), Some("fpc"));
        // Two edits would turn `ci` into anything of two letters.
        assert_eq!(suggest("by", &["ci"]), None);
        // The nearer of two candidates wins.
        assert_eq!(
            suggest("clusterz", &["clusters", "columns"]),
            Some("clusters")
        );
    }
}
