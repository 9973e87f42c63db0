//! The OCI distribution API, through oci-client: what `hsp pin`, `hsp check
//! --online` and `hsp mirror --images` ask registries.
//!
//! [`Oci`] holds one oci-client per registry host (plain HTTP for loopback
//! hosts and those named in `plain_http`, HTTPS otherwise) and the credentials
//! of each, read once from the Docker config file (`$DOCKER_CONFIG/config.json`
//! or `~/.docker/config.json`, credential helpers included). Anonymous when
//! the file names none; oci-client turns basic credentials into a bearer
//! token where the registry asks for one. Credentials are never logged.
//!
//! Manifests are read raw and checked against their digest here, whatever the
//! registry's `Docker-Content-Digest` says; blobs are downloaded into a
//! staging file (resumed with HTTP Range after an interruption) and hashed
//! before anything is pushed ([`Oci::stage_blob`]).

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use hsp_index::image::{is_loopback_host, is_sha256_digest, ImageRef};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

/// The manifest types asked for and copied: OCI and Docker v2, single and
/// multi-platform.
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
];

/// Largest manifest read (OCI's own recommendation is 4 MB).
pub const MANIFEST_LIMIT: usize = 4 << 20;

/// A registry answer or a transfer that went wrong, naming the image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{reference}: not found in its registry")]
    NotFound { reference: String },
    #[error("{reference}: {message}")]
    Registry { reference: String, message: String },
    #[error("{reference}: {what} hashes to {actual}, not to {expected}: refused")]
    Digest {
        reference: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{reference}: {message}")]
    Invalid { reference: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    fn registry(reference: &str, e: OciDistributionError) -> Error {
        let reference = reference.to_string();
        let not_found = match &e {
            OciDistributionError::ServerError { code: 404, .. } => true,
            OciDistributionError::ImageManifestNotFoundError(_) => true,
            OciDistributionError::RegistryError { envelope, .. } => {
                envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                })
            }
            _ => false,
        };
        if not_found {
            return Error::NotFound { reference };
        }
        Error::Registry {
            reference,
            message: describe(&e),
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An oci-client error with its causes (reqwest's Display alone says only
/// "error sending request").
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A content descriptor, as manifests and indexes list them.
#[derive(Clone, Debug, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`, as Docker writes it.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// A manifest or an index, parsed for what copying and pinning need.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub media_type: String,
    /// Its exact bytes (what the digest covers and what is pushed).
    pub raw: Vec<u8>,
    /// An index's entries.
    pub manifests: Vec<Descriptor>,
    /// A manifest's config.
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_IMAGE_INDEX_MEDIA_TYPE
            || self.media_type == IMAGE_MANIFEST_LIST_MEDIA_TYPE
    }

    /// Parses `raw`; `reference` names it in errors.
    pub fn parse(reference: &str, raw: Vec<u8>) -> Result<Manifest, Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "mediaType", default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<Vec<Descriptor>>,
            #[serde(default)]
            config: Option<Descriptor>,
            #[serde(default)]
            layers: Vec<Descriptor>,
        }
        let wire: Wire = serde_json::from_slice(&raw).map_err(|e| Error::Invalid {
            reference: reference.to_string(),
            message: format!("the manifest is not valid JSON: {e}"),
        })?;
        let media_type = match wire.media_type {
            Some(m) => m,
            None if wire.manifests.is_some() => OCI_IMAGE_INDEX_MEDIA_TYPE.to_string(),
            None => OCI_IMAGE_MEDIA_TYPE.to_string(),
        };
        if !MANIFEST_TYPES.contains(&media_type.as_str()) {
            return Err(Error::Invalid {
                reference: reference.to_string(),
                message: format!("unsupported manifest type `{media_type}`"),
            });
        }
        let manifest = Manifest {
            media_type,
            raw,
            manifests: wire.manifests.unwrap_or_default(),
            config: wire.config,
            layers: wire.layers,
        };
        let bad = manifest
            .manifests
            .iter()
            .chain(&manifest.config)
            .chain(&manifest.layers)
            .find(|d| !is_sha256_digest(&d.digest));
        if let Some(d) = bad {
            return Err(Error::Invalid {
                reference: reference.to_string(),
                message: format!("descriptor digest `{}` is not a sha256 digest", d.digest),
            });
        }
        if !manifest.is_index() && manifest.config.is_none() {
            return Err(Error::Invalid {
                reference: reference.to_string(),
                message: "the image manifest has no config".into(),
            });
        }
        Ok(manifest)
    }

    /// The blobs a single-platform manifest names: its config, then its layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(&self.layers)
    }
}

/// What a tag resolved to.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The digest to pin: the index's for a multi-platform image.
    pub digest: String,
    /// `linux/amd64`, ... (for a single-platform image, from its config).
    pub platforms: Vec<String>,
}

/// Connections to registries, with their credentials.
pub struct Oci {
    rt: tokio::runtime::Runtime,
    plain_http: Vec<String>,
    clients: Mutex<HashMap<String, (Client, RegistryAuth)>>,
    stall: Duration,
}

/// How long a registry may send nothing (`HSP_STALL_TIMEOUT_S`, as the agent's
/// HTTP client).
fn stall_timeout() -> Duration {
    let secs = std::env::var("HSP_STALL_TIMEOUT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

impl Oci {
    /// `plain_http`: registry hosts (`host[:port]`) spoken to over plain HTTP
    /// besides the loopback ones.
    pub fn new(plain_http: Vec<String>) -> std::io::Result<Oci> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()?;
        Ok(Oci {
            rt,
            plain_http,
            clients: Mutex::new(HashMap::new()),
            stall: stall_timeout(),
        })
    }

    /// Runs `f` on this client's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn plain(&self, host: &str) -> bool {
        let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let bare = bare.trim_start_matches('[').trim_end_matches(']');
        is_loopback_host(bare) || self.plain_http.iter().any(|h| h == host)
    }

    /// The client and credentials for `registry` (`docker.io`, `host:port`).
    fn client(&self, registry: &str) -> (Client, RegistryAuth) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(registry.to_string())
            .or_insert_with(|| {
                let protocol = if self.plain(registry) {
                    ClientProtocol::Http
                } else {
                    ClientProtocol::Https
                };
                let config = ClientConfig {
                    protocol,
                    use_monolithic_push: true,
                    read_timeout: Some(self.stall),
                    connect_timeout: Some(Duration::from_secs(10)),
                    ..ClientConfig::default()
                };
                (Client::new(config), credentials(registry))
            })
            .clone()
    }

    /// The raw manifest `image` names (by digest, or by tag), checked against
    /// its digest when the reference has one.
    pub async fn manifest(&self, image: &ImageRef) -> Result<(Manifest, String), Error> {
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        let (body, _) = client
            .pull_manifest_raw(&reference, &auth, &MANIFEST_TYPES)
            .await
            .map_err(|e| Error::registry(&image.original, e))?;
        if body.len() > MANIFEST_LIMIT {
            return Err(Error::Invalid {
                reference: image.original.clone(),
                message: format!(
                    "the manifest is {} bytes, over {MANIFEST_LIMIT}",
                    body.len()
                ),
            });
        }
        let digest = sha256_digest(&body);
        if let Some(expected) = &image.digest {
            if *expected != digest {
                return Err(Error::Digest {
                    reference: image.original.clone(),
                    what: "the manifest".into(),
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        Ok((Manifest::parse(&image.original, body.to_vec())?, digest))
    }

    /// Whether the manifest `image` pins exists (a HEAD request; a registry
    /// that does not answer HEAD with a digest gets a GET).
    pub async fn manifest_exists(&self, image: &ImageRef) -> Result<bool, Error> {
        let (client, auth) = self.client(&image.registry);
        match client
            .fetch_manifest_digest(&oci_reference(image), &auth)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match Error::registry(&image.original, e) {
                Error::NotFound { .. } => Ok(false),
                e => Err(e),
            },
        }
    }

    /// Whether blob `digest` is in `image`'s repository.
    pub async fn blob_exists(&self, image: &ImageRef, digest: &str) -> Result<bool, Error> {
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        client.store_auth_if_needed(&image.registry, &auth).await;
        client
            .blob_exists(&reference, digest)
            .await
            .map_err(|e| Error::registry(&image.original, e))
    }

    /// Resolves `image` (a tag, or a digest to check) to the digest to pin:
    /// for a multi-platform image the index's, once a linux/amd64 manifest
    /// (and linux/arm64 where the index lists one) was found to exist.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Resolved, Error> {
        let (manifest, digest) = self.manifest(image).await?;
        if manifest.is_index() {
            let mut platforms = Vec::new();
            for entry in &manifest.manifests {
                let Some(p) = &entry.platform else { continue };
                platforms.push(p.name());
                if p.os == "linux" && (p.architecture == "amd64" || p.architecture == "arm64") {
                    let child = with_digest(image, &entry.digest);
                    if !self.manifest_exists(&child).await? {
                        return Err(Error::Invalid {
                            reference: image.original.clone(),
                            message: format!(
                                "the index lists {} as {} but the registry does not have it",
                                entry.digest,
                                p.name()
                            ),
                        });
                    }
                }
            }
            if !platforms.iter().any(|p| p == "linux/amd64") {
                return Err(Error::Invalid {
                    reference: image.original.clone(),
                    message: format!(
                        "no linux/amd64 image in the index (it has: {})",
                        if platforms.is_empty() {
                            "none".to_string()
                        } else {
                            platforms.join(", ")
                        }
                    ),
                });
            }
            return Ok(Resolved { digest, platforms });
        }
        let config = manifest.config.as_ref().expect("parse checked the config");
        let bytes = self.small_blob(image, config).await?;
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            os: String,
            #[serde(default)]
            architecture: String,
            #[serde(default)]
            variant: Option<String>,
        }
        let c: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
            reference: image.original.clone(),
            message: format!("its config {} is not an image config: {e}", config.digest),
        })?;
        let platform = Platform {
            os: c.os,
            architecture: c.architecture,
            variant: c.variant,
        };
        Ok(Resolved {
            digest,
            platforms: vec![platform.name()],
        })
    }

    /// A blob read into memory (configs), checked against its descriptor.
    async fn small_blob(&self, image: &ImageRef, d: &Descriptor) -> Result<Vec<u8>, Error> {
        if d.size > MANIFEST_LIMIT as u64 {
            return Err(Error::Invalid {
                reference: image.original.clone(),
                message: format!(
                    "blob {} is {} bytes, over {MANIFEST_LIMIT}",
                    d.digest, d.size
                ),
            });
        }
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        client.store_auth_if_needed(&image.registry, &auth).await;
        let mut out = Vec::new();
        let mut stream = client
            .pull_blob_stream(&reference, d.digest.as_str())
            .await
            .map_err(|e| Error::registry(&image.original, e))?
            .stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::Registry {
                reference: image.original.clone(),
                message: format!("reading blob {}: {e}", d.digest),
            })?;
            if out.len() + chunk.len() > d.size as usize {
                return Err(Error::Invalid {
                    reference: image.original.clone(),
                    message: format!("blob {} is longer than its {} bytes", d.digest, d.size),
                });
            }
            out.extend_from_slice(&chunk);
        }
        check_blob(&image.original, d, &sha256_digest(&out), out.len() as u64)?;
        Ok(out)
    }

    /// Downloads blob `d` of `image` into `dir/sha256/<hex>`, resuming a
    /// `.partial` file an interrupted run left (HTTP Range), and returns the
    /// file once its size and digest match `d`. A file that does not match is
    /// deleted. `progress` is called with each chunk's length.
    pub async fn stage_blob(
        &self,
        image: &ImageRef,
        d: &Descriptor,
        dir: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PathBuf, Error> {
        let hex = d.digest.strip_prefix("sha256:").unwrap_or(&d.digest);
        let folder = dir.join("sha256");
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let done = folder.join(hex);
        if done.exists() {
            let (digest, size) = hash_file(&done)?;
            if check_blob(&image.original, d, &digest, size).is_ok() {
                progress(size);
                return Ok(done);
            }
            std::fs::remove_file(&done).map_err(|e| Error::io(&done, e))?;
        }
        let partial = folder.join(format!("{hex}.partial"));
        let mut offset = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if offset > d.size {
            std::fs::remove_file(&partial).map_err(|e| Error::io(&partial, e))?;
            offset = 0;
        }
        let mut hashed = None;
        if offset < d.size {
            match self.download(image, d, &partial, offset, progress).await {
                Ok(h) => hashed = Some(h),
                // All bytes arrived but the client's own check refused them:
                // the hash below says so, and deletes them.
                Err(_) if std::fs::metadata(&partial).is_ok_and(|m| m.len() == d.size) => {}
                Err(e) => return Err(e),
            }
        }
        let (digest, size) = match hashed {
            Some(h) => h,
            None => hash_file(&partial)?,
        };
        if let Err(e) = check_blob(&image.original, d, &digest, size) {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &done).map_err(|e| Error::io(&done, e))?;
        Ok(done)
    }

    async fn download(
        &self,
        image: &ImageRef,
        d: &Descriptor,
        partial: &Path,
        offset: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(String, u64), Error> {
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        client.store_auth_if_needed(&image.registry, &auth).await;
        let fail = |e: OciDistributionError| Error::registry(&image.original, e);
        let mut hasher = Sha256::new();
        let (mut stream, mut written, file) = if offset > 0 {
            match client
                .pull_blob_stream_partial(&reference, d.digest.as_str(), offset, None)
                .await
                .map_err(fail)?
            {
                oci_client::client::BlobResponse::Partial(s) => {
                    tracing::info!(blob = %d.digest, offset, "resuming a blob download");
                    // The digest covers the bytes already there too.
                    let mut prefix =
                        std::fs::File::open(partial).map_err(|e| Error::io(partial, e))?;
                    std::io::copy(&mut (&mut prefix).take(offset), &mut hasher)
                        .map_err(|e| Error::io(partial, e))?;
                    progress(offset);
                    let f = tokio::fs::OpenOptions::new()
                        .append(true)
                        .open(partial)
                        .await
                        .map_err(|e| Error::io(partial, e))?;
                    (s.stream, offset, f)
                }
                oci_client::client::BlobResponse::Full(s) => {
                    let f = tokio::fs::File::create(partial)
                        .await
                        .map_err(|e| Error::io(partial, e))?;
                    (s.stream, 0, f)
                }
            }
        } else {
            let s = client
                .pull_blob_stream(&reference, d.digest.as_str())
                .await
                .map_err(fail)?;
            let f = tokio::fs::File::create(partial)
                .await
                .map_err(|e| Error::io(partial, e))?;
            (s.stream, 0, f)
        };
        let mut file = tokio::io::BufWriter::new(file);
        let result = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::Registry {
                    reference: image.original.clone(),
                    message: format!("reading blob {}: {}", d.digest, describe(&e)),
                })?;
                if written + chunk.len() as u64 > d.size {
                    return Err(Error::Invalid {
                        reference: image.original.clone(),
                        message: format!("blob {} is longer than its {} bytes", d.digest, d.size),
                    });
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io(partial, e))?;
                hasher.update(&chunk);
                written += chunk.len() as u64;
                progress(chunk.len() as u64);
            }
            Ok(())
        }
        .await;
        // What arrived is kept for the next run to resume, even after an
        // error. Not fsynced: whatever survives is hashed before use.
        file.flush().await.map_err(|e| Error::io(partial, e))?;
        result?;
        Ok((
            format!("sha256:{}", hex::encode(hasher.finalize())),
            written,
        ))
    }

    /// Pushes the staged file `path` as blob `d` into `image`'s repository.
    pub async fn push_blob(
        &self,
        image: &ImageRef,
        d: &Descriptor,
        path: &Path,
    ) -> Result<(), Error> {
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        client.store_auth_if_needed(&image.registry, &auth).await;
        client
            .auth(&reference, &auth, oci_client::RegistryOperation::Push)
            .await
            .map_err(|e| Error::registry(&image.original, e))?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
            .map(|r| r.map_err(OciDistributionError::from));
        client
            .push_blob_stream(&reference, stream, &d.digest, Some(d.size))
            .await
            .map_err(|e| Error::registry(&image.original, e))?;
        Ok(())
    }

    /// Pushes `manifest` by its digest into `image`'s repository.
    pub async fn push_manifest(&self, image: &ImageRef, manifest: &Manifest) -> Result<(), Error> {
        let (client, auth) = self.client(&image.registry);
        let reference = oci_reference(image);
        client.store_auth_if_needed(&image.registry, &auth).await;
        let content_type = manifest.media_type.parse().map_err(|_| Error::Invalid {
            reference: image.original.clone(),
            message: format!("media type `{}` is not a header value", manifest.media_type),
        })?;
        client
            .push_manifest_raw(&reference, manifest.raw.clone(), content_type)
            .await
            .map_err(|e| Error::registry(&image.original, e))?;
        Ok(())
    }
}

fn check_blob(reference: &str, d: &Descriptor, digest: &str, size: u64) -> Result<(), Error> {
    if digest != d.digest {
        return Err(Error::Digest {
            reference: reference.to_string(),
            what: format!("blob {} ({size} bytes)", d.digest),
            expected: d.digest.clone(),
            actual: digest.to_string(),
        });
    }
    if size != d.size {
        return Err(Error::Invalid {
            reference: reference.to_string(),
            message: format!(
                "blob {} is {size} bytes, its descriptor says {}",
                d.digest, d.size
            ),
        });
    }
    Ok(())
}

/// `sha256:<hex>` and length of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// `image` with its digest replaced (and no tag): a child manifest or blob's
/// repository.
pub fn with_digest(image: &ImageRef, digest: &str) -> ImageRef {
    ImageRef {
        original: format!("{}/{}@{digest}", image.registry, image.repository),
        registry: image.registry.clone(),
        repository: image.repository.clone(),
        tag: None,
        digest: Some(digest.to_string()),
    }
}

fn oci_reference(image: &ImageRef) -> Reference {
    match (&image.digest, &image.tag) {
        (Some(d), _) => {
            Reference::with_digest(image.registry.clone(), image.repository.clone(), d.clone())
        }
        (None, tag) => Reference::with_tag(
            image.registry.clone(),
            image.repository.clone(),
            tag.clone().unwrap_or_else(|| "latest".into()),
        ),
    }
}

/// The Docker config's credentials for `registry`; anonymous when it has
/// none (or there is no config file). Docker Hub's key is its v1 URL.
fn credentials(registry: &str) -> RegistryAuth {
    let keys: &[&str] = if registry == "docker.io" {
        &[
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
        ]
    } else {
        &[registry]
    };
    for key in keys {
        match docker_credential::get_credential(key) {
            Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
                return RegistryAuth::Basic(u, p)
            }
            Ok(docker_credential::DockerCredential::IdentityToken(t)) => {
                return RegistryAuth::Bearer(t)
            }
            Err(e) => {
                use docker_credential::CredentialRetrievalError as E;
                if !matches!(
                    e,
                    E::NoCredentialConfigured | E::ConfigNotFound | E::ConfigReadError
                ) {
                    // The error names the helper, never a credential.
                    tracing::warn!(registry, error = %e, "the Docker config's credentials could not be read; trying anonymously");
                }
            }
        }
    }
    RegistryAuth::Anonymous
}
