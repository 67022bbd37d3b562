//! The conformance catalog: case files under `cases/` (one TOML file per category),
//! loaded into [`Case`]s. A bad case file is reported with its file name and line.

use crate::steps::{self, ExpectedRun, Step};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;
use wsprobe_wire::Rule;

/// wsprobe's own client cases (`wsprobe serve` only).
pub const CLIENT_CASES: (&str, &str) =
    ("wsprobe/C-client.toml", include_str!("../../../cases/wsprobe/C-client.toml"));

/// The catalog compiled into the binary: `(file name, contents)` of every case file.
pub const BUILTIN: &[(&str, &str)] = &[
    ("autobahn/1-framing.toml", include_str!("../../../cases/autobahn/1-framing.toml")),
    ("autobahn/2-pings-pongs.toml", include_str!("../../../cases/autobahn/2-pings-pongs.toml")),
    ("autobahn/3-reserved-bits.toml", include_str!("../../../cases/autobahn/3-reserved-bits.toml")),
    ("autobahn/4-opcodes.toml", include_str!("../../../cases/autobahn/4-opcodes.toml")),
    ("autobahn/5-fragmentation.toml", include_str!("../../../cases/autobahn/5-fragmentation.toml")),
    ("autobahn/6-utf8.toml", include_str!("../../../cases/autobahn/6-utf8.toml")),
    ("autobahn/7-close.toml", include_str!("../../../cases/autobahn/7-close.toml")),
    ("autobahn/9-limits-performance.toml", include_str!("../../../cases/autobahn/9-limits-performance.toml")),
    ("autobahn/10-misc.toml", include_str!("../../../cases/autobahn/10-misc.toml")),
    (
        "autobahn/12-compression-payloads.toml",
        include_str!("../../../cases/autobahn/12-compression-payloads.toml"),
    ),
    (
        "autobahn/13-compression-parameters.toml",
        include_str!("../../../cases/autobahn/13-compression-parameters.toml"),
    ),
    ("wsprobe/H-handshake.toml", include_str!("../../../cases/wsprobe/H-handshake.toml")),
    ("wsprobe/M-masking.toml", include_str!("../../../cases/wsprobe/M-masking.toml")),
    ("wsprobe/P-permessage-deflate.toml", include_str!("../../../cases/wsprobe/P-permessage-deflate.toml")),
    ("wsprobe/S-server-output.toml", include_str!("../../../cases/wsprobe/S-server-output.toml")),
];

/// A case file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Bad content, with its place.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// Case file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Who is expected to start the closing handshake, and how it must end (Autobahn's
/// `expectedClose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseExpect {
    /// The tester closes (true) or the target must fail/close first (false).
    pub by_tester: bool,
    /// Close codes the target may send (none at all is always accepted).
    pub codes: Vec<u16>,
    /// Whether a clean closing handshake is required.
    pub clean: bool,
}

/// What the opening handshake of a case must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeExpect {
    /// `101`, then the steps run.
    Accept,
    /// Anything but `101` (the request is invalid).
    Reject,
}

/// What a case needs of permessage-deflate (RFC 7692).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PmdUse {
    /// Nothing offered unless `offer` says so; either answer is fine.
    #[default]
    Optional,
    /// The case is about compression: if the target declines the offer, the case is
    /// UNIMPLEMENTED (as in Autobahn) and the tester just closes.
    Required,
}

/// One edit of the default opening handshake request (H cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEdit {
    /// `omit NAME`: leave a standard header out.
    Omit(String),
    /// `set NAME: VALUE`: give a standard header another value.
    Set(String, String),
    /// `add NAME: VALUE`: append a header field (repeats allowed).
    Add(String, String),
    /// `method M`.
    Method(String),
    /// `http-version HTTP/1.0`.
    HttpVersion(String),
}

/// One conformance case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Id, e.g. `1.1.1` or `H.2`.
    pub id: String,
    /// Category (the first id component).
    pub category: String,
    /// Category title.
    pub category_title: String,
    /// What the case is about.
    pub title: String,
    /// Rules it checks.
    pub rules: Vec<Rule>,
    /// Request edits (handshake cases).
    pub request: Vec<RequestEdit>,
    /// Request edits as written.
    pub request_text: Vec<String>,
    /// Edits of the server's 101 answer (client cases of `wsprobe serve`: `omit`, `set`,
    /// `add` of a header).
    pub response: Vec<RequestEdit>,
    /// What the handshake must lead to.
    pub handshake: HandshakeExpect,
    /// Steps.
    pub send: Vec<Step>,
    /// Steps as written.
    pub send_text: Vec<String>,
    /// Events for OK.
    pub ok: Vec<ExpectedRun>,
    /// Events as written.
    pub ok_text: Vec<String>,
    /// Events for NON-STRICT, if that outcome exists.
    pub non_strict: Option<Vec<ExpectedRun>>,
    /// Events as written.
    pub non_strict_text: Option<Vec<String>>,
    /// Close expectations.
    pub close: CloseExpect,
    /// Autobahn's `closedByWrongEndpointIsFatal`: if the tester had to close, the behavior is FAILED.
    pub tester_close_fails: bool,
    /// Pongs are matched on their own: the other events in order, the Pongs in order,
    /// but a Pong may come before or after an echo (`pongs_apart = true`; an echo is the
    /// server's application answering, a Pong its library: RFC 6455 orders neither).
    pub pongs_apart: bool,
    /// A WRONG CODE close verdict makes the behavior FAILED.
    pub wrong_code_fails: bool,
    /// The outcome is only informational.
    pub informational: bool,
    /// A performance/limits case (category 9).
    pub performance: bool,
    /// The `Sec-WebSocket-Extensions` offer sent (`offer = "permessage-deflate; ..."`).
    pub offer: Option<String>,
    /// What the case needs of permessage-deflate.
    pub pmd: PmdUse,
    /// Client cases (`wsprobe serve`): the permessage-deflate answers the server tries
    /// in turn (`accept = ["client_no_context_takeover; client_max_window_bits=9", ""]`);
    /// the first one the client's offer allows is given. Empty: the offer's defaults
    /// when `pmd` is required, no compression otherwise.
    pub accept: Vec<wsprobe_wire::deflate::ServerAsk>,
    /// Where it is defined.
    pub file: String,
    /// Line of its id.
    pub line: usize,
}

impl Case {
    /// Largest payload any expected event compares byte by byte (what must be kept of
    /// a received message to judge it).
    pub fn keep_bytes(&self) -> usize {
        let exact = self
            .outcomes()
            .map(|r| match &r.event {
                steps::Expected::Text(m)
                | steps::Expected::Binary(m)
                | steps::Expected::Ping(m)
                | steps::Expected::Pong(m) => m.keep(),
                steps::Expected::StillOpen(_) => 0,
            })
            .max()
            .unwrap_or(0);
        if !self.checks_echo() {
            return exact;
        }
        let sent = self.send.iter().map(|s| match s {
            Step::Message { payload, .. } => payload.len(),
            Step::Frame(f) => f.payload.len(),
            _ => 0,
        });
        sent.max().unwrap_or(0).max(exact)
    }

    /// Every expected event of the OK and NON-STRICT lists.
    fn outcomes(&self) -> impl Iterator<Item = &ExpectedRun> {
        self.ok.iter().chain(self.non_strict.iter().flatten())
    }

    /// Whether an outcome expects a Ping from the target.
    pub fn expects_ping(&self) -> bool {
        self.outcomes().any(|r| matches!(r.event, steps::Expected::Ping(_)))
    }

    /// Whether an expected event is `echo` (the runner then remembers what it sent).
    pub fn checks_echo(&self) -> bool {
        self.outcomes().any(|r| {
            matches!(
                &r.event,
                steps::Expected::Text(steps::Match::Echo) | steps::Expected::Binary(steps::Match::Echo)
            )
        })
    }

    /// Total bytes of the messages and frames it sends (an upper bound).
    pub fn send_bytes(&self) -> u64 {
        let mut total = 0u64;
        let mut last = 0u64;
        for s in &self.send {
            match s {
                Step::Frame(f) => last = f.payload.len() as u64,
                Step::Message { payload, .. } => last = payload.len() as u64,
                Step::FrameData(p) => last = p.len() as u64,
                Step::RepeatAfterEcho(n) => last *= u64::from(*n).saturating_sub(1),
                _ => last = 0,
            }
            total += last;
        }
        total
    }

    /// Number of expected events of the OK outcome.
    pub fn ok_len(&self) -> usize {
        self.ok.iter().map(|r| r.count as usize).sum()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaw {
    category: String,
    title: String,
    #[serde(default, rename = "case")]
    cases: Vec<CaseRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseRaw {
    by: String,
    codes: Vec<u16>,
    clean: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRaw {
    id: Spanned<String>,
    title: String,
    rules: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    request: Vec<Spanned<String>>,
    #[serde(default)]
    response: Vec<Spanned<String>>,
    #[serde(default)]
    handshake: Option<Spanned<String>>,
    #[serde(default)]
    send: Vec<Spanned<String>>,
    #[serde(default)]
    ok: Vec<Spanned<String>>,
    #[serde(default)]
    non_strict: Option<Vec<Spanned<String>>>,
    close: Option<Spanned<CloseRaw>>,
    #[serde(default)]
    tester_close_fails: bool,
    #[serde(default)]
    pongs_apart: bool,
    #[serde(default)]
    wrong_code_fails: bool,
    #[serde(default)]
    informational: bool,
    #[serde(default)]
    performance: bool,
    #[serde(default)]
    offer: Option<String>,
    #[serde(default)]
    pmd: Option<Spanned<String>>,
    #[serde(default)]
    accept: Vec<Spanned<String>>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

const STD_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "origin",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-version",
    "sec-websocket-accept",
];

fn parse_request_edit(s: &str) -> Result<RequestEdit, String> {
    let s = s.trim();
    let (verb, rest) = s.split_once(' ').ok_or_else(|| format!("{s:?}: expected VERB ARGUMENT"))?;
    let rest = rest.trim();
    let header = |rest: &str| -> Result<(String, String), String> {
        let (n, v) = rest.split_once(':').ok_or_else(|| format!("{s:?}: expected NAME: VALUE"))?;
        Ok((n.trim().to_owned(), v.trim().to_owned()))
    };
    let std_name = |n: &str| -> Result<(), String> {
        if STD_HEADERS.contains(&n.to_ascii_lowercase().as_str()) {
            Ok(())
        } else {
            Err(format!("{s:?}: {n} is not a standard handshake header (use add for others)"))
        }
    };
    match verb {
        "omit" => {
            std_name(rest)?;
            Ok(RequestEdit::Omit(rest.to_owned()))
        }
        "set" => {
            let (n, v) = header(rest)?;
            std_name(&n)?;
            Ok(RequestEdit::Set(n, v))
        }
        "add" => {
            let (n, v) = header(rest)?;
            Ok(RequestEdit::Add(n, v))
        }
        "method" => Ok(RequestEdit::Method(rest.to_owned())),
        "http-version" => Ok(RequestEdit::HttpVersion(rest.to_owned())),
        _ => Err(format!("{s:?}: unknown request edit {verb:?} (omit, set, add, method, http-version)")),
    }
}

fn parse_case(
    file: &str,
    src: &str,
    category: &str,
    category_title: &str,
    raw: CaseRaw,
) -> Result<Case, CatalogError> {
    let err = |span: std::ops::Range<usize>, message: String| CatalogError::Invalid {
        file: file.to_owned(),
        line: line_of(src, span.start),
        message,
    };
    let id = raw.id.get_ref().clone();
    let id_span = raw.id.span();
    let ok_id = !id.is_empty()
        && id.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !ok_id {
        return Err(err(id_span, format!("case id {id:?} must be dot-separated alphanumeric parts")));
    }
    let cat = id.split('.').next().unwrap_or_default().to_owned();
    if cat != category {
        return Err(err(id_span, format!("case {id} is in the file of category {category}")));
    }
    let mut rules = Vec::new();
    for r in raw.rules.get_ref() {
        match Rule::from_id(r.get_ref()) {
            Some(rule) => rules.push(rule),
            None => {
                return Err(err(r.span(), format!("case {id}: unknown rule id {:?}", r.get_ref())));
            }
        }
    }
    if rules.is_empty() {
        return Err(err(raw.rules.span(), format!("case {id}: rules must name at least one rule")));
    }
    let mut send = Vec::new();
    for s in &raw.send {
        send.push(steps::parse_step(s.get_ref()).map_err(|m| err(s.span(), format!("case {id}: {m}")))?);
    }
    if let Some(i) = send.iter().position(|s| matches!(s, Step::RepeatAfterEcho(_))) {
        let prev = send[..i].iter().rev().find(|s| !matches!(s, Step::FailAfter(_) | Step::CloseAfter(_)));
        if !matches!(prev, Some(Step::Frame(_) | Step::Message { .. })) {
            return Err(err(
                raw.send[i].span(),
                format!("case {id}: repeat-after-echo must follow a message"),
            ));
        }
    }
    let parse_list = |list: &[Spanned<String>]| -> Result<Vec<ExpectedRun>, CatalogError> {
        list.iter()
            .map(|e| steps::parse_expected(e.get_ref()).map_err(|m| err(e.span(), format!("case {id}: {m}"))))
            .collect()
    };
    let ok = parse_list(&raw.ok)?;
    let non_strict = raw.non_strict.as_deref().map(parse_list).transpose()?;
    let mut request = Vec::new();
    for r in &raw.request {
        request.push(parse_request_edit(r.get_ref()).map_err(|m| err(r.span(), format!("case {id}: {m}")))?);
    }
    let mut response = Vec::new();
    for r in &raw.response {
        match parse_request_edit(r.get_ref()) {
            Ok(e @ (RequestEdit::Omit(_) | RequestEdit::Set(..) | RequestEdit::Add(..))) => response.push(e),
            Ok(_) => return Err(err(r.span(), format!("case {id}: a response edit is omit, set or add"))),
            Err(m) => return Err(err(r.span(), format!("case {id}: {m}"))),
        }
    }
    let handshake = match raw.handshake.as_ref().map(|h| (h.get_ref().as_str(), h.span())) {
        None | Some(("accept", _)) => HandshakeExpect::Accept,
        Some(("reject", _)) => HandshakeExpect::Reject,
        Some((other, span)) => {
            return Err(err(
                span,
                format!("case {id}: handshake is \"accept\" or \"reject\", not {other:?}"),
            ));
        }
    };
    let close = match raw.close {
        Some(c) => {
            let span = c.span();
            let c = c.into_inner();
            let by_tester = match c.by.as_str() {
                "tester" => true,
                "peer" => false,
                other => {
                    return Err(err(
                        span,
                        format!("case {id}: close.by is \"tester\" or \"peer\", not {other:?}"),
                    ));
                }
            };
            CloseExpect { by_tester, codes: c.codes, clean: c.clean }
        }
        None if handshake == HandshakeExpect::Reject => {
            CloseExpect { by_tester: true, codes: vec![1000], clean: false }
        }
        None => {
            return Err(err(id_span, format!("case {id}: missing close = {{ by, codes, clean }}")));
        }
    };
    let pmd = match raw.pmd.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
        None | Some(("optional", _)) => PmdUse::Optional,
        Some(("required", _)) if raw.offer.is_some() => PmdUse::Required,
        Some(("required", span)) => {
            return Err(err(span, format!("case {id}: pmd = \"required\" needs an offer")));
        }
        Some((other, span)) => {
            return Err(err(span, format!("case {id}: pmd is \"required\" or \"optional\", not {other:?}")));
        }
    };
    let mut accept = Vec::new();
    for a in &raw.accept {
        let ask = wsprobe_wire::deflate::ServerAsk::parse(a.get_ref());
        accept.push(ask.map_err(|m| err(a.span(), format!("case {id}: accept: {m}")))?);
    }
    Ok(Case {
        id,
        category: cat,
        category_title: category_title.to_owned(),
        title: raw.title,
        rules,
        request,
        request_text: raw.request.iter().map(|s| s.get_ref().clone()).collect(),
        response,
        handshake,
        send,
        send_text: raw.send.iter().map(|s| s.get_ref().clone()).collect(),
        ok,
        ok_text: raw.ok.iter().map(|s| s.get_ref().clone()).collect(),
        non_strict,
        non_strict_text: raw.non_strict.map(|v| v.into_iter().map(|s| s.into_inner()).collect()),
        close,
        tester_close_fails: raw.tester_close_fails,
        pongs_apart: raw.pongs_apart,
        wrong_code_fails: raw.wrong_code_fails,
        informational: raw.informational,
        performance: raw.performance,
        offer: raw.offer,
        pmd,
        accept,
        file: file.to_owned(),
        line: line_of(src, id_span.start),
    })
}

/// Parses one case file.
pub fn parse_file(file: &str, src: &str) -> Result<Vec<Case>, CatalogError> {
    let raw: FileRaw = toml::from_str(src).map_err(|e| CatalogError::Invalid {
        file: file.to_owned(),
        line: e.span().map(|s| line_of(src, s.start)).unwrap_or(1),
        message: e.message().to_owned(),
    })?;
    raw.cases.into_iter().map(|c| parse_case(file, src, &raw.category, &raw.title, c)).collect()
}

/// A loaded catalog, in id order.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Every case.
    pub cases: Vec<Case>,
}

/// Orders ids component by component, numbers numerically (`1.2` < `1.10` < `H.1`).
pub fn id_key(id: &str) -> Vec<(u8, u64, String)> {
    id.split('.')
        .map(|p| match p.parse::<u64>() {
            Ok(n) => (0, n, String::new()),
            Err(_) => (1, 0, p.to_owned()),
        })
        .collect()
}

impl Catalog {
    /// Builds a catalog from `(file name, contents)` pairs, rejecting duplicate ids.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, CatalogError> {
        let mut cases: Vec<Case> = Vec::new();
        for (file, src) in sources {
            for c in parse_file(file, src)? {
                if let Some(prev) = cases.iter().find(|p| p.id == c.id) {
                    return Err(CatalogError::Invalid {
                        file: c.file.clone(),
                        line: c.line,
                        message: format!("case {} is already defined at {}:{}", c.id, prev.file, prev.line),
                    });
                }
                cases.push(c);
            }
        }
        cases.sort_by_cached_key(|c| id_key(&c.id));
        Ok(Catalog { cases })
    }

    /// The catalog compiled into the binary.
    pub fn builtin() -> Catalog {
        Catalog::from_sources(BUILTIN.iter().copied())
            .expect("the built-in catalog is valid (checked by tests)")
    }

    /// The client catalog of `wsprobe serve`: Autobahn's categories 1-7, 9, 10, 12 and
    /// 13 (the server-to-client direction; in 12 and 13 the server answers the client's
    /// permessage-deflate offer as the case's `accept` says) and wsprobe's own client
    /// cases `C.*`.
    pub fn for_clients() -> Catalog {
        let autobahn = BUILTIN.iter().copied().filter(|(f, _)| {
            f.strip_prefix("autobahn/")
                .and_then(|n| n.split('-').next())
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= 10 || n == 12 || n == 13)
        });
        Catalog::from_sources(autobahn.chain([CLIENT_CASES]))
            .expect("the built-in client catalog is valid (checked by tests)")
    }

    /// Loads every `*.toml` file under `dir` (recursively).
    pub fn load_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let mut files = Vec::new();
        collect_toml(dir, &mut files)?;
        files.sort();
        let mut sources = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CatalogError::Io { path: f.display().to_string(), source: e })?;
            sources.push((f.display().to_string(), text));
        }
        Catalog::from_sources(sources.iter().map(|(a, b)| (a.as_str(), b.as_str())))
    }

    /// The cases whose id matches one of `include` (all if empty) and none of `exclude`.
    pub fn select(&self, include: &[String], exclude: &[String]) -> Result<Vec<Case>, String> {
        let inc = globs(include)?;
        let exc = globs(exclude)?;
        // A glob that selects nothing is almost always a typo: say so.
        for g in include.iter().flat_map(|p| p.split(',')).map(str::trim).filter(|g| !g.is_empty()) {
            let one = globs(&[g.to_string()])?;
            if !self.cases.iter().any(|c| one.is_match(&c.id)) {
                return Err(format!(
                    "--cases {g:?} matches no case (ids are case-sensitive; `wsprobe cases` lists them)"
                ));
            }
        }
        Ok(self
            .cases
            .iter()
            .filter(|c| include.is_empty() || inc.is_match(&c.id))
            .filter(|c| !exc.is_match(&c.id))
            .cloned()
            .collect())
    }
}

fn collect_toml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), CatalogError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| CatalogError::Io { path: dir.display().to_string(), source: e })?;
    for entry in rd {
        let entry = entry.map_err(|e| CatalogError::Io { path: dir.display().to_string(), source: e })?;
        let p = entry.path();
        if p.is_dir() {
            collect_toml(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Compiles case-id globs; each pattern may hold several comma-separated globs.
/// `1.*` matches category 1 only (`*` does not stop at dots, but `1.*` needs `1.`).
pub fn globs(patterns: &[String]) -> Result<globset::GlobSet, String> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns.iter().flat_map(|p| p.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .map_err(|e| format!("bad pattern {p:?}: {e}"))?;
        b.add(g);
    }
    b.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {

    #[test]
    fn client_catalog_is_autobahn_1_to_10_12_13_and_c() {
        let c = Catalog::for_clients();
        let ids: Vec<&str> = c.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.iter().filter(|i| i.starts_with("C.")).count(), 8);
        assert_eq!(ids.len(), 301 + 216 + 8);
        assert!(!ids.iter().any(|i| i.starts_with("H.") || i.starts_with("P.") || i.starts_with("8.")));
        let asking = c.cases.iter().filter(|c| !c.accept.is_empty()).count();
        assert_eq!(asking, 6 * 18, "13.2-13.7 ask something of the offer");
        assert!(c.cases.iter().any(|c| !c.response.is_empty()));
        assert!(!Catalog::builtin().cases.iter().any(|c| c.id.starts_with("C.")));
    }

    use super::*;

    #[test]
    fn builtin_catalog_loads() {
        let c = Catalog::from_sources(BUILTIN.iter().copied()).unwrap();
        let autobahn = c.cases.iter().filter(|c| c.category.parse::<u32>().is_ok()).count();
        assert_eq!(autobahn, 301 + 216);
        assert!(c.cases.iter().any(|c| c.id.starts_with("H.")));
    }

    #[test]
    fn globs_are_not_regexes() {
        let c = Catalog::builtin();
        let one = c.select(&["1.*".into()], &[]).unwrap();
        assert_eq!(one.len(), 16);
        assert!(one.iter().all(|c| c.id.starts_with("1.")));
        let some = c.select(&["2.1,2.2".into()], &["2.2".into()]).unwrap();
        assert!(c.select(&["1.*,99.*".into()], &[]).unwrap_err().contains("99.*"));
        assert_eq!(some.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["2.1"]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let src = "category = \"1\"\ntitle = \"t\"\n\n[[case]]\nid = \"1.1\"\ntitle = \"x\"\nrules = [\"no.such-rule\"]\nsend = []\nok = []\nclose = { by = \"tester\", codes = [1000], clean = true }\n";
        let e = parse_file("x.toml", src).unwrap_err().to_string();
        assert!(e.starts_with("x.toml:7:") && e.contains("no.such-rule"), "{e}");
        let bad_step =
            src.replace("send = []", "send = [\"TEXT[nope]\"]").replace("no.such-rule", "utf8.text-invalid");
        let e = parse_file("x.toml", &bad_step).unwrap_err().to_string();
        assert!(e.starts_with("x.toml:8:"), "{e}");
        let e = parse_file("y.toml", "category = 1").unwrap_err().to_string();
        assert!(e.starts_with("y.toml:1:"), "{e}");
    }
}
