//! The bundled captures dissected, written as Parquet and as jsonl, and the Parquet read
//! back by a real engine (DuckDB's Python package in `peers/.venv`): every row of every
//! table must equal the record's JSON, and counts, aggregates and column types must be
//! what the jsonl says.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use wsprobe_columnar::{ParquetSink, TABLE_NAMES, partition_name};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python with `duckdb` importable, or `None` (after a skip notice) when it
/// is not set up; under CI a missing DuckDB fails the test.
fn duckdb_python() -> Option<PathBuf> {
    let py = repo().join("peers/.venv/bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import duckdb"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let msg = format!(
        "{} with the `duckdb` package is missing: run scripts/setup-peers.sh \
         (installs peers/python/requirements.txt into peers/.venv)",
        py.display()
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{msg}");
    }
    eprintln!("SKIPPED (CI not set): {msg}");
    None
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("captures"))
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 20, "bundled captures not found: {v:?}");
    v
}

/// Table name of a record's JSON `type`.
fn table_of(ty: &str) -> &'static str {
    match ty {
        "session" => "sessions",
        "message" => "messages",
        "frame" => "frames",
        "violation" => "violations",
        "event" => "events",
        "warning" => "warnings",
        other => panic!("unknown record type {other}"),
    }
}

/// JSON text with object keys sorted (independent of serde_json's map order).
fn canon(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, String> = m.iter().map(|(k, v)| (k, canon(v))).collect();
            let inner: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

const QUERY: &str = r#"
import duckdb, json, sys
out = sys.argv[1]
con = duckdb.connect()
def src(t):
    glob = (out + "/" + t + "/**/*.parquet").replace("'", "''")
    return f"read_parquet('{glob}', hive_partitioning=true)"
def rows(sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
res = {"tables": {}}
for t in sys.argv[2:]:
    s = src(t)
    types = {r["column_name"]: r["column_type"] for r in rows(f"describe select * from {s}")}
    info = {
        "count": con.execute(f"select count(*) from {s}").fetchone()[0],
        "per_capture": {r["capture"]: r["n"] for r in rows(f"select capture, count(*) as n from {s} group by capture")},
        "types": types,
        "rows": rows(f"select * exclude (ts) from {s}" if "ts" in types else f"select * from {s}"),
    }
    if "ts" in types:
        info["ts_mismatch"] = con.execute(f"select count(*) from {s} where epoch_ns(ts) <> ts_nanos").fetchone()[0]
    res["tables"][t] = info
m, v = src("messages"), src("violations")
res["len_sum"] = con.execute(f"select coalesce(sum(len), 0) from {m}").fetchone()[0]
res["wire_len_by_capture"] = {c: n for c, n in con.execute(f"select capture, sum(wire_len) from {m} group by capture").fetchall()}
res["opcodes"] = {o: n for o, n in con.execute(f"select opcode, count(*) from {m} group by opcode").fetchall()}
res["rules"] = {r: n for r, n in con.execute(f"select rule, count(*) from {v} group by rule").fetchall()}
# Every file's footer, also of files without rows (DuckDB's own metadata reader).
res["files"] = {f: n for f, n in con.execute(
    f"select file_name, num_rows from parquet_file_metadata('{out.replace(chr(39), chr(39) * 2)}/*/**/*.parquet')").fetchall()}
print(json.dumps(res))
"#;

#[test]
fn duckdb_reads_what_jsonl_says() {
    let Some(py) = duckdb_python() else { return };
    let tmp = tempfile::Builder::new().prefix("wsprobe-columnar-duckdb-").tempdir().expect("temp dir");
    let out = tmp.path().join("out");
    let jsonl_dir = tmp.path().join("jsonl");
    std::fs::create_dir_all(&jsonl_dir).expect("jsonl dir");

    let opts = wsprobe_dissect::Options {
        frames: true,
        payload: wsprobe_dissect::PayloadMode::Full,
        ..Default::default()
    };
    let caps = captures();
    for cap in &caps {
        let d = wsprobe_dissect::dissect_path(cap, &opts);
        let name = cap.display().to_string();
        let mut sink = ParquetSink::create(&out, &name).expect("create sink");
        let mut jsonl = String::new();
        for r in &d.records {
            sink.push(r).expect("push");
            jsonl.push_str(&serde_json::to_string(r).expect("json"));
            jsonl.push('\n');
        }
        let counts = sink.finish().expect("finish");
        assert_eq!(counts.total(), d.records.len() as u64, "{name}");
        std::fs::write(jsonl_dir.join(format!("{}.jsonl", partition_name(&name))), jsonl)
            .expect("write jsonl");
    }

    // Expectations from the jsonl.
    let mut expected_rows: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut per_capture: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    let (mut len_sum, mut opcodes, mut rules, mut wire_by_cap) = (
        0u64,
        BTreeMap::<String, u64>::new(),
        BTreeMap::<String, u64>::new(),
        BTreeMap::<String, u64>::new(),
    );
    for cap in &caps {
        let part = partition_name(&cap.display().to_string());
        let text = std::fs::read_to_string(jsonl_dir.join(format!("{part}.jsonl"))).expect("read jsonl");
        for line in text.lines() {
            let mut obj: Map<String, Value> = serde_json::from_str(line).expect("jsonl line");
            let ty = obj.remove("type").and_then(|t| t.as_str().map(str::to_string)).expect("type");
            let table = table_of(&ty);
            if table == "messages" {
                len_sum += obj["len"].as_u64().expect("len");
                *wire_by_cap.entry(part.clone()).or_default() += obj["wire_len"].as_u64().expect("wire_len");
                *opcodes.entry(obj["opcode"].as_str().expect("opcode").to_string()).or_default() += 1;
            }
            if table == "violations" {
                *rules.entry(obj["rule"].as_str().expect("rule").to_string()).or_default() += 1;
            }
            obj.insert("capture".into(), Value::String(part.clone()));
            *per_capture.entry(table).or_default().entry(part.clone()).or_default() += 1;
            expected_rows.entry(table).or_default().push(canon(&Value::Object(obj)));
        }
    }
    let total_rows: u64 = expected_rows.values().map(|v| v.len() as u64).sum();
    // The captures exercise every table but warnings.
    for t in ["sessions", "messages", "frames", "violations", "events"] {
        assert!(expected_rows.get(t).is_some_and(|v| v.len() > 5), "{t}: too few rows to test");
    }

    let output =
        Command::new(&py).args(["-c", QUERY]).arg(&out).args(TABLE_NAMES).output().expect("run python");
    assert!(output.status.success(), "duckdb query failed: {}", String::from_utf8_lossy(&output.stderr));
    let res: Value = serde_json::from_slice(&output.stdout).expect("duckdb output is JSON");

    for t in TABLE_NAMES {
        let got = &res["tables"][t];
        let mut want = expected_rows.remove(t).unwrap_or_default();
        assert_eq!(got["count"].as_u64(), Some(want.len() as u64), "{t}: row count");
        let want_caps: BTreeMap<String, u64> = per_capture.remove(t).unwrap_or_default();
        let got_caps: BTreeMap<String, u64> =
            serde_json::from_value(got["per_capture"].clone()).expect("per_capture");
        assert_eq!(got_caps, want_caps, "{t}: rows per capture partition");
        let mut rows: Vec<String> = got["rows"].as_array().expect("rows").iter().map(canon).collect();
        rows.sort();
        want.sort();
        if let Some(i) = (0..rows.len().max(want.len())).find(|&i| rows.get(i) != want.get(i)) {
            let cut = |r: Option<&String>| r.map(|r| r.chars().take(1500).collect::<String>());
            panic!(
                "{t}: first differing row (sorted) #{i}:\nparquet: {:?}\njsonl:   {:?}",
                cut(rows.get(i)),
                cut(want.get(i))
            );
        }
        if let Some(ts) = got.get("ts_mismatch") {
            assert_eq!(ts.as_u64(), Some(0), "{t}: ts differs from ts_nanos");
        }
    }
    assert_eq!(res["len_sum"].as_u64(), Some(len_sum), "sum of message lengths");
    assert!(len_sum > 0);
    let got: BTreeMap<String, u64> =
        serde_json::from_value(res["wire_len_by_capture"].clone()).expect("wire");
    assert_eq!(got, wire_by_cap, "wire_len per capture");
    let got: BTreeMap<String, u64> = serde_json::from_value(res["opcodes"].clone()).expect("opcodes");
    assert_eq!(got, opcodes, "messages per opcode");
    let got: BTreeMap<String, u64> = serde_json::from_value(res["rules"].clone()).expect("rules");
    assert_eq!(got, rules, "violations per rule");
    assert!(rules.len() >= 10, "the violation captures break many rules: {rules:?}");

    // One final file per table and capture, nothing left in progress.
    let files: BTreeMap<String, u64> = serde_json::from_value(res["files"].clone()).expect("files");
    assert_eq!(files.len(), TABLE_NAMES.len() * caps.len(), "{files:?}");
    assert!(files.values().filter(|&&n| n == 0).count() > caps.len(), "empty tables have files too");
    assert_eq!(files.values().sum::<u64>(), total_rows, "rows in the footers");
    let mut on_disk = Vec::new();
    walk(&out, &mut on_disk);
    assert_eq!(on_disk.len(), TABLE_NAMES.len() * caps.len(), "{on_disk:?}");
    assert!(on_disk.iter().all(|p| p.file_name().is_some_and(|n| n == "part-0.parquet")), "{on_disk:?}");

    // Column types as DuckDB sees them.
    let ty = |t: &str, c: &str| res["tables"][t]["types"][c].as_str().map(str::to_string);
    let checks = [
        ("messages", "session", "BIGINT"),
        ("messages", "len", "UBIGINT"),
        ("messages", "offset", "BIGINT"),
        ("frames", "payload_len", "UBIGINT"),
        ("messages", "dir", "VARCHAR"),
        ("messages", "compressed", "BOOLEAN"),
        ("messages", "close_code", "BIGINT"),
        ("messages", "ts_nanos", "BIGINT"),
        ("messages", "capture", "VARCHAR"),
        ("frames", "opcode", "BIGINT"),
        ("frames", "fin", "BOOLEAN"),
        ("violations", "rule", "VARCHAR"),
        ("violations", "level", "VARCHAR"),
        ("events", "offset", "BIGINT"),
        ("sessions", "file", "VARCHAR"),
        ("warnings", "session", "BIGINT"),
    ];
    for (t, c, want) in checks {
        assert_eq!(ty(t, c).as_deref(), Some(want), "{t}.{c}");
    }
    for t in ["sessions", "messages", "frames", "violations", "events"] {
        assert_eq!(ty(t, "ts").as_deref(), Some(TS_TYPE), "{t}.ts");
    }
    assert_eq!(
        ty("sessions", "deflate").as_deref(),
        Some(
            "STRUCT(server_no_context_takeover BOOLEAN, client_no_context_takeover BOOLEAN, \
             server_max_window_bits BIGINT, client_max_window_bits BIGINT)"
        ),
        "sessions.deflate"
    );
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, files);
        } else {
            files.push(p);
        }
    }
}

/// DuckDB's type for `INT64 (TIMESTAMP(NANOS, true))`: an instant (UTC), nanoseconds kept.
const TS_TYPE: &str = "TIMESTAMPTZ_NS";
