//! # wsprobe-conform
//!
//! `wsprobe test`: the conformance catalog (data under `cases/`, see [`catalog`]), the
//! step language it is written in ([`steps`]), the verdict logic modelled on
//! Autobahn|Testsuite ([`verdict`]), the tokio [`runner`], the built-in reference
//! [`server`] and the [`report`]s (console, Autobahn-compatible JSON, HTML, JUnit,
//! baselines).
#![forbid(unsafe_code)]

pub mod app;
pub mod catalog;
pub mod corpus;
pub mod engine;
pub mod fuzz;
pub mod report;
pub mod runner;
pub mod serve;
pub mod server;
pub mod steps;
pub mod transcript;
pub mod transport;
pub mod verdict;

pub use catalog::{Case, Catalog, CatalogError};
pub use runner::{CaseResult, RunOptions, Target, run_all};
pub use server::{Faults, ServerConfig};
pub use verdict::{Behavior, Outcome, Verdict};
