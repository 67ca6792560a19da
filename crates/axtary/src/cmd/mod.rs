//! One module per subcommand.

pub mod approvals;
pub mod decide;
pub mod hook;
pub mod init;
pub mod install;
pub mod install_mcp;
pub mod keys;
pub mod ledger;
pub mod mcp;
pub mod mcp_serve;
pub mod normalize;
pub mod pass;
pub mod policy;
pub mod run;
pub mod secrets;
pub mod serve;
