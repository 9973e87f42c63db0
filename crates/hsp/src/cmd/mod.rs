//! One module per subcommand, each with `Args` and `run`.

pub mod build;
pub mod check;
pub mod init;
pub mod keygen;
pub mod mirror;
pub mod pin;
pub mod root;
pub mod schema;
pub mod serve;
pub mod sign;
pub mod timestamp;

/// `""` for one, `"s"` for any other count.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
