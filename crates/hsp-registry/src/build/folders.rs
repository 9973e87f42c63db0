//! What a build computes per publisher folder and keeps for the next one:
//! the service API parts and files ([`api_files`]), and the folder records
//! ([`keep_records`], see `crate::repo::scan`).

use std::collections::HashMap;

use rayon::prelude::*;

use crate::repo::RoleRecord;
use crate::summary::DocSummary;
use crate::{api, publishers};

/// Records what this build learnt of each folder for the next one (see
/// `crate::repo::scan`): the service parts computed (`new_parts`) and the
/// verification of each role. Only changed records are written.
pub(super) fn keep_records(
    cache: &crate::repo::Cache,
    records: &str,
    folders: &mut [crate::repo::Folder],
    new_parts: NewParts,
    roles: &[publishers::PublisherRole],
    role_records: Vec<Option<RoleRecord>>,
) {
    let verified: HashMap<&str, RoleRecord> = roles
        .iter()
        .zip(role_records)
        .filter_map(|(p, r)| Some((p.delegation.name.as_str(), r?)))
        .collect();
    folders
        .par_iter_mut()
        .zip(new_parts)
        .for_each(|(f, parts)| {
            let role = verified.get(f.name.as_str()).cloned();
            let changed = parts.is_some() || role != f.role;
            if let Some(parts) = parts {
                f.products.services = parts;
            }
            f.role = role;
            if changed {
                if let Err(e) = cache.write_record(&f.name, &f.record(cache.context(), records)) {
                    eprintln!("warning: cannot write the build cache: {e}");
                }
            }
        });
}

/// The service parts computed for each folder (`None`: its record's kept).
type NewParts = Vec<Option<Vec<api::ServiceParts>>>;

/// The API files (see [`api`]), sorted by path, and the service parts of the
/// folders read by this build (`fresh`: their summaries; the others' parts
/// are those their records kept).
pub(super) fn api_files(
    config: &hsp_index::RegistryConfig,
    interfaces: &[hsp_index::Interface],
    folders: &[crate::repo::Folder],
    fresh: Vec<Option<Vec<DocSummary>>>,
    sink: Option<&api::Sink>,
    served: &api::Served,
) -> std::io::Result<(NewParts, Vec<api::ApiFile>)> {
    let per_folder: Vec<(Option<Vec<api::ServiceParts>>, Vec<api::ApiFile>)> = folders
        .par_iter()
        .zip(fresh)
        .map(|(f, summaries)| match summaries {
            Some(summaries) => {
                let shas = f
                    .index
                    .iter()
                    .filter(|(.., parsed)| *parsed)
                    .map(|(_, _, _, sha256, _)| sha256);
                let (parts, files) = api::services(summaries.into_iter().zip(shas), sink, served)?
                    .into_iter()
                    .unzip();
                Ok((Some(parts), files))
            }
            None => Ok((
                None,
                f.products
                    .services
                    .iter()
                    .map(api::ServiceParts::served_file)
                    .collect(),
            )),
        })
        .collect::<std::io::Result<_>>()?;
    let mut new_parts = Vec::with_capacity(folders.len());
    let mut files = Vec::new();
    for (parts, fs) in per_folder {
        new_parts.push(parts);
        files.extend(fs);
    }
    let all: Vec<&api::ServiceParts> = folders
        .iter()
        .zip(&new_parts)
        .flat_map(|(f, parts)| parts.as_ref().unwrap_or(&f.products.services))
        .collect();
    let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        // The checks rule this out (a service id belongs to one publisher).
        return Err(std::io::Error::other(format!(
            "service {} is in two publisher folders",
            w[0]
        )));
    }
    files.extend(api::indexes(config, interfaces, all, sink, served)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((new_parts, files))
}
