//! One module per subcommand, each with `Args` and `run`.

pub mod export;
pub mod plan;
pub mod schema;
