//! One module per subcommand.

pub mod approvals;
pub mod decide;
pub mod init;
pub mod normalize;
pub mod policy;
