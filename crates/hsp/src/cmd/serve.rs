//! `hsp serve REPO [--port N]`: build a registry and serve the result on
//! 127.0.0.1, rebuilding when a file of the repo changes.
//!
//! Without `--keys` the build signs with throwaway development keys (said on
//! stderr): a preview, never an index to publish. Each build goes to a fresh
//! folder that replaces the served one only when complete, so a reader never
//! sees a half-written site, and a build that fails keeps the previous one
//! serving. The URL is printed on stdout; logs go to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use notify::Watcher as _;

#[derive(clap::Args)]
pub struct Args {
    /// The registry repo (folder holding `registry.json`).
    repo: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Folder of the registry's private keys (`hsp init --keys`); default:
    /// throwaway development keys.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Build once and serve, without watching for changes.
    #[arg(long)]
    no_watch: bool,
}

/// What is being served: the folder of the last good build.
struct Served {
    dir: RwLock<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let repo = hsp_registry::find_root(&args.repo).with_context(|| {
        format!(
            "{}: not inside a registry repo (no registry.json)",
            args.repo.display()
        )
    })?;
    if args.keys.is_none() {
        eprintln!(
            "hsp serve: no --keys given: signing with THROWAWAY development keys; this preview is not an index to publish"
        );
    }
    let work = tempfile::Builder::new()
        .prefix("hsp-serve-")
        .tempdir()
        .context("creating a temporary folder")?;
    // Watch before the first build and before the URL is printed: an edit
    // made as soon as the URL is known, or during the first build, queues an
    // event and so a rebuild; it is never missed.
    let (tx, rx) = mpsc::channel();
    let watcher = match args.no_watch {
        true => None,
        false => {
            let mut watcher =
                notify::recommended_watcher(tx).context("starting the file watcher")?;
            watcher
                .watch(&repo, notify::RecursiveMode::Recursive)
                .with_context(|| format!("watching {}", repo.display()))?;
            Some(watcher)
        }
    };
    let first = work.path().join("build-0");
    build(&repo, args.keys.as_deref(), &first)?;
    let served = Arc::new(Served {
        dir: RwLock::new(first),
    });

    let server = tiny_http::Server::http(("127.0.0.1", args.port))
        .map_err(|e| anyhow::anyhow!("listening on 127.0.0.1:{}: {e}", args.port))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .unwrap_or(args.port);
    let server = Arc::new(server);
    println!("http://127.0.0.1:{port}/");
    eprintln!(
        "hsp serve: serving {} on http://127.0.0.1:{port}/ (Ctrl-C to stop)",
        repo.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    if watcher.is_some() {
        let (served, stop, keys, work) = (
            Arc::clone(&served),
            Arc::clone(&stop),
            args.keys.clone(),
            work.path().to_path_buf(),
        );
        let repo = repo.clone();
        std::thread::spawn(move || {
            rebuild_loop(&repo, keys.as_deref(), &work, &served, &stop, &rx)
        });
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (server, served, stop) =
                (Arc::clone(&server), Arc::clone(&served), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(200)) {
                        let dir = served.dir.read().map(|d| d.clone()).unwrap_or_default();
                        respond(&dir, request);
                    }
                }
            })
        })
        .collect();

    for w in workers {
        let _ = w.join();
    }
    eprintln!("hsp serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Waits for changes; after a burst of events settles, builds into a new folder
/// and swaps it in.
fn rebuild_loop(
    repo: &Path,
    keys: Option<&Path>,
    work: &Path,
    served: &Served,
    stop: &AtomicBool,
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
) {
    let mut generation = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(event)) if relevant(&event) => {}
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        // Editors write several events per save: let the burst settle.
        while rx.recv_timeout(Duration::from_millis(150)).is_ok() {}
        generation += 1;
        let next = work.join(format!("build-{generation}"));
        let started = Instant::now();
        match build(repo, keys, &next) {
            Ok(()) => {
                let old = served
                    .dir
                    .write()
                    .map(|mut d| std::mem::replace(&mut *d, next))
                    .ok();
                if let Some(old) = old {
                    let _ = std::fs::remove_dir_all(old);
                }
                eprintln!("hsp serve: rebuilt in {} ms", started.elapsed().as_millis());
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&next);
                eprintln!("hsp serve: rebuild failed, still serving the previous build: {e:#}");
            }
        }
    }
}

fn relevant(event: &notify::Event) -> bool {
    !matches!(event.kind, notify::EventKind::Access(_))
        && event.paths.iter().any(|p| {
            !p.components()
                .any(|c| matches!(c.as_os_str().to_str(), Some(".git" | "target")))
        })
}

/// `hsp build` of the repo into `out` (a new folder): the TUF repository under
/// `metadata/` and `targets/`, the website at the top.
fn build(repo: &Path, keys: Option<&Path>, out: &Path) -> anyhow::Result<()> {
    let opts = hsp_registry::BuildOptions {
        repo: repo.to_path_buf(),
        keys: match keys {
            Some(dir) => hsp_registry::KeySource::Dir(dir.to_path_buf()),
            None => hsp_registry::KeySource::Dev,
        },
        out: out.to_path_buf(),
        now: hsp_registry::now(None)?,
        site: true,
        cache: true,
    };
    hsp_registry::build(&opts)?;
    Ok(())
}

/// Serves one request from `dir`: GET and HEAD of files; a folder serves its
/// `index.html`.
fn respond(dir: &Path, request: tiny_http::Request) {
    let method = request.method().clone();
    if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
        let _ = request
            .respond(tiny_http::Response::from_string("method not allowed").with_status_code(405));
        return;
    }
    let url = request
        .url()
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_string();
    let Some(mut path) = hsp_site::serve::local_path(dir, &url) else {
        let _ =
            request.respond(tiny_http::Response::from_string("bad request").with_status_code(400));
        return;
    };
    if path.is_dir() {
        if !url.ends_with('/') {
            let location =
                tiny_http::Header::from_bytes("Location", format!("{url}/")).expect("valid header");
            let _ = request.respond(tiny_http::Response::empty(301).with_header(location));
            return;
        }
        path.push("index.html");
    }
    match std::fs::File::open(&path) {
        Ok(file) => {
            let ctype =
                tiny_http::Header::from_bytes("Content-Type", hsp_site::serve::content_type(&path))
                    .expect("valid header");
            let nocache =
                tiny_http::Header::from_bytes("Cache-Control", "no-cache").expect("valid header");
            let response = tiny_http::Response::from_file(file)
                .with_header(ctype)
                .with_header(nocache);
            let _ = request.respond(response);
        }
        Err(_) => {
            let _ = request
                .respond(tiny_http::Response::from_string("404 not found").with_status_code(404));
        }
    }
}
