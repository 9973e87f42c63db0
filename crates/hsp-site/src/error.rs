//! Errors of a site render.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{what} {name:?} cannot be used in a page path (hint: `hsp check` rejects such names)"
    )]
    UnsafeName { what: &'static str, name: String },
    #[error("service {id} has version {version} twice")]
    DuplicateVersion { id: String, version: String },
    #[error(
        "registry.json: site.primary_colour {0:?} is not a CSS colour (hint: e.g. \"#0b5394\")"
    )]
    Colour(String),
    #[error("registry.json: site.logo {path}: only .png, .svg, .jpg, .jpeg, .webp and .gif logos are supported")]
    LogoType { path: PathBuf },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name}")]
    Template {
        name: String,
        #[source]
        source: tera::Error,
    },
    #[error("rendering {page} with template {template}")]
    Render {
        page: String,
        template: String,
        #[source]
        source: tera::Error,
    },
}
