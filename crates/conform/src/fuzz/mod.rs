//! `wsprobe fuzz`: structure-aware, black-box fuzzing of a live WebSocket server.
//!
//! Inputs are sequences of frames and pauses ([`input`]), seeded from the catalog's
//! cases and mutated (fragmentation anywhere, control frames between fragments, header
//! bits, reserved opcodes, unmasked frames, payload lengths and their encodings, close
//! codes and reasons, UTF-8 sequences split across frames, TCP writes cut inside
//! headers, pauses, request headers). Each
//! input becomes a catalog case with what RFC 6455 says a conformant echo server must
//! do ([`model`]), is run by the same runner and judged by the same verdicts as `wsprobe
//! test`, then classified ([`oracle`]). Without coverage from the target, the search
//! keeps the inputs whose outcome has a signature not seen before. Findings are
//! minimized, confirmed three times and written as case files that `wsprobe test
//! --catalog DIR/findings` replays.

pub mod input;
pub mod model;
pub mod oracle;

use crate::catalog::{Case, Catalog, parse_file};
use crate::runner::{self, CaseRun, RunOptions};
use crate::verdict::{self, Verdict};
use input::Input;
use oracle::{Class, Oracle};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wsprobe_wire::Rule;
use wsprobe_wire::xorshift::Xorshift;

/// What a fuzzing run is asked to do.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// Target and transport (as for `wsprobe test`).
    pub opts: RunOptions,
    /// Seed of every random choice.
    pub seed: u64,
    /// Stop after this many executions.
    pub iterations: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Inputs run at once.
    pub jobs: usize,
    /// Seconds the tester waits for what must come (scaled by the time scale).
    pub timer: f64,
    /// Executions to confirm a finding with (all must reproduce it).
    pub confirm: u32,
    /// Stop once this many findings are made.
    pub max_findings: Option<usize>,
}

/// One finding, minimized.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Which oracle.
    pub oracle: Oracle,
    /// The rule, for a violation or a contradiction.
    pub rule: Option<Rule>,
    /// What happened, in words.
    pub detail: String,
    /// The minimized input.
    pub input: Input,
    /// The case file text (TOML) that replays it.
    pub case: String,
    /// Confirmations that reproduced it.
    pub reproduced: u32,
    /// Of how many.
    pub confirmations: u32,
    /// Execution at which it was first seen.
    pub at: u64,
}

impl Finding {
    /// `crash`, `violation-frame.rsv-unnegotiated`...: the file name's stem.
    pub fn name(&self) -> String {
        match self.rule {
            Some(r) => format!("{}-{}", self.oracle.as_str(), r.id()),
            None => self.oracle.as_str().to_string(),
        }
    }
}

/// Where a run stands (for a progress display).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Inputs run so far (seeds, mutations, minimization and confirmation runs).
    pub executions: u64,
    /// Distinct outcome signatures.
    pub behaviours: usize,
    /// Findings so far.
    pub findings: usize,
    /// Inputs kept for mutation.
    pub corpus: usize,
    /// Time since the start.
    pub elapsed: Duration,
}

impl Progress {
    /// Brings the counts up to date.
    fn tally(&mut self, behaviours: usize, findings: usize, corpus: usize, start: Instant) {
        (self.behaviours, self.findings, self.corpus) = (behaviours, findings, corpus);
        self.elapsed = start.elapsed();
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct FuzzReport {
    /// The final counts.
    pub progress: Progress,
    /// Findings in the order they were found.
    pub findings: Vec<Finding>,
    /// Inputs not run because conformant servers may rightly differ on them.
    pub ambiguous: u64,
    /// Why the run stopped early (the target stopped answering), if it did.
    pub stopped: Option<String>,
}

impl FuzzReport {
    /// Executions per second.
    pub fn rate(&self) -> f64 {
        self.progress.executions as f64 / self.progress.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One input run and judged.
struct Outcome {
    class: Class,
    signature: u64,
}

/// The catalog cases the fuzzer starts from: every one it can carry (categories 1-7,
/// 10 and wsprobe's own frame cases), as inputs.
pub fn seeds() -> Vec<Input> {
    Catalog::builtin().cases.iter().filter_map(Input::from_case).collect()
}

/// The case an input runs as.
fn case_of(input: &Input, timer: f64) -> Option<Case> {
    let text = model::case_toml(input, "F", "F.1", "fuzz input", &[], timer);
    parse_file("fuzz", &text).ok()?.pop()
}

async fn execute(input: &Input, opts: &RunOptions, timer: f64) -> Option<Outcome> {
    let e = model::expect(input);
    if e.ambiguous {
        return None;
    }
    let case = case_of(input, timer)?;
    let run: CaseRun = runner::run_case(&case, opts).await;
    let v: Verdict = verdict::judge(&case, &run.observed);
    let class = oracle::classify(&e, &run.observed, &v);
    let signature = oracle::signature(&class, &run, &v);
    Some(Outcome { class, signature })
}

/// The liveness probe's case: a Ping, its Pong, a clean close within `timer` seconds.
fn liveness_case(timer: f64) -> Result<Case, String> {
    let ping = hex::encode(model::LIVENESS);
    let text = format!(
        "category = \"F\"\ntitle = \"wsprobe fuzz liveness\"\n[[case]]\nid = \"F.0\"\ntitle = \"liveness\"\nrules = [\"ping.unanswered\"]\n\
         send = [\"PING[0x{ping}]\", \"close-after {timer}s\"]\nok = [\"PONG(0x{ping})\"]\n\
         close = {{ by = \"tester\", codes = [1000], clean = true }}\npongs_apart = true\n"
    );
    parse_file("liveness", &text).map_err(|e| e.to_string())?.pop().ok_or_else(|| "no case".into())
}

/// The liveness probe: a fresh connection (handshake), a Ping answered, a clean close.
/// A refused connection is a crash; a handshake or Ping left unanswered, a hang.
async fn alive(case: &Case, opts: &RunOptions, timer: f64) -> Result<(), (Oracle, String)> {
    let run = runner::run_case(case, opts).await;
    let o = &run.observed;
    if !o.established {
        let why = o.connect_error.clone().unwrap_or_else(|| "no WebSocket connection".into());
        let oracle = match o.response_failure {
            Some(verdict::ResponseFailure::TimedOut) => Oracle::Hang,
            _ => Oracle::Crash,
        };
        return Err((oracle, format!("a fresh handshake failed: {why}")));
    }
    if !o.received.iter().any(|r| matches!(r, verdict::Received::Pong(p) if p == model::LIVENESS)) {
        return Err((Oracle::Hang, format!("no Pong within {timer} s on a fresh connection")));
    }
    Ok(())
}

/// Runs one input against the target and judges it (`None`: conformant servers may
/// rightly differ on it, not run).
pub async fn run_input(input: &Input, opts: &RunOptions, timer: f64) -> Option<Class> {
    execute(input, opts, timer).await.map(|o| o.class)
}

/// Results between two liveness probes (at least; `jobs` if that is more).
const PROBE_EVERY: usize = 16;

/// Runs the fuzzer. `progress` is called after every liveness probe.
///
/// `jobs` inputs are in flight at once and their results are taken in the order the
/// inputs were made: input `k` is made once the result of input `k - jobs` is in, so
/// the run is the same for a seed and a target behaviour however the executions
/// interleave, and a slow execution holds back only the inputs made after it.
pub async fn fuzz(cfg: &FuzzConfig, mut progress: impl FnMut(&Progress)) -> FuzzReport {
    let start = Instant::now();
    let mut rng = Xorshift::new(cfg.seed);
    let mut corpus = seeds();
    // Seeds run first.
    let mut pending: Vec<Input> = corpus.clone();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut found: BTreeSet<(Oracle, Option<Rule>)> = BTreeSet::new();
    let mut report =
        FuzzReport { progress: Progress::default(), findings: Vec::new(), ambiguous: 0, stopped: None };
    let timer = cfg.timer * cfg.opts.time_scale;
    let jobs = cfg.jobs.max(1);
    let mut in_flight: VecDeque<(Input, tokio::task::JoinHandle<Option<Outcome>>)> = VecDeque::new();
    // The liveness probe (and the progress report) every this many results.
    let probe_every = jobs.max(PROBE_EVERY);
    let liveness = liveness_case(timer);
    let mut since_probe = 0;
    loop {
        let findings_full = cfg.max_findings.is_some_and(|n| report.findings.len() >= n);
        let out_of_time = cfg.duration.is_some_and(|d| start.elapsed() >= d);
        while in_flight.len() < jobs
            && !findings_full
            && !out_of_time
            && cfg.iterations.is_none_or(|n| report.progress.executions + (in_flight.len() as u64) < n)
        {
            let input = match pending.pop() {
                Some(s) => s,
                None => {
                    let other = rng.index(corpus.len());
                    corpus[rng.index(corpus.len())].mutate(&mut rng, &corpus[other])
                }
            };
            let (i, opts) = (input.clone(), cfg.opts.clone());
            in_flight.push_back((input, tokio::spawn(async move { execute(&i, &opts, timer).await })));
        }
        let Some((input, handle)) = in_flight.pop_front() else { break };
        let outcome = handle.await.ok().flatten();
        report.progress.executions += 1;
        match outcome {
            None => report.ambiguous += 1,
            Some(o) => {
                if seen.insert(o.signature) {
                    corpus.push(input.clone());
                }
                let room = cfg.max_findings.is_none_or(|n| report.findings.len() < n);
                if let Class::Finding { oracle, rule, detail } = o.class
                    && room
                    && found.insert((oracle, rule))
                {
                    let at = report.progress.executions;
                    let f = minimize(
                        cfg,
                        &input,
                        oracle,
                        rule,
                        detail,
                        at,
                        &mut report.progress.executions,
                        timer,
                    )
                    .await;
                    report.findings.push(f);
                }
            }
        }
        since_probe += 1;
        if since_probe < probe_every && !in_flight.is_empty() {
            continue;
        }
        since_probe = 0;
        report.progress.tally(seen.len(), report.findings.len(), corpus.len(), start);
        progress(&report.progress);
        // Liveness: the target still completes a fresh handshake and answers a Ping.
        let probe = match &liveness {
            Ok(case) => alive(case, &cfg.opts, timer).await,
            Err(e) => Err((Oracle::Hang, format!("the liveness case: {e}"))),
        };
        if let Err((oracle, e)) = probe {
            let why = format!("the target stopped answering: {e}");
            if !found.contains(&(oracle, None)) {
                let case = model::case_toml(&input, "F", "F.1", oracle.as_str(), &[], timer);
                report.findings.push(Finding {
                    oracle,
                    rule: None,
                    detail: format!("{why} (the last input before the probe is kept)"),
                    input,
                    case,
                    reproduced: 0,
                    confirmations: 0,
                    at: report.progress.executions,
                });
            }
            report.stopped = Some(why);
            break;
        }
    }
    for (_, h) in in_flight {
        h.abort();
    }
    report.progress.tally(seen.len(), report.findings.len(), corpus.len(), start);
    report
}

/// What `input` gives now, when it is the same finding: its detail.
async fn reproduces(
    input: &Input,
    cfg: &FuzzConfig,
    oracle: Oracle,
    rule: Option<Rule>,
    timer: f64,
    executions: &mut u64,
) -> Option<String> {
    *executions += 1;
    match execute(input, &cfg.opts, timer).await {
        Some(Outcome { class: Class::Finding { oracle: o, rule: r, detail }, .. })
            if o == oracle && r == rule =>
        {
            Some(detail)
        }
        _ => None,
    }
}

/// Drops and simplifies steps while the finding still reproduces, then confirms it.
#[allow(clippy::too_many_arguments)]
async fn minimize(
    cfg: &FuzzConfig,
    input: &Input,
    oracle: Oracle,
    rule: Option<Rule>,
    detail: String,
    at: u64,
    executions: &mut u64,
    timer: f64,
) -> Finding {
    let mut best = input.clone();
    let mut detail = detail;
    let mut tries = 0;
    'outer: while tries < 400 {
        for c in best.simpler() {
            tries += 1;
            if let Some(d) = reproduces(&c, cfg, oracle, rule, timer, executions).await {
                best = c;
                detail = d;
                continue 'outer;
            }
        }
        break;
    }
    let mut reproduced = 0;
    for _ in 0..cfg.confirm {
        if reproduces(&best, cfg, oracle, rule, timer, executions).await.is_some() {
            reproduced += 1;
        }
    }
    let rules: Vec<Rule> = rule.into_iter().collect();
    let case = model::case_toml(&best, "F", "F.1", &format!("{}: {detail}", oracle.as_str()), &rules, timer);
    Finding { oracle, rule, detail, input: best, case, reproduced, confirmations: cfg.confirm, at }
}

/// Writes `DIR/findings/NAME.toml` per finding (category `F<n>`, case `F<n>.1`) and
/// `DIR/summary.json`; returns the files written.
pub fn write_findings(
    dir: &std::path::Path,
    report: &FuzzReport,
    cfg: &FuzzConfig,
) -> Result<Vec<PathBuf>, String> {
    let fdir = dir.join("findings");
    std::fs::create_dir_all(&fdir).map_err(|e| format!("{}: {e}", fdir.display()))?;
    let mut files = Vec::new();
    let mut summary = Vec::new();
    for (n, f) in report.findings.iter().enumerate() {
        let cat = format!("F{}", n + 1);
        let text = f
            .case
            .replace("category = \"F\"", &format!("category = \"{cat}\""))
            .replace("id = \"F.1\"", &format!("id = \"{cat}.1\""));
        let path = fdir.join(format!("{}.toml", f.name()));
        let head = format!(
            "# wsprobe fuzz finding: {} (seed {}, execution {}; reproduced {}/{} after minimization)\n# {}\n",
            f.name(),
            cfg.seed,
            f.at,
            f.reproduced,
            f.confirmations,
            f.detail
        );
        std::fs::write(&path, format!("{head}{text}")).map_err(|e| format!("{}: {e}", path.display()))?;
        summary.push(serde_json::json!({
            "file": path.strip_prefix(dir).unwrap_or(&path).display().to_string(),
            "id": format!("{cat}.1"),
            "oracle": f.oracle.as_str(),
            "rule": f.rule.map(|r| r.id()),
            "detail": f.detail,
            "steps": f.input.steps(),
            "reproduced": f.reproduced,
            "confirmations": f.confirmations,
            "execution": f.at,
        }));
        files.push(path);
    }
    let json = serde_json::json!({
        "target": cfg.opts.target.url(),
        "seed": cfg.seed,
        "executions": report.progress.executions,
        "seconds": report.progress.elapsed.as_secs_f64(),
        "executions_per_second": report.rate(),
        "behaviours": report.progress.behaviours,
        "ambiguous_inputs_skipped": report.ambiguous,
        "stopped": report.stopped,
        "findings": summary,
    });
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_case_parses() {
        let case = liveness_case(1.5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((case.send.len(), case.ok.len()), (2, 1));
        assert!(case.pongs_apart && case.close.by_tester && case.close.codes == [1000]);
    }
}
