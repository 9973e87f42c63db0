//! `hsp-agent apply` on the Docker and host drivers, systemd mode, and
//! `apply ENV` against a signed index.

mod apply_env;
mod docker;
mod expired;
mod externals;
mod host;
mod hostile;
mod mirror;
mod systemd;
