//! # wsprobe-columnar
//!
//! Writes [`wsprobe_dissect::Record`]s as Parquet, for `wsprobe dissect --format parquet
//! --out DIR`: one dataset per record type, Hive-partitioned by capture file.
//!
//! ```text
//! DIR/sessions/capture=<name>/part-0.parquet
//! DIR/messages/capture=<name>/part-0.parquet
//! DIR/frames/capture=<name>/part-0.parquet
//! DIR/violations/capture=<name>/part-0.parquet
//! DIR/events/capture=<name>/part-0.parquet
//! DIR/warnings/capture=<name>/part-0.parquet
//! ```
//!
//! Columns carry the names and meaning of the record's JSON (jsonl) fields; the crate
//! README lists them with their Parquet types and has example queries.
//!
//! ```no_run
//! use wsprobe_columnar::ParquetSink;
//! let opts = wsprobe_dissect::Options { frames: true, text: false, ..Default::default() };
//! let file = std::fs::File::open("big.pcap")?;
//! let mut sink = ParquetSink::create(std::path::Path::new("out"), "big.pcap")?;
//! let mut failed = None;
//! let dissected = wsprobe_dissect::dissect_reader(file, "big.pcap", &opts, &mut |r| {
//!     if failed.is_none() {
//!         failed = sink.push(&r).err();
//!     }
//! });
//! if let Some(e) = failed {
//!     return Err(e.into());
//! }
//! let rows = sink.finish()?; // also after a capture error: what was decoded is kept
//! println!("{} messages", rows.messages);
//! # let _ = dissected;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Memory is bounded: rows are buffered per table in column vectors and written as a
//! row group when a table holds [`SinkOptions::row_group_rows`] rows or when all tables
//! together hold more than [`SinkOptions::max_buffered_bytes`] (then the largest is
//! written first).
#![forbid(unsafe_code)]

mod buffer;
mod schema;

use buffer::{ColumnBuf, Value};
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use schema::Field;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wsprobe_dissect::Record;
use wsprobe_wire::Level;

/// Rows per row group, by default.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 64 * 1024;

/// Bytes buffered over all tables before the largest is written, by default.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// Name of the data file in each partition.
pub const PART_FILE: &str = "part-0.parquet";

/// What went wrong, with the file or directory concerned.
#[derive(Debug, thiserror::Error)]
pub enum ColumnarError {
    /// A file system operation failed.
    #[error("{path}: {what}: {source}", path = .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`create directory`, `create file`, `rename`...).
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("{path}: {what}: {source}", path = .path.display())]
    Parquet {
        /// The Parquet file (its final name).
        path: PathBuf,
        /// What was being done (`write row group`, `close`...).
        what: &'static str,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A record did not fit its table's schema (a bug in this crate; the record was not
    /// written, the sink stays usable).
    #[error("{path}: record does not fit the table schema (column {column})", path = .path.display())]
    Schema {
        /// The Parquet file.
        path: PathBuf,
        /// Index of the first column that did not fit.
        column: usize,
    },
    /// An earlier write of this file failed, so nothing more can be written to it.
    #[error("{path}: an earlier write failed; the file cannot be completed", path = .path.display())]
    Failed {
        /// The Parquet file.
        path: PathBuf,
    },
}

/// Tuning of a [`ParquetSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkOptions {
    /// A table's buffered rows are written as a row group when they reach this many
    /// (at least 1). Default [`DEFAULT_ROW_GROUP_ROWS`].
    pub row_group_rows: usize,
    /// Cap on [`ParquetSink::buffered_bytes`]: after a record is buffered and the total
    /// exceeds this, the largest tables are written until it does not. Default
    /// [`DEFAULT_MAX_BUFFERED_BYTES`].
    pub max_buffered_bytes: usize,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions { row_group_rows: DEFAULT_ROW_GROUP_ROWS, max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES }
    }
}

/// Rows written per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows of `sessions`.
    pub sessions: u64,
    /// Rows of `messages`.
    pub messages: u64,
    /// Rows of `frames`.
    pub frames: u64,
    /// Rows of `violations`.
    pub violations: u64,
    /// Rows of `events`.
    pub events: u64,
    /// Rows of `warnings`.
    pub warnings: u64,
}

impl RowCounts {
    /// Rows of all tables together.
    pub fn total(&self) -> u64 {
        self.sessions + self.messages + self.frames + self.violations + self.events + self.warnings
    }
}

/// The tables, in the order of [`TABLES`].
const SESSIONS: usize = 0;
const MESSAGES: usize = 1;
const FRAMES: usize = 2;
const VIOLATIONS: usize = 3;
const EVENTS: usize = 4;
const WARNINGS: usize = 5;

/// Directory name and schema of every table.
const TABLES: [(&str, &[Field]); 6] = [
    ("sessions", schema::SESSIONS),
    ("messages", schema::MESSAGES),
    ("frames", schema::FRAMES),
    ("violations", schema::VIOLATIONS),
    ("events", schema::EVENTS),
    ("warnings", schema::WARNINGS),
];

/// The dataset (directory) names, one per record type.
pub const TABLE_NAMES: [&str; 6] = ["sessions", "messages", "frames", "violations", "events", "warnings"];

/// The value of the `capture` partition for a capture name: its file name (the last
/// path component; `stdin` for `-`) with every character other than letters, digits,
/// `.`, `_` and `-` replaced by `_`, cut to 200 bytes; `_` if nothing is left or it is
/// `.` or `..`. Such a value needs no escaping in a path or a Hive partition.
pub fn partition_name(capture: &str) -> String {
    if capture == "-" {
        return "stdin".to_string();
    }
    let base = capture.rsplit(['/', '\\']).find(|s| !s.is_empty()).unwrap_or("");
    let mut out = String::new();
    for c in base.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' };
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() || out == "." || out == ".." {
        return "_".to_string();
    }
    out
}

/// One table's Parquet file and its buffered rows.
struct Table {
    cols: Vec<ColumnBuf>,
    /// Rows buffered.
    rows: usize,
    /// [`ColumnBuf::bytes`] summed over `cols`.
    bytes: usize,
    /// Rows written in row groups.
    written: u64,
    /// `None` once closed, or after a write failed.
    writer: Option<SerializedFileWriter<File>>,
    /// Where it is written (`.part-0.parquet.inprogress`), renamed to `path` by `finish`.
    tmp: PathBuf,
    path: PathBuf,
    finished: bool,
}

impl Table {
    fn create(
        dir: &Path,
        name: &str,
        fields: &[Field],
        partition: &str,
        props: &Arc<WriterProperties>,
    ) -> Result<Self, ColumnarError> {
        let part_dir = dir.join(name).join(format!("capture={partition}"));
        let path = part_dir.join(PART_FILE);
        std::fs::create_dir_all(&part_dir).map_err(|source| ColumnarError::Io {
            path: part_dir.clone(),
            what: "create directory",
            source,
        })?;
        let schema = parse_message_type(&schema::message_type(name, fields))
            .map_err(|source| ColumnarError::Parquet { path: path.clone(), what: "parse schema", source })?;
        let tmp = part_dir.join(format!(".{PART_FILE}.inprogress"));
        let file = File::create(&tmp).map_err(|source| ColumnarError::Io {
            path: tmp.clone(),
            what: "create file",
            source,
        })?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::clone(props));
        let writer = match writer {
            Ok(w) => w,
            Err(source) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(ColumnarError::Parquet { path, what: "start file", source });
            }
        };
        let cols: Vec<ColumnBuf> = schema::leaves(fields)
            .into_iter()
            .map(|(kind, nullable)| ColumnBuf::new(kind, nullable))
            .collect();
        let mut table =
            Table { cols, rows: 0, bytes: 0, written: 0, writer: Some(writer), tmp, path, finished: false };
        if table.writer.as_ref().map(|w| w.schema_descr().num_columns()) != Some(table.cols.len()) {
            table.writer = None;
            return Err(ColumnarError::Schema { path: table.path.clone(), column: table.cols.len() });
        }
        Ok(table)
    }

    /// Buffers one row (`values` in leaf column order). On a mismatch nothing is kept.
    fn append(&mut self, values: &[Value<'_>]) -> Result<(), ColumnarError> {
        let fits = values.len() == self.cols.len();
        let bad =
            if fits { self.cols.iter_mut().zip(values).position(|(c, v)| !c.push(*v)) } else { Some(0) };
        if let Some(column) = bad {
            for c in &mut self.cols {
                c.truncate(self.rows);
            }
            return Err(ColumnarError::Schema { path: self.path.clone(), column });
        }
        self.rows += 1;
        self.bytes = self.cols.iter().map(ColumnBuf::bytes).sum();
        Ok(())
    }

    /// Writes the buffered rows as a row group (nothing when none are buffered).
    fn flush(&mut self) -> Result<(), ColumnarError> {
        if self.rows == 0 {
            return Ok(());
        }
        let result = self.write_row_group();
        if result.is_err() {
            // The file is now in an unknown state: drop the writer and the rows.
            self.writer = None;
            for c in &mut self.cols {
                c.truncate(0);
            }
            self.rows = 0;
            self.bytes = 0;
        }
        result
    }

    fn write_row_group(&mut self) -> Result<(), ColumnarError> {
        let path = &self.path;
        let pq =
            |what: &'static str| move |source| ColumnarError::Parquet { path: path.clone(), what, source };
        let Some(writer) = self.writer.as_mut() else {
            return Err(ColumnarError::Failed { path: path.clone() });
        };
        let mut rg = writer.next_row_group().map_err(pq("start row group"))?;
        for col in &mut self.cols {
            let Some(mut cw) = rg.next_column().map_err(pq("start column"))? else {
                return Err(ColumnarError::Schema { path: path.clone(), column: 0 });
            };
            col.write_to(cw.untyped()).map_err(pq("write column"))?;
            cw.close().map_err(pq("close column"))?;
        }
        rg.close().map_err(pq("close row group"))?;
        self.written += self.rows as u64;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes what is buffered, the footer, and moves the file to its final name.
    fn finish(&mut self) -> Result<u64, ColumnarError> {
        self.flush()?;
        let Some(writer) = self.writer.take() else {
            return Err(ColumnarError::Failed { path: self.path.clone() });
        };
        writer.close().map_err(|source| ColumnarError::Parquet {
            path: self.path.clone(),
            what: "write footer",
            source,
        })?;
        std::fs::rename(&self.tmp, &self.path).map_err(|source| ColumnarError::Io {
            path: self.tmp.clone(),
            what: "rename to part-0.parquet",
            source,
        })?;
        self.finished = true;
        Ok(self.written)
    }
}

/// Writes one capture's records as Parquet: one file per record type, in that capture's
/// Hive partition of each dataset under the output directory.
///
/// Files are written under a hidden temporary name (`.part-0.parquet.inprogress`, which
/// `*.parquet` globs and Spark ignore) and get their final name in
/// [`finish`](ParquetSink::finish); a sink dropped without `finish` removes them.
pub struct ParquetSink {
    tables: Vec<Table>,
    opts: SinkOptions,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("files", &self.tables.iter().map(|t| &t.path).collect::<Vec<_>>())
            .field("buffered_bytes", &self.buffered_bytes())
            .field("opts", &self.opts)
            .finish()
    }
}

impl ParquetSink {
    /// Writes under `dir`: one dataset per record type, Hive-partitioned by capture file:
    /// `DIR/sessions/capture=<name>/part-0.parquet`, `DIR/messages/...`, `DIR/frames/...`,
    /// `DIR/violations/...`, `DIR/events/...`, `DIR/warnings/...` (`<name>`:
    /// [`partition_name`] of `capture`). Several captures are several partitions, each
    /// written by its own sink, possibly in parallel processes. An existing partition of
    /// the same name is replaced when the sink finishes.
    pub fn create(dir: &Path, capture: &str) -> Result<Self, ColumnarError> {
        Self::with_options(dir, capture, SinkOptions::default())
    }

    /// [`create`](ParquetSink::create) with other buffering limits.
    pub fn with_options(dir: &Path, capture: &str, opts: SinkOptions) -> Result<Self, ColumnarError> {
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_created_by(format!("wsprobe-columnar {}", env!("CARGO_PKG_VERSION")))
                .set_key_value_metadata(Some(vec![KeyValue::new(
                    "wsprobe.capture".to_string(),
                    capture.to_string(),
                )]))
                .build(),
        );
        let partition = partition_name(capture);
        let mut tables = Vec::with_capacity(TABLES.len());
        for (name, fields) in TABLES {
            // On an error, the tables created so far are dropped and remove their files.
            tables.push(Table::create(dir, name, fields, &partition, &props)?);
        }
        let opts = SinkOptions { row_group_rows: opts.row_group_rows.max(1), ..opts };
        Ok(ParquetSink { tables, opts })
    }

    /// Buffers a record as a row of its table, writing row groups as the limits require.
    /// After an error writing a file, that file cannot be completed ([`ColumnarError::Failed`]).
    pub fn push(&mut self, r: &Record) -> Result<(), ColumnarError> {
        let t = table_of(r);
        let Some(table) = self.tables.get_mut(t) else {
            return Err(ColumnarError::Schema { path: PathBuf::new(), column: 0 });
        };
        if table.writer.is_none() {
            return Err(ColumnarError::Failed { path: table.path.clone() });
        }
        append_record(table, r)?;
        if table.rows >= self.opts.row_group_rows {
            table.flush()?;
        }
        while self.buffered_bytes() > self.opts.max_buffered_bytes {
            let largest = self.tables.iter_mut().filter(|t| t.rows > 0).max_by_key(|t| t.bytes);
            match largest {
                Some(t) => t.flush()?,
                None => break,
            }
        }
        Ok(())
    }

    /// Bytes of rows buffered and not yet written, over all tables. After
    /// [`push`](ParquetSink::push) returns it is at most
    /// [`SinkOptions::max_buffered_bytes`]. (The Parquet encoder adds its own bounded
    /// buffers, a page per column, while a row group is written.)
    pub fn buffered_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.bytes).sum()
    }

    /// The buffering limits in force.
    pub fn options(&self) -> SinkOptions {
        self.opts
    }

    /// The final paths of the six files, in [`TABLE_NAMES`] order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.tables.iter().map(|t| t.path.clone()).collect()
    }

    /// Flushes the last row groups and closes the files (a table without rows gets a
    /// file with its schema and no row group); returns rows written per type.
    pub fn finish(mut self) -> Result<RowCounts, ColumnarError> {
        let mut n = [0u64; 6];
        for (i, t) in self.tables.iter_mut().enumerate() {
            let rows = t.finish()?;
            if let Some(slot) = n.get_mut(i) {
                *slot = rows;
            }
        }
        let [sessions, messages, frames, violations, events, warnings] = n;
        Ok(RowCounts { sessions, messages, frames, violations, events, warnings })
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if !self.finished {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn table_of(r: &Record) -> usize {
    match r {
        Record::Session(_) => SESSIONS,
        Record::Message(_) => MESSAGES,
        Record::Frame(_) => FRAMES,
        Record::Violation(_) => VIOLATIONS,
        Record::Event(_) => EVENTS,
        Record::Warning(_) => WARNINGS,
    }
}

/// An unsigned number as `INT64`, saturating: a packet or session number, a stream offset
/// or a gap size cannot reach 2^63 (lengths from frame headers can: they are `U64`).
fn u(v: u64) -> Value<'static> {
    Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
}

fn opt_u(v: Option<u64>) -> Value<'static> {
    v.map_or(Value::Null, u)
}

fn opt_s(v: &Option<String>) -> Value<'_> {
    v.as_deref().map_or(Value::Null, Value::Str)
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::Limit => "LIMIT",
    }
}

/// Appends the record's row; the values follow the order of the table's schema in
/// `schema.rs` (a mismatch is caught by [`Table::append`] and by the tests).
fn append_record(table: &mut Table, r: &Record) -> Result<(), ColumnarError> {
    use Value::{Bool, I64, Null, Str, U64};
    match r {
        Record::Session(s) => {
            let d = s.deflate;
            table.append(&[
                u(s.session),
                Str(&s.file),
                u(s.conn),
                Str(&s.client),
                Str(&s.server),
                Str(s.handshake.as_str()),
                opt_u(s.status.map(u64::from)),
                opt_s(&s.path),
                opt_s(&s.host),
                opt_s(&s.origin),
                opt_s(&s.offered_protocols),
                opt_s(&s.offered_extensions),
                opt_s(&s.protocol),
                opt_s(&s.extensions),
                d.map_or(Null, |d| Bool(d.server_no_context_takeover)),
                d.map_or(Null, |d| Bool(d.client_no_context_takeover)),
                d.map_or(Null, |d| I64(d.server_max_window_bits.into())),
                d.map_or(Null, |d| I64(d.client_max_window_bits.into())),
                opt_s(&s.tls_version),
                opt_s(&s.tls_suite),
                opt_s(&s.sni),
                opt_s(&s.proxy),
                u(s.first_packet),
                I64(s.ts_nanos),
                I64(s.ts_nanos),
            ])
        }
        Record::Message(m) => table.append(&[
            u(m.session),
            Str(m.dir.as_str()),
            u(m.packet),
            I64(m.ts_nanos),
            I64(m.ts_nanos),
            Str(&m.opcode),
            u(m.offset),
            U64(m.len),
            U64(m.wire_len),
            I64(m.frames.into()),
            Bool(m.compressed),
            opt_u(m.close_code.map(u64::from)),
            opt_s(&m.close_reason),
            opt_s(&m.payload_preview),
            opt_s(&m.payload_b64),
            Bool(m.truncated),
            Bool(m.incomplete),
            m.rtt_nanos.map_or(Null, I64),
        ]),
        Record::Frame(f) => table.append(&[
            u(f.session),
            Str(f.dir.as_str()),
            u(f.packet),
            I64(f.ts_nanos),
            I64(f.ts_nanos),
            u(f.offset),
            Bool(f.fin),
            Bool(f.rsv1),
            Bool(f.rsv2),
            Bool(f.rsv3),
            I64(f.opcode.into()),
            Str(&f.opcode_name),
            Bool(f.masked),
            opt_s(&f.mask_key),
            U64(f.payload_len),
            opt_u(f.close_code.map(u64::from)),
            U64(f.missing),
        ]),
        Record::Violation(v) => table.append(&[
            u(v.session),
            Str(&v.rule),
            I64(v.rfc.into()),
            Str(&v.section),
            Str(level_str(v.level)),
            Str(v.by.as_str()),
            Str(v.dir.as_str()),
            u(v.packet),
            I64(v.ts_nanos),
            I64(v.ts_nanos),
            u(v.offset),
            Str(&v.detail),
        ]),
        Record::Event(e) => table.append(&[
            u(e.session),
            Str(&e.kind),
            e.dir.map_or(Null, |d| Str(d.as_str())),
            u(e.packet),
            I64(e.ts_nanos),
            I64(e.ts_nanos),
            opt_u(e.offset),
            opt_u(e.len),
            opt_s(&e.reason),
            Str(&e.text),
        ]),
        Record::Warning(w) => table.append(&[opt_u(w.session), Str(&w.file), u(w.packet), Str(&w.message)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names() {
        assert_eq!(partition_name("captures/basic-echo.pcap"), "basic-echo.pcap");
        assert_eq!(partition_name("C:\\x\\a b=c.pcapng"), "a_b_c.pcapng");
        assert_eq!(partition_name("-"), "stdin");
        assert_eq!(partition_name(""), "_");
        assert_eq!(partition_name("dir/.."), "_");
        assert_eq!(partition_name("dir/"), "dir");
        assert_eq!(partition_name("é%2F.pcap"), "é_2F.pcap");
        assert!(partition_name(&"x".repeat(1000)).len() <= 200);
    }

    #[test]
    fn schemas_parse_and_match_buffers() {
        for (name, fields) in TABLES {
            let t = parse_message_type(&schema::message_type(name, fields));
            assert!(t.is_ok(), "{name}: {t:?}");
        }
        assert_eq!(TABLES.map(|(n, _)| n), TABLE_NAMES);
    }
}
