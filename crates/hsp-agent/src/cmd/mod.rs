//! One module per subcommand, each with `Args` and `run`.

pub mod apply;
pub mod export;
pub mod init;
pub mod plan;
pub mod retry;
pub mod run;
pub mod schema;
pub mod search;
pub mod show;
pub mod status;
pub mod supervise;
pub mod tuf;
