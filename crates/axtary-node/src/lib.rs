//! Axtary's local enforcement plane: the ledger store, key files, and (next) approvals, the
//! pipeline and the surfaces built on it. Everything with I/O that the pure core leaves out.

pub mod approvals;
pub mod bundle;
pub mod daemon;
pub mod home;
pub mod hook;
pub mod keys;
pub mod ledger;
pub mod mcp;
pub mod mcp_server;
pub mod passes;
pub mod pipeline;
pub mod policy_file;
pub mod record;
pub mod token;
