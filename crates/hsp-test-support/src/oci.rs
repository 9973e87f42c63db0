//! OCI fixtures for one test each: a throwaway registry ([`Registry`]: CNCF
//! distribution on a free port, optionally with basic auth), images made by
//! hand and pushed with `skopeo copy --all` ([`push_multi_arch`]: an OCI index
//! of linux/amd64 and linux/arm64; [`push_single_arch`]), and a TCP proxy that
//! stalls blob downloads at a chosen byte ([`CutProxy`]).
//!
//! The amd64 image's layer is the rootfs `images` builds (a fixture folder plus
//! `/bin/busybox`), so it runs on the Docker engine. Every digest returned is
//! computed from the bytes written, and each push checks the registry reports
//! the same manifest digest.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// Media type of the multi-arch images' index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of each platform's image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a layer (a gzip tar).
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// How long a registry may take to answer `/v2/` after it starts.
const READY: Duration = Duration::from_secs(20);

/// A `docker-registry serve` process with its own port, config and storage,
/// stopped when dropped.
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    auth: Option<(String, String)>,
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> Registry {
        Registry::spawn(None)
    }

    /// A registry that answers only requests with basic auth `user:password`
    /// (an `htpasswd -B` file).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::spawn(Some((user.to_string(), password.to_string())))
    }

    fn spawn(auth: Option<(String, String)>) -> Registry {
        let registry = which("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let mut auth_yaml = String::new();
        if let Some((user, password)) = &auth {
            let htpasswd = dir.path().join("htpasswd");
            let out = Command::new(which("htpasswd", "apache2-utils"))
                .arg("-Bbc")
                .arg(&htpasswd)
                .args([user, password])
                .output()
                .unwrap();
            assert!(out.status.success(), "htpasswd: {}", crate::show(&out));
            auth_yaml = format!(
                "auth:\n  htpasswd:\n    realm: hsp-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        // A port picked by binding 0 may be taken again before the registry
        // binds it; the registry then exits, and another port is tried.
        for _ in 0..5 {
            let port = crate::free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    \
                     rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  \
                     addr: 127.0.0.1:{port}\n  secret: hsp-test\n{auth_yaml}",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new(&registry)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", registry.display()));
            if wait_ready(&mut child, dir.path(), port, auth.is_some()) {
                return Registry {
                    dir,
                    port,
                    child: Some(child),
                    auth,
                };
            }
        }
        panic!("docker-registry found no free port in 5 tries");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The user and password of [`Registry::start_with_auth`].
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `storage.filesystem.rootdirectory`.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Kills the registry and waits for it; a no-op when it is stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The file distribution keeps the blob `sha256:<hex>` in:
    /// `<storage>/docker/registry/v2/blobs/sha256/<hex[..2]>/<hex>/data`.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("{digest} is not a sha256 digest"));
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Overwrites the stored blob with other bytes of the same length, so the
    /// registry serves bytes that do not match `digest`.
    pub fn corrupt_blob(&self, digest: &str) {
        let path = self.blob_data_path(digest);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (was {digest} pushed?)", path.display()));
        let flipped: Vec<u8> = bytes.iter().map(|b| !b).collect();
        std::fs::write(&path, flipped).unwrap();
    }

    /// `HEAD /v2/<repo>/blobs/<digest>` answers 200.
    pub fn has_blob(&self, repo: &str, digest: &str) -> bool {
        self.request("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[])
            .is_ok_and(|r| r.status == 200)
    }

    /// The `Docker-Content-Digest` of `HEAD /v2/<repo>/manifests/<reference>`
    /// accepting OCI and Docker manifests and indexes; `None` unless 200.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> Option<String> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let r = self
            .request(
                "HEAD",
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("Accept", &accept)],
            )
            .ok()?;
        (r.status == 200).then(|| r.header("docker-content-digest").map(str::to_string))?
    }

    /// A request to the registry, with its basic auth if it has one.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<Response> {
        let mut all = headers.to_vec();
        let basic;
        if let Some((u, p)) = self.credentials() {
            basic = format!("Basic {}", base64(format!("{u}:{p}").as_bytes()));
            all.push(("Authorization", &basic));
        }
        request(&self.host(), method, path, &all)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True once the registry in `dir` listens on `port` and answers `/v2/`
/// (401 with `auth`); false when it exited (its port was taken).
fn wait_ready(child: &mut Child, dir: &Path, port: u16, auth: bool) -> bool {
    let deadline = Instant::now() + READY;
    let host = format!("127.0.0.1:{port}");
    let listening = format!("listening on {host}");
    let expect = if auth { 401 } else { 200 };
    let log = || std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        // The log line proves this process bound the port, not another one.
        if log().contains(&listening)
            && request(&host, "GET", "/v2/", &[]).is_ok_and(|r| r.status == expect)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the registry on {host} did not answer /v2/ with {expect} in {READY:?}; log:\n{}",
        log()
    );
}

/// An HTTP response read in full.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// `METHOD path` on `host` over HTTP/1.1 (one connection, closed after).
pub fn request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut conn = TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    read_response(&mut BufReader::new(conn), method == "HEAD")
}

/// Reads one response from a (possibly kept-alive) connection; `head_only`
/// for the answer to a `HEAD`.
pub fn read_response(r: &mut impl BufRead, head_only: bool) -> std::io::Result<Response> {
    let raw = read_head(r)?.ok_or_else(|| eof("no response"))?;
    let (status, headers) = parse_head(&raw)?;
    let status: u16 = status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(&status))?;
    let mut body = Vec::new();
    match framing(&headers, head_only || status == 204 || status == 304) {
        Framing::None => {}
        Framing::Length(n) => copy_len(r, &mut body, n, &mut |_| Some(u64::MAX), &mut |_| {})?,
        Framing::Chunked => copy_chunked(r, &mut body, true)?,
        Framing::UntilClose => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Incompressible bytes added to the amd64 rootfs as `/etc/filler`, so its
/// layer grows by about `bytes` (the same `seed` gives the same bytes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Filler {
    pub bytes: usize,
    pub seed: u64,
}

/// What [`push_multi_arch`] pushed.
#[derive(Clone, Debug)]
pub struct MultiArch {
    /// `HOST/REPO`, for `docker pull` and skopeo.
    pub repo: String,
    /// `REPO`, the name inside the registry (for [`Registry`]'s methods).
    pub name: String,
    pub tag: String,
    /// The OCI image index.
    pub index_digest: String,
    pub amd64_digest: String,
    pub arm64_digest: String,
    /// The amd64 image's layer (the one [`Filler`] grows).
    pub amd64_layer: String,
    /// Every config and layer: amd64 config, amd64 layer, arm64 config,
    /// arm64 layer.
    pub blobs: Vec<String>,
    /// Size in bytes of each layer, by digest.
    pub layer_sizes: BTreeMap<String, u64>,
}

impl MultiArch {
    /// `HOST/REPO@<index digest>`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.repo, self.index_digest)
    }
}

/// What [`push_single_arch`] pushed.
#[derive(Clone, Debug)]
pub struct SingleArch {
    /// `HOST/REPO`.
    pub repo: String,
    /// `REPO`.
    pub name: String,
    pub tag: String,
    /// The image manifest.
    pub digest: String,
    pub config: String,
    pub layer: String,
    pub layer_size: u64,
}

impl SingleArch {
    /// `HOST/REPO@<manifest digest>`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.repo, self.digest)
    }
}

/// Pushes `repo:tag`, an OCI index of a linux/amd64 image (the fixture
/// `tests/fixtures/images/<fixture>` plus busybox, entrypoint `/bin/start`)
/// and a linux/arm64 image (one file, `/etc/arch`).
pub fn push_multi_arch(registry: &Registry, repo: &str, tag: &str, fixture: &str) -> MultiArch {
    push_multi_arch_filled(registry, repo, tag, fixture, Filler::default())
}

/// [`push_multi_arch`] with `filler` in the amd64 layer.
pub fn push_multi_arch_filled(
    registry: &Registry,
    repo: &str,
    tag: &str,
    fixture: &str,
    filler: Filler,
) -> MultiArch {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(&tmp.path().join("layout"));
    let amd64 = layout.image("amd64", None, &rootfs_tar(tmp.path(), fixture, filler));
    let arm64_root = tmp.path().join("arm64");
    std::fs::create_dir_all(arm64_root.join("etc")).unwrap();
    std::fs::write(arm64_root.join("etc/arch"), "arm64").unwrap();
    let arm64 = layout.image("arm64", Some("v8"), &tar(&arm64_root));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            descriptor(OCI_MANIFEST, &amd64.manifest, Some(("amd64", None))),
            descriptor(OCI_MANIFEST, &arm64.manifest, Some(("arm64", Some("v8")))),
        ],
    });
    let index = layout.blob(&serde_json::to_vec(&index).unwrap());
    layout.tag(OCI_INDEX, &index, tag);
    push(registry, &layout.dir, repo, tag, &index.0);
    MultiArch {
        repo: format!("{}/{repo}", registry.host()),
        name: repo.to_string(),
        tag: tag.to_string(),
        index_digest: index.0,
        amd64_digest: amd64.manifest.0,
        arm64_digest: arm64.manifest.0,
        amd64_layer: amd64.layer.0.clone(),
        blobs: vec![
            amd64.config.0,
            amd64.layer.0.clone(),
            arm64.config.0,
            arm64.layer.0.clone(),
        ],
        layer_sizes: BTreeMap::from([amd64.layer, arm64.layer]),
    }
}

/// Pushes `repo:tag`, the linux/amd64 image of [`push_multi_arch`] alone (a
/// manifest, no index).
pub fn push_single_arch(
    registry: &Registry,
    repo: &str,
    tag: &str,
    fixture: &str,
    filler: Filler,
) -> SingleArch {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(&tmp.path().join("layout"));
    let image = layout.image("amd64", None, &rootfs_tar(tmp.path(), fixture, filler));
    layout.tag(OCI_MANIFEST, &image.manifest, tag);
    push(registry, &layout.dir, repo, tag, &image.manifest.0);
    SingleArch {
        repo: format!("{}/{repo}", registry.host()),
        name: repo.to_string(),
        tag: tag.to_string(),
        digest: image.manifest.0,
        config: image.config.0,
        layer: image.layer.0,
        layer_size: image.layer.1,
    }
}

/// `skopeo copy --all` of the layout's `tag`, then a check that the registry
/// holds it under `digest`.
fn push(registry: &Registry, layout: &Path, repo: &str, tag: &str, digest: &str) {
    let mut cmd = Command::new(which("skopeo", "skopeo"));
    cmd.args([
        "copy",
        "--all",
        "--insecure-policy",
        "--dest-tls-verify=false",
    ]);
    if let Some((u, p)) = registry.credentials() {
        cmd.arg(format!("--dest-creds={u}:{p}"));
    }
    cmd.arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{}/{repo}:{tag}", registry.host()));
    crate::run_ok(&mut cmd);
    assert_eq!(
        registry.manifest_digest(repo, tag).as_deref(),
        Some(digest),
        "the registry's digest of {repo}:{tag} is not the one written (did skopeo rewrite it?)"
    );
}

/// A digest and a size.
type Desc = (String, u64);

struct Image {
    manifest: Desc,
    config: Desc,
    layer: Desc,
}

/// An OCI image layout being written (`oci-layout`, `blobs/`, `index.json`).
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    fn blob(&self, bytes: &[u8]) -> Desc {
        let digest = sha256(bytes);
        let file = self
            .dir
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..]);
        std::fs::write(file, bytes).unwrap();
        (digest, bytes.len() as u64)
    }

    /// A linux image of one layer, the gzip of `tar`.
    fn image(&self, arch: &str, variant: Option<&str>, tar: &[u8]) -> Image {
        let layer = self.blob(&gzip(tar));
        let mut config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Entrypoint": ["/bin/start"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        });
        if let Some(v) = variant {
            config["variant"] = v.into();
        }
        let config = self.blob(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, &config, None),
            "layers": [descriptor(OCI_LAYER, &layer, None)],
        });
        let manifest = self.blob(&serde_json::to_vec(&manifest).unwrap());
        Image {
            manifest,
            config,
            layer,
        }
    }

    /// `index.json` naming `desc` `tag`.
    fn tag(&self, media_type: &str, desc: &Desc, tag: &str) {
        let mut d = descriptor(media_type, desc, None);
        d["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [d]});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}

fn descriptor(
    media_type: &str,
    (digest, size): &Desc,
    platform: Option<(&str, Option<&str>)>,
) -> serde_json::Value {
    let mut d = serde_json::json!({"mediaType": media_type, "digest": digest, "size": size});
    if let Some((arch, variant)) = platform {
        d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            d["platform"]["variant"] = v.into();
        }
    }
    d
}

/// The tar of a runnable linux/amd64 rootfs: fixture `fixture` of
/// `tests/fixtures/images`, static busybox, `/bin/start` as entrypoint
/// (recorded in `etc/hsp-image`), and `filler` bytes in `etc/filler`;
/// deterministic. `images::build` imports the same rootfs into Docker.
pub(crate) fn rootfs_tar(tmp: &Path, fixture: &str, filler: Filler) -> Vec<u8> {
    let src = crate::root().join("tests/fixtures/images").join(fixture);
    assert!(src.is_dir(), "{} is missing", src.display());
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: run .ci/install (busybox-static)"
    );
    let rootfs = tmp.join("amd64");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    crate::run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(&rootfs),
    );
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    for d in ["tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::write(
        rootfs.join("etc/hsp-image"),
        "ENTRYPOINT [\"/bin/start\"]\n",
    )
    .unwrap();
    crate::set_mode(&rootfs.join("tmp"), 0o1777);
    // Folders a fixture wants writable by any user (`etc/hsp-writable`, one
    // path per line): the image may run as a user other than root.
    if let Ok(list) = std::fs::read_to_string(rootfs.join("etc/hsp-writable")) {
        for dir in list.lines().filter(|l| !l.trim().is_empty()) {
            let d = rootfs.join(dir.trim().trim_start_matches('/'));
            std::fs::create_dir_all(&d).unwrap();
            crate::set_mode(&d, 0o1777);
        }
    }
    if filler.bytes > 0 {
        std::fs::write(rootfs.join("etc/filler"), filler_bytes(filler)).unwrap();
    }
    tar(&rootfs)
}

/// splitmix64 from the seed: deterministic, and gzip cannot shrink it.
fn filler_bytes(f: Filler) -> Vec<u8> {
    let mut state = f.seed;
    let mut out = Vec::with_capacity(f.bytes + 8);
    while out.len() < f.bytes {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(f.bytes);
    out
}

/// A deterministic tar of `dir` (sorted, mtime 0, owner 0), as `images` makes.
fn tar(dir: &Path) -> Vec<u8> {
    let out = crate::run_ok(
        Command::new("tar")
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-cf",
                "-",
                "-C",
            ])
            .arg(dir)
            .arg("."),
    );
    out.stdout
}

/// `gzip -n` (no name, no time: deterministic).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    crate::run_ok(Command::new("gzip").args(["-n", "-c"]).arg(file.path())).stdout
}

/// A binary from PATH, or a panic naming the Debian package to install.
fn which(bin: &str, package: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{bin} is missing: run .ci/install (Debian package {package})"))
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What [`CutProxy`] does with blob downloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything unchanged.
    Pass,
    /// A `GET /v2/<name>/blobs/sha256:<hex>` response (with a Content-Length)
    /// gets its head and its first `n` body bytes through, then nothing, the
    /// connection held open, until the mode changes (then the rest follows) or
    /// the client or the proxy goes away.
    StallBlobAfter(u64),
}

/// A request [`CutProxy`] forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The request target, e.g. `/v2/x/blobs/sha256:...`.
    pub path: String,
    /// Its `Range` header.
    pub range: Option<String>,
    /// The response's status, once its head went through.
    pub status: Option<u16>,
    /// Body bytes of the response forwarded so far.
    pub body_bytes: u64,
}

/// A TCP proxy on a free port of 127.0.0.1 in front of a registry, parsing
/// just enough HTTP/1.1 (request and response heads on kept-alive
/// connections) to record requests and to stall blob downloads ([`Mode`]).
/// Dropping it closes every connection.
pub struct CutProxy {
    host: String,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: String,
    mode: Mutex<Mode>,
    seen: Mutex<Vec<Seen>>,
    conns: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

/// A forwarded request the next response answers.
struct Pending {
    index: usize,
    head_only: bool,
    blob: bool,
}

impl CutProxy {
    /// Proxies to `upstream` (`HOST:PORT`) in [`Mode::Pass`].
    pub fn start(upstream: &str) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            mode: Mutex::new(Mode::Pass),
            seen: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = Arc::clone(&s);
                        std::thread::spawn(move || s.serve(conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        CutProxy { host, shared }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// Takes effect at once, also on responses under way.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Body bytes forwarded for the blob `digest`, over all its responses.
    pub fn blob_bytes_sent(&self, digest: &str) -> u64 {
        self.requests()
            .iter()
            .filter(|s| blob_digest(&s.path) == Some(digest))
            .map(|s| s.body_bytes)
            .sum()
    }

    /// Waits until [`CutProxy::blob_bytes_sent`] reaches `n`; panics after
    /// `timeout`.
    pub fn wait_blob_bytes(&self, digest: &str, n: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.blob_bytes_sent(digest) < n {
            assert!(
                Instant::now() < deadline,
                "{n} bytes of {digest} did not go through in {timeout:?}; requests: {:#?}",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for c in self.shared.conns.lock().unwrap().iter() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    /// One client connection: requests are forwarded by a second thread,
    /// responses by this one.
    fn serve(self: Arc<Self>, client: TcpStream) {
        let _ = client.set_nonblocking(false);
        let Ok(upstream) = TcpStream::connect(&self.upstream) else {
            return;
        };
        let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        {
            let mut conns = self.conns.lock().unwrap();
            conns.extend(client.try_clone().ok());
            conns.extend(upstream.try_clone().ok());
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
        }
        let closed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (s, c) = (Arc::clone(&self), Arc::clone(&closed));
        std::thread::spawn(move || {
            let _ = s.requests(c2, &u2, &tx);
            // The client is gone (or sent nonsense): end both sides.
            c.store(true, Ordering::SeqCst);
            let _ = u2.shutdown(Shutdown::Both);
        });
        let _ = self.responses(upstream, &client, &rx, &closed);
        let _ = client.shutdown(Shutdown::Both);
    }

    fn requests(
        &self,
        client: TcpStream,
        mut upstream: &TcpStream,
        tx: &mpsc::Sender<Pending>,
    ) -> std::io::Result<()> {
        let mut r = BufReader::new(client);
        while let Some(raw) = read_head(&mut r)? {
            let (line, headers) = parse_head(&raw)?;
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or_default().to_string();
            let path = words.next().unwrap_or_default().to_string();
            let index = {
                let mut seen = self.seen.lock().unwrap();
                seen.push(Seen {
                    method: method.clone(),
                    range: header(&headers, "range").map(str::to_string),
                    status: None,
                    body_bytes: 0,
                    path: path.clone(),
                });
                seen.len() - 1
            };
            let pending = Pending {
                index,
                head_only: method == "HEAD",
                blob: method == "GET" && blob_digest(&path).is_some(),
            };
            if tx.send(pending).is_err() {
                return Ok(());
            }
            upstream.write_all(&raw)?;
            match framing(&headers, false) {
                Framing::Length(n) => copy_len(
                    &mut r,
                    &mut upstream,
                    n,
                    &mut |_| Some(u64::MAX),
                    &mut |_| {},
                )?,
                Framing::Chunked => copy_chunked(&mut r, &mut upstream, false)?,
                // A request without a length has no body.
                Framing::None | Framing::UntilClose => {}
            }
        }
        Ok(())
    }

    fn responses(
        &self,
        upstream: TcpStream,
        mut client: &TcpStream,
        rx: &mpsc::Receiver<Pending>,
        closed: &AtomicBool,
    ) -> std::io::Result<()> {
        let mut r = BufReader::new(upstream);
        let mut current: Option<Pending> = None;
        while let Some(raw) = read_head(&mut r)? {
            let (line, headers) = parse_head(&raw)?;
            let status: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| invalid(&line))?;
            if current.is_none() {
                current = rx.recv().ok();
            }
            let Some(p) = current.take_if(|_| status >= 200 || status == 101) else {
                // 1xx: the final response follows for the same request.
                client.write_all(&raw)?;
                continue;
            };
            client.write_all(&raw)?;
            if status == 101 {
                std::io::copy(&mut r, &mut client)?;
                return Ok(());
            }
            self.seen.lock().unwrap()[p.index].status = Some(status);
            let mut count = |n: u64| self.seen.lock().unwrap()[p.index].body_bytes += n;
            let no_body = p.head_only || status == 204 || status == 304;
            match framing(&headers, no_body) {
                Framing::None => {}
                Framing::Length(n) => {
                    let mut gate = |sent: u64| self.gate(p.blob, sent, closed);
                    copy_len(&mut r, &mut client, n, &mut gate, &mut count)?;
                }
                Framing::Chunked => copy_chunked(&mut r, &mut client, false)?,
                Framing::UntilClose => {
                    std::io::copy(&mut r, &mut client)?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// How many more body bytes may go now, after `sent` of this response;
    /// waits while none may; `None` when the connection or proxy closes.
    fn gate(&self, blob: bool, sent: u64, closed: &AtomicBool) -> Option<u64> {
        loop {
            if self.stop.load(Ordering::SeqCst) || closed.load(Ordering::SeqCst) {
                return None;
            }
            match *self.mode.lock().unwrap() {
                Mode::StallBlobAfter(n) if blob && sent >= n => {}
                Mode::StallBlobAfter(n) if blob => return Some(n - sent),
                _ => return Some(u64::MAX),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `sha256:<hex>` of a `/v2/<name>/blobs/sha256:<hex>` target.
fn blob_digest(path: &str) -> Option<&str> {
    let path = path.split('?').next()?;
    let (name, digest) = path.strip_prefix("/v2/")?.rsplit_once("/blobs/")?;
    (!name.is_empty() && digest.starts_with("sha256:") && !digest.contains('/')).then_some(digest)
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn framing(headers: &[(String, String)], no_body: bool) -> Framing {
    if no_body {
        Framing::None
    } else if header(headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        Framing::Chunked
    } else if let Some(n) = header(headers, "content-length").and_then(|v| v.parse().ok()) {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The raw bytes of a message head, up to and with its blank line; `None` at
/// the end of the stream before any byte.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        if r.read_until(b'\n', &mut raw)? == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(eof("the stream ended in a message head"))
            };
        }
        if raw[start..] == *b"\r\n" || raw[start..] == *b"\n" {
            return Ok(Some(raw));
        }
        if raw.len() > 64 * 1024 {
            return Err(invalid("a message head over 64 KiB"));
        }
    }
}

/// The first line and the headers of a head.
fn parse_head(raw: &[u8]) -> std::io::Result<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("a head that is not UTF-8"))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((first, headers))
}

/// Copies `len` bytes, asking `gate(sent)` before each read how many may go
/// (`None` aborts) and telling `count` what went.
fn copy_len(
    r: &mut impl Read,
    w: &mut impl Write,
    len: u64,
    gate: &mut dyn FnMut(u64) -> Option<u64>,
    count: &mut dyn FnMut(u64),
) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    let mut sent = 0;
    while sent < len {
        let allowed = gate(sent).ok_or_else(|| eof("the connection closed"))?;
        let k = (len - sent).min(allowed).min(buf.len() as u64) as usize;
        let n = r.read(&mut buf[..k])?;
        if n == 0 {
            return Err(eof("the body ended early"));
        }
        w.write_all(&buf[..n])?;
        sent += n as u64;
        count(n as u64);
    }
    Ok(())
}

/// Copies a chunked body: decoded (`decode`) or as it is.
fn copy_chunked(r: &mut impl BufRead, w: &mut impl Write, decode: bool) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        r.read_until(b'\n', &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let size = u64::from_str_radix(text.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|_| invalid(&text))?;
        if !decode {
            w.write_all(&line)?;
        }
        if size == 0 {
            // Trailers, up to a blank line.
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line)? == 0 {
                    return Err(eof("a chunked body ended early"));
                }
                if !decode {
                    w.write_all(&line)?;
                }
                if line == b"\r\n" || line == b"\n" {
                    return Ok(());
                }
            }
        }
        copy_len(r, w, size, &mut |_| Some(u64::MAX), &mut |_| {})?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
        if !decode {
            w.write_all(&crlf)?;
        }
    }
}

fn eof(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, what.to_string())
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}
