//! Parquet files, through the `parquet` crate's column writer (no Arrow:
//! `default-features = false`, so also no compression codec: the files are
//! uncompressed).
//!
//! One optional column per CSV column, under the CSV's name: text as UTF-8
//! strings, whole-number columns as `INT64`, decimals as `DOUBLE`, dates
//! as `DATE` (days since 1970-01-01). An empty cell is null; a DK or RF
//! code is kept as the number it is in the CSV (a date answered DK or RF
//! is null, as in R and SPSS). Labels are in the file's key-value
//! metadata: `vicor.columns` is a JSON array with, per column, its name,
//! type, variable label, value labels and DK/RF codes (`dont_know`,
//! `refused`), and `vicor.file` the level's title.

use std::path::Path;
use std::sync::Arc;

use ::parquet::basic::{LogicalType, Repetition, Type as Physical};
use ::parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::Type;
use serde_json::json;

use super::ExportError;
use super::columns::{Cell, Column, Kind, Table};

/// Rows per row group.
const ROW_GROUP: usize = 65_536;

/// One column's values of the row group at hand.
enum Values {
    Text(Vec<ByteArray>),
    Int(Vec<i64>),
    Double(Vec<f64>),
    Date(Vec<i32>),
}

struct Buffer {
    values: Values,
    /// 1 where a value is, 0 for a null.
    defs: Vec<i16>,
}

fn type_name(c: &Column) -> &'static str {
    match c.kind {
        Kind::Text => "text",
        Kind::Date => "date",
        Kind::Number { integer: true } => "integer",
        Kind::Number { integer: false } => "decimal",
    }
}

/// The key-value metadata describing the columns.
fn metadata(table: &Table, label: &str) -> Vec<KeyValue> {
    let columns: Vec<serde_json::Value> = table
        .columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": type_name(c),
                "label": c.label,
                "labels": c.labels.iter().map(|(code, text)| json!({"code": code, "label": text})).collect::<Vec<_>>(),
                "dont_know": c.dont_know,
                "refused": c.refused,
            })
        })
        .collect();
    vec![
        KeyValue::new("vicor.file".to_string(), label.to_string()),
        KeyValue::new(
            "vicor.columns".to_string(),
            serde_json::Value::Array(columns).to_string(),
        ),
    ]
}

fn schema(table: &Table) -> Result<Type, ::parquet::errors::ParquetError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    for c in &table.columns {
        let (physical, logical) = match c.kind {
            Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Kind::Date => (Physical::INT32, Some(LogicalType::Date)),
            Kind::Number { integer: true } => (Physical::INT64, None),
            Kind::Number { integer: false } => (Physical::DOUBLE, None),
        };
        let field = Type::primitive_type_builder(&c.name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()?;
        fields.push(Arc::new(field));
    }
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
}

/// Writes `table` as a Parquet file at `path`, with its labels as metadata.
pub fn write(table: &Table, label: &str, path: &Path) -> Result<(), ExportError> {
    let fail = |e: ::parquet::errors::ParquetError| ExportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let file = std::fs::File::create(path).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(metadata(table, label)))
        .set_created_by(format!("vicor {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = SerializedFileWriter::new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        Arc::new(schema(table).map_err(fail)?),
        Arc::new(properties),
    )
    .map_err(fail)?;
    let mut buffers: Vec<Buffer> = table
        .columns
        .iter()
        .map(|c| Buffer {
            values: match c.kind {
                Kind::Text => Values::Text(Vec::new()),
                Kind::Date => Values::Date(Vec::new()),
                Kind::Number { integer: true } => Values::Int(Vec::new()),
                Kind::Number { integer: false } => Values::Double(Vec::new()),
            },
            defs: Vec::new(),
        })
        .collect();
    let mut rows = 0;
    let mut failed = None;
    table.each_row(|line, cells| {
        for (i, (cell, b)) in cells.iter().zip(&mut buffers).enumerate() {
            let present = push(b, cell).map_err(|why| ExportError::Convert {
                path: table.path.clone(),
                line,
                column: table.columns[i].name.clone(),
                why,
            })?;
            b.defs.push(i16::from(present));
        }
        rows += 1;
        if rows == ROW_GROUP && failed.is_none() {
            rows = 0;
            if let Err(e) = flush(&mut writer, &mut buffers) {
                failed = Some(e);
            }
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(fail(e));
    }
    if rows > 0 || table.rows == 0 {
        flush(&mut writer, &mut buffers).map_err(fail)?;
    }
    let out = writer.into_inner().map_err(fail)?;
    let file = out.into_inner().map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds a cell to its column; whether it is a value (else a null).
fn push(b: &mut Buffer, cell: &Cell) -> Result<bool, String> {
    let number = match cell {
        Cell::Empty => return Ok(false),
        Cell::Number(x) => *x,
        Cell::DontKnow(code) | Cell::Refused(code) => *code as f64,
        Cell::Date(d) => {
            let Values::Date(v) = &mut b.values else {
                return Err("a date in a column that is not one".into());
            };
            let day = i32::try_from(*d).map_err(|_| format!("day {d} is out of range"))?;
            v.push(day);
            return Ok(true);
        }
        Cell::Text(t) => {
            let Values::Text(v) = &mut b.values else {
                return Err("text in a column that is not text".into());
            };
            if t.is_empty() {
                return Ok(false);
            }
            v.push(ByteArray::from(t.as_bytes().to_vec()));
            return Ok(true);
        }
    };
    match &mut b.values {
        Values::Int(v) => {
            if number.fract() != 0.0 || number.abs() > 9.0e15 {
                return Err(format!("{number} is not a whole number"));
            }
            v.push(number as i64);
        }
        Values::Double(v) => v.push(number),
        // A date answered DK or RF.
        Values::Date(_) => return Ok(false),
        Values::Text(_) => return Err("a number in a text column".into()),
    }
    Ok(true)
}

/// Writes the buffered rows as one row group and empties the buffers.
fn flush<W: std::io::Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    buffers: &mut [Buffer],
) -> Result<(), ::parquet::errors::ParquetError> {
    let mut group = writer.next_row_group()?;
    for b in buffers.iter_mut() {
        let Some(mut column) = group.next_column()? else {
            break;
        };
        let defs = Some(b.defs.as_slice());
        match &mut b.values {
            Values::Text(v) => {
                column.typed::<ByteArrayType>().write_batch(v, defs, None)?;
                v.clear();
            }
            Values::Int(v) => {
                column.typed::<Int64Type>().write_batch(v, defs, None)?;
                v.clear();
            }
            Values::Double(v) => {
                column.typed::<DoubleType>().write_batch(v, defs, None)?;
                v.clear();
            }
            Values::Date(v) => {
                column.typed::<Int32Type>().write_batch(v, defs, None)?;
                v.clear();
            }
        }
        b.defs.clear();
        column.close()?;
    }
    group.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::Field;

    fn column(name: &str, kind: Kind) -> Column {
        Column {
            name: name.into(),
            label: format!("label of {name}"),
            kind,
            labels: Vec::new(),
            dont_know: Some(98),
            refused: Some(99),
        }
    }

    /// The crate's own reader gives back every cell, nulls and the
    /// metadata (R and pyarrow read the files in `tests/formats.rs`).
    #[test]
    fn the_crates_reader_reads_back_every_cell_and_the_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("t.csv");
        std::fs::write(
            &csv,
            "id,n,x,d\na,1,0.5,2026-06-15\n,98,,99\n\"b,c\",,1e300,\n",
        )
        .expect("write");
        let mut n = column("n", Kind::Number { integer: true });
        n.labels = vec![(1, "one".into())];
        let columns = vec![
            column("id", Kind::Text),
            n,
            column("x", Kind::Number { integer: false }),
            column("d", Kind::Date),
        ];
        let table = Table::scan(&csv, columns).expect("scan");
        let path = dir.path().join("t.parquet");
        write(&table, "the file", &path).expect("write");
        let reader = SerializedFileReader::new(std::fs::File::open(&path).expect("open"))
            .expect("a Parquet file");
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 3);
        let kv = meta.key_value_metadata().expect("metadata");
        let columns = kv
            .iter()
            .find(|k| k.key == "vicor.columns")
            .and_then(|k| k.value.as_deref())
            .expect("vicor.columns");
        let columns: serde_json::Value = serde_json::from_str(columns).expect("JSON");
        assert_eq!(columns[1]["labels"][0]["label"], "one");
        assert_eq!(columns[1]["dont_know"], 98);
        assert_eq!(columns[3]["type"], "date");
        let rows: Vec<Vec<Field>> = reader
            .get_row_iter(None)
            .expect("rows")
            .map(|r| {
                r.expect("a row")
                    .get_column_iter()
                    .map(|(_, f)| f.clone())
                    .collect()
            })
            .collect();
        let day = crate::export::columns::days_of("2026-06-15").expect("a date") as i32;
        assert_eq!(
            rows,
            [
                vec![
                    Field::Str("a".into()),
                    Field::Long(1),
                    Field::Double(0.5),
                    Field::Date(day)
                ],
                vec![Field::Null, Field::Long(98), Field::Null, Field::Null],
                vec![
                    Field::Str("b,c".into()),
                    Field::Null,
                    Field::Double(1e300),
                    Field::Null
                ],
            ]
        );
    }
}
