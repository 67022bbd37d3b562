//! Column buffers: the rows of a table not yet written, one vector per leaf column, and
//! how a buffered column is handed to the Parquet column writer.

use crate::schema::Kind;
use bytes::Bytes;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;

/// The values of one column (absent values are not stored: see the definition levels).
#[derive(Debug)]
enum Values {
    I64(Vec<i64>),
    Bool(Vec<bool>),
    /// UTF-8 strings, concatenated, with the end offset of each.
    Str {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

/// One buffered column.
#[derive(Debug)]
pub(crate) struct ColumnBuf {
    /// The column's type (an unsigned column takes only [`Value::U64`]).
    kind: Kind,
    values: Values,
    /// Definition levels (1 present, 0 absent) of a column that can be absent.
    defs: Option<Vec<i16>>,
}

/// A value for a column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// Absent (`null`).
    Null,
    /// An integer (also timestamps).
    I64(i64),
    /// An unsigned integer, for an unsigned column (stored as its two's complement bits,
    /// as Parquet's `UINT_64` is).
    U64(u64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(&'a str),
}

impl ColumnBuf {
    /// An empty buffer for a column of `kind`, nullable or not.
    pub(crate) fn new(kind: Kind, nullable: bool) -> Self {
        let values = match kind {
            Kind::I64 | Kind::U64 | Kind::Ts => Values::I64(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Str => Values::Str { data: Vec::new(), ends: Vec::new() },
        };
        ColumnBuf { kind, values, defs: nullable.then(Vec::new) }
    }

    /// Appends a value; false (and nothing appended) when its type is not the column's,
    /// or it is absent and the column cannot be.
    pub(crate) fn push(&mut self, v: Value<'_>) -> bool {
        match (&mut self.values, v, &mut self.defs) {
            (_, Value::Null, Some(defs)) => {
                defs.push(0);
                return true;
            }
            (_, Value::Null, None) => return false,
            (Values::I64(vals), Value::I64(x), _) if self.kind != Kind::U64 => vals.push(x),
            (Values::I64(vals), Value::U64(x), _) if self.kind == Kind::U64 => vals.push(x.cast_signed()),
            (Values::Bool(vals), Value::Bool(x), _) => vals.push(x),
            (Values::Str { data, ends }, Value::Str(s), _) => {
                data.extend_from_slice(s.as_bytes());
                ends.push(data.len());
            }
            _ => return false,
        }
        if let Some(defs) = &mut self.defs {
            defs.push(1);
        }
        true
    }

    /// Bytes the buffered values take (lengths, not capacities).
    pub(crate) fn bytes(&self) -> usize {
        let values = match &self.values {
            Values::I64(v) => v.len() * size_of::<i64>(),
            Values::Bool(v) => v.len(),
            Values::Str { data, ends } => data.len() + ends.len() * size_of::<usize>(),
        };
        values + self.defs.as_ref().map_or(0, |d| d.len() * size_of::<i16>())
    }

    /// Keeps only the first `rows` rows (undoes a partly appended row).
    pub(crate) fn truncate(&mut self, rows: usize) {
        let keep_values = match &mut self.defs {
            Some(d) => {
                d.truncate(rows);
                d.iter().filter(|&&l| l > 0).count()
            }
            None => rows,
        };
        match &mut self.values {
            Values::I64(v) => v.truncate(keep_values),
            Values::Bool(v) => v.truncate(keep_values),
            Values::Str { data, ends } => {
                ends.truncate(keep_values);
                data.truncate(ends.last().copied().unwrap_or(0));
            }
        }
    }

    /// Hands the buffered values to `w` (the writer of this column) and empties the buffer.
    /// String storage is given away (not kept for reuse), so a burst of long strings does
    /// not stay allocated.
    pub(crate) fn write_to(&mut self, w: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
        let defs = self.defs.as_deref();
        match (&mut self.values, w) {
            (Values::I64(v), ColumnWriter::Int64ColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            (Values::Bool(v), ColumnWriter::BoolColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            (Values::Str { data, ends }, ColumnWriter::ByteArrayColumnWriter(w)) => {
                let all = Bytes::from(std::mem::take(data));
                let mut start = 0;
                let mut arrays = Vec::with_capacity(ends.len());
                for &end in ends.iter() {
                    // Ends are increasing and within `data` by construction; clamped anyway.
                    let end = end.min(all.len());
                    arrays.push(ByteArray::from(all.slice(start.min(end)..end)));
                    start = end;
                }
                w.write_batch(&arrays, defs, None)?;
                ends.clear();
            }
            _ => return Err(ParquetError::General("column buffer type differs from the schema".into())),
        }
        if let Some(d) = &mut self.defs {
            d.clear();
        }
        Ok(())
    }
}
