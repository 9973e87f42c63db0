//! `hsp init`, `keygen`, `sign` and `build`: the CLI, the build cache, and the
//! output checked by python-tuf.

mod cache;
mod cli;
mod python_tuf;
