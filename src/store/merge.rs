//! Merging several enumerators' stores into one (`vicor merge`).
//!
//! A case is identified by its UUID. A case found in several stores is taken
//! once when every copy is identical: the same row in `cases` (status,
//! outcome, resume position, times, instrument) and the same answers, events,
//! notes and set-aside answers, value for value. Copies that differ in
//! anything are a [`Conflict`]: reported with the stores and what differs,
//! and never settled by picking one. A conflicting case keeps the copy the
//! output already held (when `out` existed), otherwise it is left out; so a
//! merge never changes a case the output holds.
//!
//! The output is written to a temporary file beside `out` and renamed over it
//! only once complete and synced: an error at any point leaves `out` as it
//! was and no temporary file behind. An `out` that already exists is read as
//! the first input, so merging the same inputs again, or adding one more
//! store later, keeps everything that was merged before; re-merging the same
//! inputs gives the same cases.
//!
//! Inputs are opened read-only and never changed (an older schema is read as
//! it is). Every store is opened with the one key given. Everything is read
//! into memory first: fine for the stores of a survey (tens of thousands of
//! cases), not meant for more.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{CaseId, Store, StoreError, remove_with_companions};

/// A case whose copies differ between stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub case: CaseId,
    /// Every store holding a copy, in the order they were read.
    pub stores: Vec<PathBuf>,
    /// What differs, one line per difference, without answer values (the
    /// report is printed; answers are the respondents').
    pub differences: Vec<String>,
    /// True when the output already held the case and keeps its copy; false
    /// when the case is left out of the output.
    pub kept_existing: bool,
}

/// What a merge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    pub out: PathBuf,
    /// Every store read, with its number of cases; an existing output comes
    /// first.
    pub inputs: Vec<(PathBuf, usize)>,
    /// True when `out` existed and was read as an input.
    pub out_existed: bool,
    /// Paths given more than once (or the output given as an input): read once.
    pub repeated: Vec<PathBuf>,
    /// Cases in the output.
    pub cases: usize,
    /// Cases found in more than one store, all copies identical: taken once.
    pub identical: usize,
    pub conflicts: Vec<Conflict>,
}

impl fmt::Display for MergeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, n) in &self.inputs {
            writeln!(f, "read {n} cases from {}", path.display())?;
        }
        for path in &self.repeated {
            writeln!(f, "{} was given more than once: read once", path.display())?;
        }
        writeln!(
            f,
            "wrote {} cases to {} ({} found in several stores, identical, taken once; {} conflicts)",
            self.cases,
            self.out.display(),
            self.identical,
            self.conflicts.len()
        )?;
        for c in &self.conflicts {
            let stores: Vec<String> = c.stores.iter().map(|p| p.display().to_string()).collect();
            let fate = if c.kept_existing {
                "the output keeps its copy"
            } else {
                "left out of the output"
            };
            writeln!(
                f,
                "conflict: case {} differs between {} ({fate})",
                c.case,
                stores.join(", ")
            )?;
            for d in &c.differences {
                writeln!(f, "  {d}")?;
            }
        }
        Ok(())
    }
}

/// The tables that hold a case, in insertion order (cases first, for the
/// foreign keys), with the column naming the case and the row order.
const TABLES: [(&str, &str, &str); 5] = [
    ("cases", "uuid", "uuid"),
    ("answers", "case_uuid", "path"),
    ("events", "case_uuid", "seq"),
    ("notes", "case_uuid", "seq"),
    ("orphan_answers", "case_uuid", "path, from_hash"),
];

/// The rows of one table for one case, as stored.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

/// Every row of one case, table by table (in the order of [`TABLES`]).
pub(super) type CaseDump = Vec<Rows>;

/// Merges `inputs` (and `out`, when it exists) into `out`. See the module
/// docs for the rules.
pub fn merge(out: &Path, inputs: &[&Path], key: Option<&str>) -> Result<MergeReport, StoreError> {
    merge_with(out, inputs, key, None)
}

/// [`merge`], with a replayer for the packs of the merged store (see
/// [`Replayer`](super::Replayer)).
pub fn merge_with(
    out: &Path,
    inputs: &[&Path],
    key: Option<&str>,
    replayer: Option<Arc<dyn super::Replayer>>,
) -> Result<MergeReport, StoreError> {
    let mut report = MergeReport {
        out: out.to_path_buf(),
        inputs: Vec::new(),
        out_existed: false,
        repeated: Vec::new(),
        cases: 0,
        identical: 0,
        conflicts: Vec::new(),
    };
    let canon = |p: &Path| {
        fs::canonicalize(p).map_err(|source| StoreError::Io {
            action: "open the store",
            path: p.to_path_buf(),
            source,
        })
    };
    let out_canon = if out.exists() {
        Some(canon(out)?)
    } else {
        None
    };
    let mut seen: Vec<PathBuf> = out_canon.iter().cloned().collect();
    let mut sources: Vec<(PathBuf, Store)> = Vec::new();
    for &input in inputs {
        let c = canon(input)?;
        if seen.contains(&c) {
            report.repeated.push(input.to_path_buf());
            continue;
        }
        seen.push(c);
        sources.push((input.to_path_buf(), Store::open_read_only(input, key)?));
    }
    if out_canon.is_some() {
        // Opened last, once every input is known to be good, and for
        // writing: it takes the lock, so a program writing to it is reported
        // now, and closing it folds its WAL into the file.
        sources.insert(0, (out.to_path_buf(), Store::open(out, key)?));
        report.out_existed = true;
    }

    // uuid → copies, in source order.
    let mut copies: BTreeMap<String, Vec<(usize, CaseDump)>> = BTreeMap::new();
    for (i, (path, store)) in sources.iter().enumerate() {
        let dumps = dump_store(store)?;
        report.inputs.push((path.clone(), dumps.len()));
        for (uuid, dump) in dumps {
            copies.entry(uuid).or_default().push((i, dump));
        }
    }
    drop(sources);

    let mut chosen: Vec<&CaseDump> = Vec::new();
    for (uuid, list) in &copies {
        let first = &list[0].1;
        let differing: Vec<&(usize, CaseDump)> = list
            .iter()
            .skip(1)
            .filter(|(_, d)| !same(d, first))
            .collect();
        if list.len() > 1 && differing.is_empty() {
            report.identical += 1;
        }
        if differing.is_empty() {
            chosen.push(first);
            continue;
        }
        let name = |i: usize| report.inputs[i].0.display().to_string();
        let differences = differing
            .iter()
            .flat_map(|(i, d)| {
                describe(first, d)
                    .into_iter()
                    .map(move |line| (*i, line))
                    .collect::<Vec<_>>()
            })
            .map(|(i, line)| format!("{} vs {}: {line}", name(list[0].0), name(i)))
            .collect();
        let kept_existing = report.out_existed && list[0].0 == 0;
        if kept_existing {
            chosen.push(first);
        }
        report.conflicts.push(Conflict {
            case: uuid.parse()?,
            stores: list
                .iter()
                .map(|(i, _)| report.inputs[*i].0.clone())
                .collect(),
            differences,
            kept_existing,
        });
    }
    report.cases = chosen.len();
    write_output(out, key, &chosen, replayer)?;
    Ok(report)
}

/// Reads every case of a store, grouped by uuid.
pub(super) fn dump_store(store: &Store) -> Result<BTreeMap<String, CaseDump>, StoreError> {
    let sql = |e| StoreError::sqlite(&store.path, e);
    let mut cases: BTreeMap<String, CaseDump> = BTreeMap::new();
    for (t, (table, case_col, order)) in TABLES.iter().enumerate() {
        if *table == "orphan_answers" && store.version < 2 {
            for dump in cases.values_mut() {
                dump.push(Rows {
                    columns: Vec::new(),
                    rows: Vec::new(),
                });
            }
            continue;
        }
        let mut stmt = store
            .conn
            .prepare(&format!(
                "SELECT * FROM {table} ORDER BY {case_col}, {order}"
            ))
            .map_err(sql)?;
        let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let case_index = columns
            .iter()
            .position(|c| c == case_col)
            .expect("every table of TABLES has its case column");
        let n = columns.len();
        let mut rows = stmt.query([]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let values = (0..n)
                .map(|j| row.get::<_, Value>(j))
                .collect::<Result<Vec<Value>, _>>()
                .map_err(sql)?;
            let uuid = match &values[case_index] {
                Value::Text(uuid) => uuid.clone(),
                _ => {
                    return Err(StoreError::Corrupt {
                        path: store.path.clone(),
                        detail: format!("a row of {table} has no case id"),
                    });
                }
            };
            let dump = match cases.get_mut(&uuid) {
                Some(dump) => dump,
                None if t == 0 => cases.entry(uuid.clone()).or_default(),
                None => {
                    return Err(StoreError::Corrupt {
                        path: store.path.clone(),
                        detail: format!("{table} holds rows of a case {uuid} that does not exist"),
                    });
                }
            };
            while dump.len() <= t {
                dump.push(Rows {
                    columns: columns.clone(),
                    rows: Vec::new(),
                });
            }
            dump[t].rows.push(values);
        }
        // Cases without rows in this table still get an (empty) entry, so
        // that dumps compare table by table.
        for dump in cases.values_mut() {
            while dump.len() <= t {
                dump.push(Rows {
                    columns: columns.clone(),
                    rows: Vec::new(),
                });
            }
        }
    }
    Ok(cases)
}

/// True when two copies hold the same rows. Column lists are not compared:
/// a table an older store lacks reads as no rows.
fn same(a: &CaseDump, b: &CaseDump) -> bool {
    a.iter().zip(b).all(|(x, y)| x.rows == y.rows)
}

/// What differs between two copies of a case, without answer values.
fn describe(a: &CaseDump, b: &CaseDump) -> Vec<String> {
    let mut out = Vec::new();
    for (t, (table, _, _)) in TABLES.iter().enumerate() {
        let (ra, rb) = (&a[t], &b[t]);
        if ra.rows == rb.rows {
            continue;
        }
        match *table {
            "cases" => {
                let (Some(x), Some(y)) = (ra.rows.first(), rb.rows.first()) else {
                    continue;
                };
                let cols: Vec<&str> = ra
                    .columns
                    .iter()
                    .zip(x.iter().zip(y))
                    .filter(|(_, (u, v))| u != v)
                    .map(|(c, _)| c.as_str())
                    .collect();
                out.push(format!("case record differs in {}", cols.join(", ")));
            }
            "answers" | "orphan_answers" => {
                // Rows are keyed by path (the second column).
                let keyed = |rows: &Rows| -> BTreeMap<String, Vec<Value>> {
                    rows.rows.iter().map(|r| (text(&r[1]), r.clone())).collect()
                };
                let (ka, kb) = (keyed(ra), keyed(rb));
                let mut paths: Vec<&String> = ka
                    .keys()
                    .chain(kb.keys())
                    .filter(|p| ka.get(*p) != kb.get(*p))
                    .collect();
                paths.sort();
                paths.dedup();
                out.push(format!("{table} differ at {}", paths_list(&paths)));
            }
            _ => {
                let first = ra
                    .rows
                    .iter()
                    .zip(&rb.rows)
                    .position(|(x, y)| x != y)
                    .unwrap_or(ra.rows.len().min(rb.rows.len()));
                out.push(format!(
                    "{table}: {} vs {} rows, first difference at number {}",
                    ra.rows.len(),
                    rb.rows.len(),
                    first + 1
                ));
            }
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        other => format!("{other:?}"),
    }
}

fn paths_list(paths: &[&String]) -> String {
    const SHOWN: usize = 10;
    let mut list: Vec<&str> = paths.iter().take(SHOWN).map(|p| p.as_str()).collect();
    let more = paths.len().saturating_sub(SHOWN);
    let extra = format!("and {more} more");
    if more > 0 {
        list.push(&extra);
    }
    list.join(", ")
}

/// Removes the temporary output unless the merge finished.
struct TempOutput {
    path: PathBuf,
    done: bool,
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.done {
            remove_with_companions(&self.path);
        }
    }
}

/// Writes the chosen cases into a fresh store beside `out`, then renames it
/// over `out`.
fn write_output(
    out: &Path,
    key: Option<&str>,
    cases: &[&CaseDump],
    replayer: Option<Arc<dyn super::Replayer>>,
) -> Result<(), StoreError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(StoreError::Io {
            action: "write the merged store",
            path: out.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "its folder does not exist"),
        });
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".to_string());
    let mut temp = TempOutput {
        path: dir.join(format!(".{name}.merging-{}", CaseId::random())),
        done: false,
    };
    let options = super::StoreOptions {
        replayer: replayer.clone(),
        ..super::StoreOptions::default()
    };
    let mut store = Store::open_with(&temp.path, key, &options)?;
    let sql = |e| StoreError::sqlite(&temp.path, e);
    {
        let tx = store.conn.transaction().map_err(sql)?;
        for dump in cases {
            for (t, (table, _, _)) in TABLES.iter().enumerate() {
                let rows = &dump[t];
                if rows.rows.is_empty() {
                    continue;
                }
                insert_rows(&tx, table, rows).map_err(sql)?;
            }
        }
        // Packs are derived from the events, so they are made here, not
        // copied or compared.
        super::pack::seal_all(&tx, &temp.path, replayer.as_deref())?;
        tx.commit().map_err(sql)?;
    }
    // One self-contained file: fold the WAL in before the rename.
    store
        .conn
        .pragma_update(None, "journal_mode", "delete")
        .map_err(sql)?;
    drop(store);
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    fs::File::open(&temp.path)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", &temp.path))?;
    let mut wal = out.as_os_str().to_os_string();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return Err(StoreError::Locked {
            path: out.to_path_buf(),
        });
    }
    fs::rename(&temp.path, out).map_err(io("replace", out))?;
    temp.done = true;
    // The rename itself must reach the disk.
    fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync the folder of", out))?;
    Ok(())
}

fn insert_rows(conn: &Connection, table: &str, rows: &Rows) -> rusqlite::Result<()> {
    let marks = vec!["?"; rows.columns.len()].join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({marks})",
        rows.columns.join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for row in &rows.rows {
        stmt.execute(params_from_iter(row.iter()))?;
    }
    Ok(())
}
