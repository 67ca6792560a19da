//! Normalizers: provider-specific requests in, provider-neutral [`Action`]s with facts out.

pub mod secrets;
pub mod shell;
pub mod sql;
