//! A hostile HTTP server for tests: it serves a folder like any static web
//! server, except for the paths told to misbehave — redirect anywhere, stall
//! mid-body, announce more than it sends, send a body that never ends, or send
//! given bytes (a bomb). Every answer closes its connection. Dropping the
//! server stops it and every connection it holds open.
//!
//! ```no_run
//! use hsp_test_support::hostile::{Misbehave, Server};
//! let server = Server::start(std::path::Path::new("/tmp/index"));
//! server.set("/metadata/timestamp.json", Misbehave::Stall);
//! // ... point a client at server.url ...
//! assert_eq!(server.hits("/metadata/timestamp.json"), 1);
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one path misbehaves.
#[derive(Clone, Debug)]
pub enum Misbehave {
    /// `302 Found` to this location (any scheme: `file:///etc/passwd`, ...).
    Redirect(String),
    /// Headers announcing the file's length (a kilobyte when it is missing),
    /// its first bytes, then silence until the client gives up.
    Stall,
    /// Headers announcing `announced` bytes, then only `body`, then close.
    Lie { announced: u64, body: Vec<u8> },
    /// A chunked body of zeros that never ends.
    Endless,
    /// `200 OK` with exactly these bytes.
    Body(Vec<u8>),
}

/// See the module.
pub struct Server {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    root: PathBuf,
    rules: Mutex<HashMap<String, Misbehave>>,
    hits: Mutex<HashMap<String, usize>>,
    stop: AtomicBool,
}

impl Server {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            rules: Mutex::new(HashMap::new()),
            hits: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = Arc::clone(&s);
                        std::thread::spawn(move || s.answer(conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server { url, shared }
    }

    /// From now on, `path` (e.g. `/metadata/timestamp.json`) misbehaves.
    pub fn set(&self, path: &str, how: Misbehave) {
        self.shared
            .rules
            .lock()
            .unwrap()
            .insert(path.to_string(), how);
    }

    /// `path` is served from the folder again.
    pub fn clear(&self, path: &str) {
        self.shared.rules.lock().unwrap().remove(path);
    }

    /// Requests of `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl Shared {
    fn answer(&self, mut conn: TcpStream) {
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
        let Some(path) = self.request_path(&mut conn) else {
            return;
        };
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let rule = self.rules.lock().unwrap().get(&path).cloned();
        let head = |status: &str, extra: &str| {
            format!("HTTP/1.1 {status}\r\nConnection: close\r\n{extra}\r\n").into_bytes()
        };
        let _ = match rule {
            Some(Misbehave::Redirect(to)) => conn.write_all(&head(
                "302 Found",
                &format!("Location: {to}\r\nContent-Length: 0\r\n"),
            )),
            Some(Misbehave::Stall) => {
                // The file's true length and first bytes when it exists, so
                // only the silence is wrong.
                let file = self.file(&path).unwrap_or_else(|| vec![b'x'; 1000]);
                let announce = format!("Content-Length: {}\r\n", file.len());
                let _ = conn.write_all(&head("200 OK", &announce));
                let _ = conn.write_all(&file[..3.min(file.len().saturating_sub(1))]);
                self.hold(&mut conn);
                Ok(())
            }
            Some(Misbehave::Lie { announced, body }) => conn
                .write_all(&head("200 OK", &format!("Content-Length: {announced}\r\n")))
                .and_then(|()| conn.write_all(&body)),
            Some(Misbehave::Endless) => {
                let chunk = [0u8; 65536];
                let mut r = conn.write_all(&head("200 OK", "Transfer-Encoding: chunked\r\n"));
                while r.is_ok() && !self.stop.load(Ordering::SeqCst) {
                    r = conn
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .and_then(|()| conn.write_all(&chunk))
                        .and_then(|()| conn.write_all(b"\r\n"));
                }
                r
            }
            Some(Misbehave::Body(bytes)) => conn
                .write_all(&head(
                    "200 OK",
                    &format!("Content-Length: {}\r\n", bytes.len()),
                ))
                .and_then(|()| conn.write_all(&bytes)),
            None => match self.file(&path) {
                Some(bytes) => conn
                    .write_all(&head(
                        "200 OK",
                        &format!("Content-Length: {}\r\n", bytes.len()),
                    ))
                    .and_then(|()| conn.write_all(&bytes)),
                None => conn.write_all(&head("404 Not Found", "Content-Length: 0\r\n")),
            },
        };
    }

    /// The path of a `GET` request (without its query), or `None` when the
    /// client sent no complete request head.
    fn request_path(&self, conn: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if self.stop.load(Ordering::SeqCst) || head.len() > 65536 {
                return None;
            }
            match conn.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
        let line = String::from_utf8_lossy(&head);
        let target = line.split_whitespace().nth(1)?;
        Some(target.split('?').next().unwrap_or(target).to_string())
    }

    /// A file of the folder; `None` outside it or when missing.
    fn file(&self, path: &str) -> Option<Vec<u8>> {
        let rel = Path::new(path.trim_start_matches('/'));
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        std::fs::read(self.root.join(rel)).ok()
    }

    /// Keeps the connection open, sending nothing, until the client closes it
    /// or the server stops.
    fn hold(&self, conn: &mut TcpStream) {
        let mut buf = [0u8; 1024];
        while !self.stop.load(Ordering::SeqCst) {
            match conn.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}
