//! Differential test: wsprobe's frame records against tshark's WebSocket
//! dissector, frame by frame, over every capture under `captures/` (recursively)
//! and under `../shared/captures/public/` when that directory exists.
//!
//! For each capture tshark runs as `tshark -n -r FILE -o
//! tcp.reassemble_out_of_order:TRUE -Y websocket -T fields -e frame.number ...
//! -E occurrence=a` (fields: [`support::TSHARK_FIELDS`]; out-of-order
//! reassembly, off by default in tshark 4.0, gives tshark its best chance on
//! reordered captures). tshark dissects WebSocket only where it saw the HTTP
//! upgrade, so for each wsprobe session whose handshake is not in the capture
//! and of which tshark decoded nothing, tshark runs again with `-d
//! tcp.port==<server port>,websocket` (Decode As) and with
//! `--enable-heuristic websocket_tcp`; the run that finds more of that
//! session's frames is used.
//!
//! Matching: frames of the same packet (the one in which the frame ends), in
//! order; where the two tools put a different number of frames in a packet,
//! frames are paired in order on equal opcode and payload length. Frames left
//! over are paired the same way in stream order within their TCP direction (a
//! `packet` difference: the same frame, reported in another packet). For each
//! pair FIN, RSV, opcode, MASK, masking key, payload length and close code are
//! compared (`field` differences); frames without a partner are
//! `tshark_missing` / `wsprobe_missing`.
//!
//! Every difference must be listed in `reports/tshark-known-defects.toml` with
//! what differs and why, and every listed defect must still occur, so the list
//! stays honest. Without tshark the test fails, unless `WSPROBE_NO_TSHARK=1`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{TsFrame, TsharkMode, by_packet, find_captures, public_captures_dir, repo_root, tshark_frames};
use wsprobe_dissect::{Dir, FrameRecord, HandshakeState, Options, PayloadMode, Record, dissect_path};

/// The defects file, relative to the repository root.
const DEFECTS: &str = "reports/tshark-known-defects.toml";

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// wsprobe decoded a frame tshark did not show.
    TsharkMissing,
    /// tshark decoded a frame wsprobe did not report.
    WsprobeMissing,
    /// Both decoded the frame but a field differs.
    Field,
    /// Both decoded the frame, in different packets.
    Packet,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::TsharkMissing => "tshark_missing",
            Kind::WsprobeMissing => "wsprobe_missing",
            Kind::Field => "field",
            Kind::Packet => "packet",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::TsharkMissing, Kind::WsprobeMissing, Kind::Field, Kind::Packet]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One difference between wsprobe and tshark.
#[derive(Clone, Debug)]
struct Difference {
    file: String,
    packet: u64,
    kind: Kind,
    field: Option<&'static str>,
    detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} packet {}: {}", self.file, self.packet, self.kind.as_str())?;
        if let Some(field) = self.field {
            write!(f, " [{field}]")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// A known tshark defect from the defects file.
#[derive(Debug)]
struct Defect {
    id: String,
    file: String,
    kind: Kind,
    field: Option<String>,
    packets: Option<BTreeSet<u64>>,
}

impl Defect {
    fn covers(&self, d: &Difference) -> bool {
        self.file == d.file
            && self.kind == d.kind
            && self.field.as_deref().is_none_or(|f| Some(f) == d.field)
            && self.packets.as_ref().is_none_or(|p| p.contains(&d.packet))
    }
}

fn load_defects(path: &Path) -> Vec<Defect> {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("note: {} not found: no known defects", path.display());
        return Vec::new();
    };
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: invalid TOML: {e}", path.display()));
    let list = match table.get("defect") {
        None => return Vec::new(),
        Some(toml::Value::Array(a)) => a,
        Some(_) => panic!("{}: `defect` must be an array of tables", path.display()),
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let t = v.as_table().unwrap_or_else(|| panic!("{}: defect #{i} is not a table", path.display()));
        let s = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_owned);
        let need = |k: &str| {
            s(k).filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| panic!("{}: defect #{i} needs a non-empty `{k}`", path.display()))
        };
        let id = need("id");
        // `what`, `reason` and `cause` are documentation, but they must be there.
        need("what");
        need("reason");
        let cause = need("cause");
        assert!(
            cause == "tshark" || cause == "convention",
            "{}: defect {id}: cause must be \"tshark\" or \"convention\" (a wsprobe bug is fixed, not listed), got {cause:?}",
            path.display()
        );
        let kind_s = need("kind");
        let kind = Kind::parse(&kind_s).unwrap_or_else(|| {
            panic!(
                "{}: defect {id}: kind {kind_s:?} is not tshark_missing, wsprobe_missing, field or packet",
                path.display()
            )
        });
        let packets = t.get("packets").map(|p| {
            p.as_array()
                .unwrap_or_else(|| panic!("defect {id}: `packets` must be a list"))
                .iter()
                .map(|n| {
                    n.as_integer()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or_else(|| panic!("defect {id}: bad packet number {n}"))
                })
                .collect()
        });
        out.push(Defect { id, file: need("file"), kind, field: s("field"), packets });
    }
    let mut ids = BTreeSet::new();
    for d in &out {
        assert!(ids.insert(d.id.clone()), "{}: duplicate defect id {}", path.display(), d.id);
    }
    out
}

/// The result of comparing one capture.
#[derive(Debug, Default)]
struct FileResult {
    label: String,
    wsprobe_frames: usize,
    tshark_frames: usize,
    compared: usize,
    /// tshark settings other than the default used for some sessions.
    modes: Vec<String>,
    differences: Vec<Difference>,
    notes: Vec<String>,
    errors: Vec<String>,
}

fn port_of(endpoint: &str) -> Option<u16> {
    endpoint.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn rsv_of(f: &FrameRecord) -> u8 {
    (u8::from(f.rsv1) << 2) | (u8::from(f.rsv2) << 1) | u8::from(f.rsv3)
}

/// A wsprobe frame with the TCP ports of its direction (source, destination).
#[derive(Clone, Debug)]
struct WFrame {
    rec: FrameRecord,
    ports: (u16, u16),
}

impl WFrame {
    fn key(&self) -> (u8, u64) {
        (self.rec.opcode, self.rec.payload_len)
    }
}

fn t_key(t: &TsFrame) -> (u8, u64) {
    (t.opcode, t.payload_len)
}

fn describe_w(f: &FrameRecord) -> String {
    let mut s = format!(
        "wsprobe frame opcode {} fin {} rsv {} len {} ({:?} at stream offset {})",
        f.opcode,
        u8::from(f.fin),
        rsv_of(f),
        f.payload_len,
        f.dir,
        f.offset
    );
    if f.missing > 0 {
        let _ = write!(s, ", {} bytes missing from the capture", f.missing);
    }
    s
}

fn describe_t(f: &TsFrame) -> String {
    format!(
        "tshark frame opcode {} fin {} rsv {} len {} (tcp.stream {}, port {} -> {})",
        f.opcode,
        u8::from(f.fin),
        f.rsv,
        f.payload_len,
        f.stream,
        f.src_port,
        f.dst_port
    )
}

fn compare_frames(label: &str, w: &FrameRecord, t: &TsFrame, out: &mut Vec<Difference>) {
    let wkey = w.mask_key.as_ref().map(|k| k.to_ascii_lowercase());
    let fields: [(&'static str, String, String); 7] = [
        ("opcode", w.opcode.to_string(), t.opcode.to_string()),
        ("fin", w.fin.to_string(), t.fin.to_string()),
        ("rsv", rsv_of(w).to_string(), t.rsv.to_string()),
        ("mask", w.masked.to_string(), t.masked.to_string()),
        ("masking_key", format!("{wkey:?}"), format!("{:?}", t.mask_key)),
        ("payload_length", w.payload_len.to_string(), t.payload_len.to_string()),
        ("close_code", format!("{:?}", w.close_code), format!("{:?}", t.close_code)),
    ];
    for (name, a, b) in fields {
        if a != b {
            out.push(Difference {
                file: label.to_owned(),
                packet: w.packet,
                kind: Kind::Field,
                field: Some(name),
                detail: format!("{name}: wsprobe {a}, tshark {b} (opcode {})", t.opcode),
            });
        }
    }
}

/// Pairs `ws` with `ts`, both in order, on equal (opcode, payload length):
/// each tshark frame takes the next wsprobe frame with its key after the last
/// one taken. Returns the pairs and the indices left over on each side.
fn match_in_order(ws: &[&WFrame], ts: &[&TsFrame]) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    let mut pairs = Vec::new();
    let mut used = vec![false; ws.len()];
    let mut t_left = Vec::new();
    let mut from = 0;
    for (ti, t) in ts.iter().enumerate() {
        match (from..ws.len()).find(|&wi| ws[wi].key() == t_key(t)) {
            Some(wi) => {
                pairs.push((wi, ti));
                used[wi] = true;
                from = wi + 1;
            }
            None => t_left.push(ti),
        }
    }
    let w_left = (0..ws.len()).filter(|&i| !used[i]).collect();
    (pairs, w_left, t_left)
}

fn run_file(path: &Path, label: &str) -> FileResult {
    let mut r = FileResult { label: label.to_owned(), ..FileResult::default() };
    let opts = Options { sync: true, frames: true, payload: PayloadMode::None, ..Options::default() };
    let d = dissect_path(path, &opts);
    if let Some(e) = &d.error {
        r.notes.push(format!("wsprobe stopped early: {e}"));
    }
    // Session id -> (client port, server port, handshake in the capture).
    let mut sessions: BTreeMap<u64, (u16, u16, bool)> = BTreeMap::new();
    let mut recs: Vec<FrameRecord> = Vec::new();
    for rec in &d.records {
        match rec {
            Record::Session(s) => {
                let (Some(c), Some(sv)) = (port_of(&s.client), port_of(&s.server)) else {
                    r.errors.push(format!(
                        "session {}: cannot read ports of {} / {}",
                        s.session, s.client, s.server
                    ));
                    continue;
                };
                sessions.insert(s.session, (c, sv, s.handshake != HandshakeState::NotSeen));
            }
            Record::Frame(f) => recs.push(f.clone()),
            _ => {}
        }
    }
    let mut frames: Vec<WFrame> = recs
        .into_iter()
        .map(|rec| {
            let (c, sv, _) = sessions.get(&rec.session).copied().unwrap_or_default();
            let ports = if rec.dir == Dir::C2S { (c, sv) } else { (sv, c) };
            WFrame { rec, ports }
        })
        .collect();
    frames.sort_by_key(|f| (f.rec.packet, f.rec.offset));
    r.wsprobe_frames = frames.len();

    // tshark's best over several settings, chosen per session: its default,
    // out-of-order reassembly (better on reordered segments, worse after a
    // loss or a snapshot cut), and for sessions without a handshake in the
    // capture, Decode As on the server port or its WebSocket heuristics.
    let mut modes = vec![TsharkMode::default(), TsharkMode { out_of_order: true, ..TsharkMode::default() }];
    let mut runs: Vec<Vec<TsFrame>> = Vec::new();
    for m in &modes {
        match tshark_frames(path, m) {
            Ok(run) => {
                if let Some(msg) = run.cut_short.filter(|_| runs.is_empty()) {
                    r.notes.push(format!("tshark read the capture in part: {msg}"));
                }
                runs.push(run.frames);
            }
            Err(e) => {
                r.errors.push(e);
                return r;
            }
        }
    }
    let pair_of = |f: &TsFrame| {
        if f.src_port < f.dst_port { (f.src_port, f.dst_port) } else { (f.dst_port, f.src_port) }
    };
    let session_pair = |c: u16, sv: u16| if c < sv { (c, sv) } else { (sv, c) };
    let decoded: BTreeSet<(u16, u16)> = runs.iter().flatten().map(pair_of).collect();
    let blind: BTreeSet<u16> = sessions
        .iter()
        .filter(|(sid, (c, sv, seen))| {
            !seen
                && frames.iter().any(|f| f.rec.session == **sid)
                && !decoded.contains(&session_pair(*c, *sv))
        })
        .map(|(_, (_, sv, _))| *sv)
        .collect();
    if !blind.is_empty() {
        for m in [
            TsharkMode { decode_as: blind.into_iter().collect(), ..TsharkMode::default() },
            TsharkMode { heuristic: true, ..TsharkMode::default() },
        ] {
            match tshark_frames(path, &m) {
                Ok(run) => runs.push(run.frames),
                Err(e) => {
                    r.errors.push(e);
                    runs.push(Vec::new());
                }
            }
            modes.push(m);
        }
    }
    // Each wsprobe session takes its frames from the run that decoded the most
    // of them (the earlier run on a tie); connections wsprobe has no session
    // for take the default run's.
    let mut chosen: BTreeMap<(u16, u16), usize> = BTreeMap::new();
    for (c, sv, _) in sessions.values() {
        let pair = session_pair(*c, *sv);
        let count = |i: usize| runs[i].iter().filter(|f| pair_of(f) == pair).count();
        let mut best = 0;
        for i in 1..runs.len() {
            if count(i) > count(best) {
                best = i;
            }
        }
        chosen.insert(pair, best);
    }
    let mut tsf: Vec<TsFrame> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        tsf.extend(run.iter().filter(|f| chosen.get(&pair_of(f)).copied().unwrap_or(0) == i).cloned());
    }
    tsf.sort_by_key(|f| f.packet);
    for (pair, i) in &chosen {
        if *i != 0 {
            r.modes.push(format!("{} for ports {}-{}", modes[*i].describe(), pair.0, pair.1));
        }
    }
    r.tshark_frames = tsf.len();

    // Pass 1: frames of the same packet, in order.
    let wmap = by_packet(&frames, |f| f.rec.packet);
    let tmap = by_packet(&tsf, |f| f.packet);
    let packets: BTreeSet<u64> = wmap.keys().chain(tmap.keys()).copied().collect();
    let mut w_left: Vec<WFrame> = Vec::new();
    let mut t_left: Vec<TsFrame> = Vec::new();
    for p in packets {
        let ws: Vec<&WFrame> = wmap.get(&p).map(|v| v.iter().collect()).unwrap_or_default();
        let ts: Vec<&TsFrame> = tmap.get(&p).map(|v| v.iter().collect()).unwrap_or_default();
        if ws.len() == ts.len() {
            for (w, t) in ws.iter().zip(&ts) {
                r.compared += 1;
                compare_frames(label, &w.rec, t, &mut r.differences);
            }
            continue;
        }
        let (pairs, wl, tl) = match_in_order(&ws, &ts);
        for (wi, ti) in pairs {
            r.compared += 1;
            compare_frames(label, &ws[wi].rec, ts[ti], &mut r.differences);
        }
        w_left.extend(wl.into_iter().map(|i| ws[i].clone()));
        t_left.extend(tl.into_iter().map(|i| ts[i].clone()));
    }

    // Pass 2: frames left over, matched in stream order within each TCP
    // direction: the same frame reported in another packet.
    let dirs: BTreeSet<(u16, u16)> =
        w_left.iter().map(|f| f.ports).chain(t_left.iter().map(|f| (f.src_port, f.dst_port))).collect();
    for d in dirs {
        let mut ws: Vec<&WFrame> = w_left.iter().filter(|f| f.ports == d).collect();
        ws.sort_by_key(|f| f.rec.offset);
        let ts: Vec<&TsFrame> = t_left.iter().filter(|f| (f.src_port, f.dst_port) == d).collect();
        let (pairs, wl, tl) = match_in_order(&ws, &ts);
        for (wi, ti) in pairs {
            let (w, t) = (&ws[wi].rec, ts[ti]);
            r.compared += 1;
            r.differences.push(Difference {
                file: label.to_owned(),
                packet: w.packet,
                kind: Kind::Packet,
                field: None,
                detail: format!(
                    "wsprobe reports it in packet {}, tshark in packet {}: {}",
                    w.packet,
                    t.packet,
                    describe_w(w)
                ),
            });
            compare_frames(label, w, t, &mut r.differences);
        }
        for wi in wl {
            let w = &ws[wi].rec;
            r.differences.push(Difference {
                file: label.to_owned(),
                packet: w.packet,
                kind: Kind::TsharkMissing,
                field: None,
                detail: describe_w(w),
            });
        }
        for ti in tl {
            let t = ts[ti];
            r.differences.push(Difference {
                file: label.to_owned(),
                packet: t.packet,
                kind: Kind::WsprobeMissing,
                field: None,
                detail: describe_t(t),
            });
        }
    }
    r.differences.sort_by_key(|d| (d.packet, d.kind));
    r
}

/// Captures to compare, as (path, label): the label is `captures/...` for the
/// repository's own and `public/...` for the shared public ones.
fn all_captures() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let mut v = Vec::new();
    let own = root.join("captures");
    for p in find_captures(&own) {
        let rel = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
        v.push((p, rel));
    }
    if let Some(public) = public_captures_dir() {
        for p in find_captures(&public) {
            let rel = p.strip_prefix(&public).unwrap_or(&p).display().to_string();
            v.push((p, format!("public/{rel}")));
        }
    }
    v
}

#[test]
fn frames_agree_with_tshark() {
    if !support::require_wireshark_tool("tshark") {
        return;
    }
    let root = repo_root();
    let defects = load_defects(&root.join(DEFECTS));
    let captures = all_captures();
    assert!(
        !captures.is_empty(),
        "no capture found under {}/captures nor ../shared/captures/public: nothing to compare",
        root.display()
    );
    println!("{}", support::tshark_version());

    // Two workers: tshark is slow to start, the captures are small.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<FileResult>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, label)) = captures.get(i) else {
                        break;
                    };
                    let r = run_file(path, label);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| a.label.cmp(&b.label));

    let mut failures = Vec::new();
    let mut used = vec![0usize; defects.len()];
    // Packets of each defect that still differ.
    let mut hit: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); defects.len()];
    let (mut total_cmp, mut total_w, mut total_t, mut total_diff) = (0, 0, 0, 0);
    for r in &results {
        total_cmp += r.compared;
        total_w += r.wsprobe_frames;
        total_t += r.tshark_frames;
        total_diff += r.differences.len();
        let mut line = format!(
            "{}: wsprobe {} frames, tshark {} frames, {} compared, {} differences",
            r.label,
            r.wsprobe_frames,
            r.tshark_frames,
            r.compared,
            r.differences.len()
        );
        if !r.modes.is_empty() {
            let _ = write!(line, " (tshark: {})", r.modes.join("; "));
        }
        println!("{line}");
        for n in &r.notes {
            println!("  note: {n}");
        }
        for e in &r.errors {
            failures.push(format!("{}: {e}", r.label));
        }
        for d in &r.differences {
            let covering: Vec<usize> = (0..defects.len()).filter(|&i| defects[i].covers(d)).collect();
            if covering.is_empty() {
                failures.push(format!("unlisted difference: {d}"));
            } else {
                let ids: Vec<&str> = covering.iter().map(|&i| defects[i].id.as_str()).collect();
                println!("  known ({}): {d}", ids.join(", "));
                for i in covering {
                    used[i] += 1;
                    hit[i].insert(d.packet);
                }
            }
        }
    }
    let labels: BTreeSet<&str> = results.iter().map(|r| r.label.as_str()).collect();
    for ((d, n), hit) in defects.iter().zip(&used).zip(&hit) {
        if *n > 0 {
            let gone: Vec<&u64> = d.packets.iter().flatten().filter(|p| !hit.contains(p)).collect();
            if !gone.is_empty() {
                failures.push(format!(
                    "listed defect {} ({}): packets {gone:?} no longer differ: remove them from {DEFECTS}",
                    d.id, d.file
                ));
            }
            continue;
        }
        if labels.contains(d.file.as_str()) {
            failures.push(format!(
                "listed defect {} ({}, {}) no longer occurs: remove it from {DEFECTS}",
                d.id,
                d.file,
                d.kind.as_str()
            ));
        } else if d.file.starts_with("public/") && public_captures_dir().is_none() {
            println!("  note: defect {} not checked: its capture is not here", d.id);
        } else {
            failures
                .push(format!("listed defect {} names {}, which is not a capture any more", d.id, d.file));
        }
    }
    println!(
        "total: {} captures, wsprobe {total_w} frames, tshark {total_t} frames, {total_cmp} compared, {total_diff} differences ({} listed defects)",
        results.len(),
        defects.len()
    );
    assert!(
        failures.is_empty(),
        "wsprobe and tshark disagree ({} problems). Fix wsprobe, or list a tshark limitation or a \
         difference of convention in {DEFECTS} with its reason; remove entries that no longer occur:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
