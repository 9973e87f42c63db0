//! `hsp-agent`'s TUF client: python-tuf's attack scenarios, the public
//! tuf-conformance suite and a real build of the example registry.

mod attacks;
mod conformance;
mod index;
