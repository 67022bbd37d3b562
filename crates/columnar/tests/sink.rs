//! The sink without an external engine: bounded buffering over a million records, the
//! row counts the Parquet footers hold, the files' lifecycle and errors.

use parquet::file::reader::{FileReader, SerializedFileReader};
use std::path::{Path, PathBuf};
use wsprobe_columnar::{
    ColumnarError, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_ROW_GROUP_ROWS, ParquetSink, SinkOptions, TABLE_NAMES,
};
use wsprobe_dissect::{Dir, MessageRecord, Record};

/// Rows in the footer, and (rows, row groups) per row group.
fn footer(path: &Path) -> (i64, Vec<i64>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = SerializedFileReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let md = reader.metadata();
    (md.file_metadata().num_rows(), md.row_groups().iter().map(|g| g.num_rows()).collect())
}

fn message(i: u64) -> Record {
    let opcodes = ["text", "binary", "ping", "pong", "close"];
    let opcode = opcodes[(i % 5) as usize];
    Record::Message(MessageRecord {
        session: i / 1000 + 1,
        dir: if i.is_multiple_of(2) { Dir::C2S } else { Dir::S2C },
        packet: i + 1,
        ts_nanos: 1_700_000_000_000_000_000 + i as i64 * 1000,
        opcode: opcode.to_string().into(),
        offset: i * 40,
        len: i % 4096,
        wire_len: i % 4096 + 6,
        frames: 1 + (i % 3) as u32,
        compressed: i.is_multiple_of(7),
        close_code: (opcode == "close").then_some(1000),
        close_reason: (opcode == "close").then(|| "bye".to_string()),
        // Long enough that the byte cap, not the row cap, decides most row groups.
        payload_preview: (!i.is_multiple_of(10))
            .then(|| format!("\"message number {i} {}\"", "x".repeat((i % 200) as usize))),
        payload_b64: None,
        truncated: false,
        incomplete: i % 1000 == 999,
        rtt_nanos: (opcode == "pong").then_some(1_000_000),
        text: String::new(),
    })
}

fn temp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("wsprobe-columnar-{tag}-")).tempdir().expect("temp dir")
}

#[test]
fn a_million_messages_in_bounded_memory() {
    const N: u64 = 1_000_000;
    let tmp = temp("million");
    let mut sink = ParquetSink::create(tmp.path(), "synthetic.pcap").expect("create");
    let cap = sink.options().max_buffered_bytes;
    assert_eq!(cap, DEFAULT_MAX_BUFFERED_BYTES);
    let mut max_seen = 0;
    for i in 0..N {
        sink.push(&message(i)).expect("push");
        let b = sink.buffered_bytes();
        assert!(b <= cap, "after record {i}: {b} bytes buffered, cap {cap}");
        max_seen = max_seen.max(b);
    }
    // It does buffer (row groups are not written row by row)...
    assert!(max_seen > cap / 2, "at most {max_seen} bytes were ever buffered");
    let paths = sink.paths();
    let counts = sink.finish().expect("finish");
    assert_eq!(counts.messages, N);
    assert_eq!(counts.total(), N);

    let messages = &paths[1];
    assert!(messages.ends_with("messages/capture=synthetic.pcap/part-0.parquet"), "{}", messages.display());
    let (rows, groups) = footer(messages);
    assert_eq!(rows, N as i64);
    assert_eq!(groups.iter().sum::<i64>(), N as i64);
    // ...and writes row groups of bounded size, many of them cut by the byte cap.
    assert!(groups.len() > (N as usize).div_ceil(DEFAULT_ROW_GROUP_ROWS), "{groups:?}");
    assert!(groups.iter().all(|&g| g > 0 && g <= DEFAULT_ROW_GROUP_ROWS as i64), "{groups:?}");
    // The other tables: valid files with the schema and no rows.
    for (t, p) in TABLE_NAMES.iter().zip(&paths) {
        if *t != "messages" {
            assert_eq!(footer(p), (0, vec![]), "{t}");
        }
    }
}

#[test]
fn row_cap_and_small_byte_cap_with_every_record_type() {
    let tmp = temp("caps");
    let cap_path: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/violations-framing.pcap");
    let opts = wsprobe_dissect::Options { frames: true, ..Default::default() };
    let d = wsprobe_dissect::dissect_path(&cap_path, &opts);
    assert!(d.error.is_none(), "{:?}", d.error);
    let sopts = SinkOptions { row_group_rows: 3, max_buffered_bytes: 2048 };
    let mut sink =
        ParquetSink::with_options(tmp.path(), "dir/violations-framing.pcap", sopts).expect("create");
    for r in &d.records {
        sink.push(r).expect("push");
        assert!(sink.buffered_bytes() <= 2048);
    }
    let paths = sink.paths();
    let counts = sink.finish().expect("finish");
    let want = [
        d.sessions().count(),
        d.messages().count(),
        d.frames().count(),
        d.violations().count(),
        d.records.iter().filter(|r| matches!(r, Record::Event(_))).count(),
        d.warnings().count(),
    ];
    let got =
        [counts.sessions, counts.messages, counts.frames, counts.violations, counts.events, counts.warnings];
    assert_eq!(got.map(|n| n as usize), want);
    for ((t, p), n) in TABLE_NAMES.iter().zip(&paths).zip(want) {
        let (rows, groups) = footer(p);
        assert_eq!(rows as usize, n, "{t}");
        assert!(groups.iter().all(|&g| (1..=3).contains(&g)), "{t}: {groups:?}");
        assert!(groups.len() >= n.div_ceil(3), "{t}: {groups:?}");
    }
}

#[test]
fn unfinished_sink_leaves_no_files_and_finish_replaces_a_partition() {
    let tmp = temp("lifecycle");
    let sink = ParquetSink::create(tmp.path(), "a.pcap").expect("create");
    let paths = sink.paths();
    let part_dir = paths[0].parent().expect("partition dir").to_path_buf();
    assert!(part_dir.join(".part-0.parquet.inprogress").exists(), "written under a hidden name");
    assert!(!paths[0].exists(), "not visible before finish");
    drop(sink);
    assert_eq!(std::fs::read_dir(&part_dir).expect("dir").count(), 0, "dropped sink removed its files");

    for n in [3u64, 1] {
        let mut sink = ParquetSink::create(tmp.path(), "a.pcap").expect("create");
        for i in 0..n {
            sink.push(&message(i)).expect("push");
        }
        sink.finish().expect("finish");
        assert_eq!(footer(&paths[1]).0, n as i64);
    }
}

#[test]
fn errors_name_the_path() {
    let tmp = temp("errors");
    let blocker = tmp.path().join("out");
    std::fs::write(&blocker, b"not a directory").expect("write");
    let err = ParquetSink::create(&blocker, "a.pcap").expect_err("out is a file");
    assert!(matches!(err, ColumnarError::Io { what: "create directory", .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&blocker.display().to_string()) && text.contains("create directory"), "{text}");
}
