//! Reading a CSV file held in memory on several cores.
//!
//! The bytes after the header are cut into one piece per core, each cut just
//! after a newline that ends a record, not one inside a quoted field. Each
//! piece is parsed into column builders exactly as the streaming reader does,
//! and the pieces are joined in order.
//!
//! The result is always that of [`Frame::read`] on the same bytes: where
//! joining could differ (a malformed record anywhere, whose message must name
//! the row as the streaming reader does; or a column that is text in one piece
//! and has numbers in a later one, whose original spelling the number parser
//! has dropped) the bytes are read again front to back.

use super::{Builder, Frame, FrameError, Layout, MISSING, ReadOptions, TextBuilder};

/// Files smaller than this are read front to back: threads would cost more
/// than they save.
pub(super) const MIN_BYTES: u64 = 4 << 20;

/// Reads `bytes` (a whole CSV file) in `pieces` pieces at once.
pub(super) fn read(
    bytes: &[u8],
    options: &ReadOptions,
    pieces: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Frame, FrameError> {
    match read_pieces(bytes, options, pieces, progress)? {
        Some(frame) => Ok(frame),
        None => Frame::read(bytes, options, progress),
    }
}

/// The parallel read; `None` where only a front-to-back read is exact.
fn read_pieces(
    bytes: &[u8],
    options: &ReadOptions,
    pieces: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Frame>, FrameError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let layout = Layout::from_header(&mut csv, options)?;
    let start = usize::try_from(csv.position().byte())
        .unwrap_or(bytes.len())
        .min(bytes.len());
    let body = &bytes[start..];
    let cuts = record_cuts(body, pieces.max(1));
    let total = bytes.len() as u64;
    let parsed: Vec<Option<Vec<Builder>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .skip(1)
            .map(|w| {
                let piece = &body[w[0]..w[1]];
                let layout = &layout;
                scope.spawn(move || parse_piece(piece, layout, options, &mut |_| {}))
            })
            .collect();
        // The first piece is parsed here, so that progress (not `Send`) can
        // be reported from it, scaled to the whole file.
        let n = (cuts.len() - 1) as u64;
        let first = parse_piece(&body[..cuts[1]], &layout, options, &mut |b| {
            progress((start as u64 + b * n).min(total))
        });
        let mut out = vec![first];
        out.extend(handles.into_iter().map(|h| h.join().ok().flatten()));
        out
    });
    let Some(parts) = parsed.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let mut by_column: Vec<Vec<Builder>> = (0..layout.wanted.len()).map(|_| Vec::new()).collect();
    for part in parts {
        for (column, b) in by_column.iter_mut().zip(part) {
            column.push(b);
        }
    }
    let mut joined = Vec::with_capacity(by_column.len());
    for parts in by_column {
        match join(parts) {
            Some(b) => joined.push(b),
            None => return Ok(None),
        }
    }
    progress(total);
    Ok(Some(layout.finish(joined)))
}

/// Offsets into `body` where pieces start, plus `body.len()`: `0` first, then
/// up to `pieces - 1` offsets just past a record-ending newline.
///
/// Quoting follows csv-core's rules: a `"` opens a quoted field only at the
/// start of a field, and inside one `""` is a literal quote; so a newline
/// ends a record unless it sits inside a quoted field.
fn record_cuts(body: &[u8], pieces: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let mut quotes = QuoteState::default();
    let mut pos = 0;
    for k in 1..pieces {
        let target = body.len() / pieces * k;
        if target <= pos {
            continue;
        }
        quotes.scan(body, pos, target);
        pos = target;
        // The next newline outside quotes.
        loop {
            let Some(nl) = memchr::memchr(b'\n', &body[pos..]).map(|o| pos + o) else {
                pos = body.len();
                break;
            };
            quotes.scan(body, pos, nl + 1);
            pos = nl + 1;
            if !quotes.quoted {
                break;
            }
        }
        if pos >= body.len() {
            break;
        }
        cuts.push(pos);
    }
    cuts.push(body.len());
    cuts
}

/// Whether the scan so far ends inside a quoted field.
#[derive(Default)]
struct QuoteState {
    quoted: bool,
    /// The previous byte was the `"` that closed a quoted field (a `"` right
    /// after it is an escaped quote, and the field is quoted again).
    just_closed: bool,
}

impl QuoteState {
    /// Moves the state over `body[from..to]`, looking only at quotes.
    fn scan(&mut self, body: &[u8], from: usize, to: usize) {
        let mut last = from; // first byte not yet looked at
        for o in memchr::memchr_iter(b'"', &body[from..to]) {
            let p = from + o;
            if self.just_closed && p > last {
                // Something came between the closing quote and this one.
                self.just_closed = false;
            }
            if self.quoted {
                self.quoted = false;
                self.just_closed = true;
            } else if self.just_closed {
                // `""` inside a quoted field.
                self.quoted = true;
                self.just_closed = false;
            } else {
                // Opens a field only at a field's start (a stray quote in the
                // middle of a field is a literal character).
                self.quoted = p == 0 || matches!(body[p - 1], b',' | b'\n' | b'\r');
            }
            last = p + 1;
        }
        if to > last {
            self.just_closed = false;
        }
    }
}

/// Parses one piece of records (no header); `None` when a record is
/// malformed or of the wrong width.
fn parse_piece(
    piece: &[u8],
    layout: &Layout,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64),
) -> Option<Vec<Builder>> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(piece);
    let mut builders = layout.builders(options);
    let mut record = csv::ByteRecord::new();
    let mut row: u64 = 0;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return None,
        }
        if record.len() != layout.width {
            return None;
        }
        row += 1;
        layout.push(&mut builders, &record);
        if row & 0xFFFF == 0 {
            progress(record.position().map_or(0, |p| p.byte()));
        }
    }
    Some(builders)
}

/// Joins one column's pieces as if they had been read in one go; `None`
/// when that cannot be done exactly.
fn join(parts: Vec<Builder>) -> Option<Builder> {
    let first_text = parts.iter().position(|b| matches!(b, Builder::Text(_)));
    let Some(f) = first_text else {
        if parts.iter().all(|b| matches!(b, Builder::Small(_))) {
            let mut out = Vec::with_capacity(parts.iter().map(Builder::len).sum());
            for b in parts {
                if let Builder::Small(v) = b {
                    out.extend_from_slice(&v);
                }
            }
            return Some(Builder::Small(out));
        }
        let mut out = Vec::with_capacity(parts.iter().map(Builder::len).sum());
        for b in parts {
            match b {
                Builder::Small(v) => out.extend(super::small_to_f64(&v)),
                Builder::Number(v) => out.extend_from_slice(&v),
                Builder::Text(_) => unreachable!("no text piece here"),
            }
        }
        return Some(Builder::Number(out));
    };
    // A later piece that read numbers has lost their spelling (`1.50`);
    // one that turned to text itself has respelled the numbers before.
    let exact_after = parts[f + 1..].iter().all(|b| match b {
        Builder::Text(t) => !t.from_numbers,
        other => other.all_missing(),
    });
    if !exact_after {
        return None;
    }
    let mut text = TextBuilder::default();
    for (k, b) in parts.into_iter().enumerate() {
        match b {
            // Numbers before the first text are respelled, as the streaming
            // reader does when a column turns to text.
            Builder::Small(v) if k < f => super::small_to_f64(&v)
                .iter()
                .for_each(|&x| text.push_number(x)),
            Builder::Number(v) if k < f => v.iter().for_each(|&x| text.push_number(x)),
            Builder::Text(t) => text.append(t),
            other => (0..other.len()).for_each(|_| text.codes.push(MISSING)),
        }
    }
    Some(Builder::Text(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Columns compared by value, NaN equal to NaN.
    fn same(a: &Frame, b: &Frame) -> bool {
        a.names() == b.names()
            && a.n_rows() == b.n_rows()
            && a.names().iter().all(|n| match (a.column(n), b.column(n)) {
                (Ok(super::super::Column::Number(x)), Ok(super::super::Column::Number(y))) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
                }
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            })
    }

    fn both(csv: &str, pieces: usize, options: &ReadOptions) -> (String, String) {
        let seq = Frame::read(csv.as_bytes(), options, &mut |_| {});
        let par = read(csv.as_bytes(), options, pieces, &mut |_| {});
        match (seq, par) {
            (Ok(s), Ok(p)) => {
                let ok = same(&s, &p);
                (
                    format!("{s:?}"),
                    if ok {
                        format!("{s:?}")
                    } else {
                        format!("{p:?}")
                    },
                )
            }
            (s, p) => (format!("{s:?}"), format!("{p:?}")),
        }
    }

    #[test]
    fn cuts_never_fall_inside_quotes() {
        let body = b"1,\"a\nb\"\n2,\"c\"\"\nd\"\n3,x\n4,y\n";
        for pieces in 1..8 {
            let cuts = record_cuts(body, pieces);
            for &c in &cuts[1..cuts.len() - 1] {
                // Every cut starts a record: 1, 2, 3 or 4 and a comma.
                assert!(
                    body[c].is_ascii_digit() && body[c + 1] == b',',
                    "cut at {c}"
                );
            }
        }
    }

    #[test]
    fn joined_pieces_equal_a_front_to_back_read() {
        let csv =
            "id,name,x,mixed\n1,a,1.5,7\n2,\"b,\nc\",,x\n3,a,-2,1.50\n4,\"d\"\"e\",3,\n5,b,4,2\n";
        for pieces in 1..6 {
            let (s, p) = both(csv, pieces, &ReadOptions::default());
            assert_eq!(s, p, "{pieces} pieces");
        }
    }

    #[test]
    fn quoted_text_and_numbers_are_joined_without_a_second_read() {
        // As R's write.csv writes: quoted header and text, bare numbers.
        let mut csv = String::from("\"id\",\"area\",\"w\"\n");
        for i in 0..500 {
            csv.push_str(&format!("{i},\"area {}\",{}.25\n", i % 7, i * 3));
        }
        let frame = read_pieces(csv.as_bytes(), &ReadOptions::default(), 4, &mut |_| {})
            .expect("valid csv")
            .expect("no fallback needed");
        let seq =
            Frame::read(csv.as_bytes(), &ReadOptions::default(), &mut |_| {}).expect("valid csv");
        assert!(same(&frame, &seq));
        assert_eq!(frame.n_rows(), 500);
    }

    #[test]
    fn a_later_number_in_a_text_column_needs_the_front_to_back_read() {
        let csv = "a\nx\ny\n1.50\n2\n";
        let body_start = 2;
        assert!(record_cuts(&csv.as_bytes()[body_start..], 2).len() > 2);
        let got = read_pieces(csv.as_bytes(), &ReadOptions::default(), 2, &mut |_| {})
            .expect("valid csv");
        assert!(got.is_none(), "`1.50` must keep its spelling");
        let frame =
            read(csv.as_bytes(), &ReadOptions::default(), 2, &mut |_| {}).expect("valid csv");
        match frame.column("a") {
            Ok(super::super::Column::Text(t)) => assert_eq!(t.get(2), Some("1.50")),
            other => panic!("text expected, got {other:?}"),
        }
    }

    #[test]
    fn a_ragged_row_gives_the_front_to_back_error() {
        let csv = "a,b\n1,2\n3,4\n5\n6,7\n";
        for pieces in 1..5 {
            let (s, p) = both(csv, pieces, &ReadOptions::default());
            assert!(s.contains("Csv"), "{s}");
            assert_eq!(s, p);
        }
    }

    /// Cells that exercise every path: small and wide numbers, empty cells,
    /// text, respelled numbers, quotes with commas, newlines and `""`, and
    /// stray quotes in unquoted fields.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            (-130i32..130).prop_map(|v| v.to_string()),
            Just(String::new()),
            Just("1.50".to_owned()),
            Just("2.5e3".to_owned()),
            "[a-c]{1,3}".prop_map(|s| s),
            Just("\"q,\nr\"".to_owned()),
            Just("\"s\"\"\n\"\"t\"".to_owned()),
            Just("5\"".to_owned()),
            Just("\"u\"".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn any_piece_count_reads_the_same(
            rows in prop::collection::vec(prop::collection::vec(cell(), 3), 0..40),
            pieces in 1usize..7,
            crlf in any::<bool>(),
            ragged in any::<bool>(),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut csv = format!("a,b,c{nl}");
            for (i, r) in rows.iter().enumerate() {
                let cells = if ragged && i == rows.len() / 2 { &r[..2] } else { &r[..] };
                csv.push_str(&cells.join(","));
                csv.push_str(nl);
            }
            let (s, p) = both(&csv, pieces, &ReadOptions::default());
            prop_assert_eq!(s, p);
        }
    }
}
