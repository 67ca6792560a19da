//! Axtary's pure decision core.
//!
//! Canonical JSON and hashing ([`json`], [`action`]), the fact model ([`facts`]), normalizers
//! ([`normalize`]) and the policy language ([`policy`]). This crate does no I/O, reads no clock
//! and draws no randomness: time, keys and state are passed in, so everything here is
//! deterministic, fuzzable and auditable on its own.

pub mod action;
pub mod checkpoint;
pub mod claude_code;
pub mod decision;
pub mod export;
pub mod facts;
pub mod hex;
pub mod json;
pub mod jsonrpc;
pub mod ledger;
pub mod merkle;
pub mod normalize;
pub mod pass;
pub mod policy;

pub use action::{Action, ActionHash, ActionRequest};
pub use facts::{Fact, Facts};
