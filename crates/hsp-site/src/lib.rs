//! The static website of a registry's catalogue.
//!
//! [`render`] turns a [`SiteInput`] (the registry's parsed files) into plain files:
//! a home page with client-side search and filters, a page per service, version,
//! interface and publisher, documentation pages, an SVG dependency graph on every
//! version page. Templates and assets are embedded in the binary (a registry may
//! override templates and set a logo and colour); pages are rendered in parallel.
//!
//! - [`input`]: what the caller gives.
//! - [`catalogue`]: services with versions newest first, providers and consumers of
//!   every interface, which services can satisfy each requirement.
//! - [`pages`]: the list of pages and the data of each (no I/O).
//! - [`graph`]: the dependency graph SVG.
//! - [`paths`]: where each page lives.
//! - [`docs`]: documentation pages, the reference generated from the JSON Schemas.
//! - [`search`]: the compact search data.
//! - [`serve`]: the file a URL names, for `hsp serve`.
//! - [`render`](mod@render): Tera, rayon and file writing.
//!
//! **Invariant:** pages use relative links only, to files (never a folder), so the
//! site works from `file://`, any folder and any static server.
//! **Invariant:** no page loads anything from another origin (no fonts, scripts or CDNs).
//! **Invariant:** the same input renders the same bytes (no clocks, no hash order).

pub mod catalogue;
pub mod docs;
pub mod error;
pub mod graph;
pub mod input;
pub mod pages;
pub mod paths;
pub mod render;
pub mod search;
pub mod serve;

pub use error::Error;
pub use input::{DocumentInput, PublisherInput, SiteInput};
pub use render::{render, RenderReport};
