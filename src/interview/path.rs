//! Where an answer lives: an item and the roster rows around it.
//!
//! A roster row is named by a stable key, not by its position on screen: the
//! row number for a count roster (1, 2, ...), the option code for a fixed or
//! list roster. So unticking a vehicle type and ticking it again finds the
//! same answers, and lowering a count keeps rows 1..n untouched.
//!
//! The text form is `official_types[2].contacts[1].bribe`: each enclosing
//! roster with its row key, then the item id. It is what the store keeps and
//! what answers files use.

use std::fmt;

/// One enclosing roster row: the roster id and the row key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub roster: String,
    pub key: i64,
}

/// The address of one answer (or one screen position).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemPath {
    pub rows: Vec<RowKey>,
    pub item: String,
}

impl ItemPath {
    pub fn top(item: &str) -> ItemPath {
        ItemPath {
            rows: Vec::new(),
            item: item.to_string(),
        }
    }

    pub fn new(rows: &[RowKey], item: &str) -> ItemPath {
        ItemPath {
            rows: rows.to_vec(),
            item: item.to_string(),
        }
    }

    /// Parses the text form; `None` when it is not one.
    pub fn parse(text: &str) -> Option<ItemPath> {
        let mut parts: Vec<&str> = text.split('.').collect();
        let item = parts.pop()?;
        if !is_identifier(item) {
            return None;
        }
        let mut rows = Vec::new();
        for part in parts {
            let open = part.find('[')?;
            let roster = &part[..open];
            let key = part[open + 1..].strip_suffix(']')?.parse().ok()?;
            if !is_identifier(roster) {
                return None;
            }
            rows.push(RowKey {
                roster: roster.to_string(),
                key,
            });
        }
        Some(ItemPath {
            rows,
            item: item.to_string(),
        })
    }

    /// The item of a path's text, with its row keys (outermost first) in
    /// `keys`: what [`ItemPath::parse`] reads, without building the path.
    pub fn split<'t>(text: &'t str, keys: &mut Vec<i64>) -> Option<&'t str> {
        keys.clear();
        let Some(dot) = text.rfind('.') else {
            return is_identifier(text).then_some(text);
        };
        let item = &text[dot + 1..];
        if !is_identifier(item) {
            return None;
        }
        for part in text[..dot].split('.') {
            let open = part.find('[')?;
            if !is_identifier(&part[..open]) {
                return None;
            }
            keys.push(part[open + 1..].strip_suffix(']')?.parse().ok()?);
        }
        Some(item)
    }

    /// Whether this path lies inside the row `rows` (its rows start with them).
    pub fn within(&self, rows: &[RowKey]) -> bool {
        self.rows.len() >= rows.len() && self.rows[..rows.len()] == *rows
    }
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl fmt::Display for ItemPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.rows {
            write!(f, "{}[{}].", row.roster, row.key)?;
        }
        f.write_str(&self.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `split` reads what `parse` reads, and nothing else.
        #[test]
        fn split_agrees_with_parse(text in "([a-z_]{0,3}(\\[-?[0-9]{0,2}\\])?\\.?){0,3}[a-z_.]{0,3}") {
            let mut keys = vec![7];
            let split = ItemPath::split(&text, &mut keys).map(str::to_string);
            let parsed = ItemPath::parse(&text);
            prop_assert_eq!(split.clone(), parsed.as_ref().map(|p| p.item.clone()));
            if let Some(p) = parsed {
                let want: Vec<i64> = p.rows.iter().map(|r| r.key).collect();
                prop_assert_eq!(keys, want);
            }
        }
    }

    #[test]
    fn text_form_round_trips() {
        let path = ItemPath {
            rows: vec![
                RowKey {
                    roster: "official_types".into(),
                    key: 2,
                },
                RowKey {
                    roster: "contacts".into(),
                    key: 1,
                },
            ],
            item: "bribe".into(),
        };
        assert_eq!(path.to_string(), "official_types[2].contacts[1].bribe");
        assert_eq!(ItemPath::parse(&path.to_string()), Some(path));
        assert_eq!(ItemPath::parse("age"), Some(ItemPath::top("age")));
        assert_eq!(
            ItemPath::parse("members[-1].age").map(|p| p.rows[0].key),
            Some(-1)
        );
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in [
            "",
            "Members[1].age",
            "members[x].age",
            "members[1.age",
            "members.age",
            "a b",
        ] {
            assert_eq!(ItemPath::parse(bad), None, "{bad}");
        }
    }
}
