//! One module per subcommand, each with `Args` and `run`.

pub mod build;
pub mod check;
pub mod init;
pub mod keygen;
pub mod root;
pub mod schema;
pub mod serve;
pub mod sign;
pub mod timestamp;
