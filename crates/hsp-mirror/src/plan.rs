//! `hsp mirror --env ENV`: only the images and artifacts an environment
//! resolves to. The environment is planned (the agent's planner, PubGrub)
//! against the mirrored index, read back verified, as if nothing were
//! deployed yet; what the plan's tasks name is what the site will pull.

use std::path::Path;

use hsp_index::api::{interface_path, service_path, InterfaceIndex, ServiceIndex};
use hsp_index::document::{Artifact, Document};
use hsp_index::image::ImageRef;
use hsp_index::registry::document_target_path;
use hsp_planner::{IndexSource, SourceError};

use crate::index::Mirrored;

/// The mirrored index as the planner's source.
struct Source<'a> {
    mirrored: &'a Mirrored,
    out: &'a Path,
}

impl Source<'_> {
    fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, SourceError> {
        if !self.mirrored.targets.contains_key(path) {
            return Ok(None);
        }
        let bytes = self.mirrored.read_target(self.out, path)?;
        Ok(Some(
            serde_json::from_slice(&bytes).map_err(|e| format!("target {path}: {e}"))?,
        ))
    }
}

/// Ids and versions are one path segment.
fn plain(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && s != "." && s != ".."
}

impl IndexSource for Source<'_> {
    fn service(&self, id: &str) -> Result<Option<ServiceIndex>, SourceError> {
        if !plain(id) {
            return Ok(None);
        }
        self.json(&service_path(id))
    }

    fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, SourceError> {
        if !plain(id) {
            return Ok(None);
        }
        self.json(&interface_path(id))
    }

    fn document(&self, id: &str, version: &str) -> Result<Document, SourceError> {
        if !plain(id) || !plain(version) {
            return Err(format!("no document for {id} {version}").into());
        }
        self.json(&document_target_path(id, version))?
            .ok_or_else(|| format!("the index has no document for {id} {version}").into())
    }
}

/// The images and artifacts of the plan of environment file `env`.
pub fn named_by_environment(
    mirrored: &Mirrored,
    out: &Path,
    env: &Path,
) -> Result<(Vec<ImageRef>, Vec<Artifact>), String> {
    let loaded = hsp_planner::read_environment(env).map_err(|e| e.to_string())?;
    let source = Source { mirrored, out };
    let plan = hsp_planner::plan(&loaded.env, &source, &hsp_planner::Deployed::default()).map_err(
        |e| {
            format!(
                "{}: cannot be planned against the index: {e}",
                env.display()
            )
        },
    )?;
    let tasks = plan.instances.iter().flat_map(|i| &i.tasks);
    let images = tasks
        .clone()
        .filter_map(|t| ImageRef::parse(&t.image))
        .collect();
    let artifacts = tasks.flat_map(|t| t.artifacts.clone()).collect();
    Ok((images, artifacts))
}
