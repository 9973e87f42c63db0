//! `hsp-agent`'s TUF client: python-tuf's attack scenarios and a real build of
//! the example registry.

mod attacks;
mod index;
