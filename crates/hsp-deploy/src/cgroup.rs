//! Reading a container's own cgroup files: the kernel's figures (peak memory,
//! CPU time) without asking the engine, whose stats answer is slow (about a
//! second) and, on a loaded engine, sometimes without them. Only for an engine
//! on this machine: the cgroup is found from `/proc/PID/cgroup` of the
//! container's main process, and only a path naming the container's id counts
//! (a process of this machine with the engine's PID is not the container when
//! the engine runs elsewhere).

use std::path::Path;

/// Which file to read: under cgroup v1, `file` of `controller`'s hierarchy
/// (mounted at `<root>/<controller>`, or a joint mount such as `cpu,cpuacct`);
/// under v2 (the unified hierarchy `0::`), `v2_file`.
pub struct File<'a> {
    pub controller: &'a str,
    pub file: &'a str,
    pub v2_file: &'a str,
}

/// The text of the container's cgroup file and whether it came from v2.
pub fn read(pid: i64, id: &str, which: &File) -> Option<(String, bool)> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    read_from(&cgroups, id, Path::new("/sys/fs/cgroup"), which)
}

/// [`read`] of a `/proc/PID/cgroup` text under the cgroup mounts at `root`.
pub fn read_from(cgroups: &str, id: &str, root: &Path, which: &File) -> Option<(String, bool)> {
    if id.is_empty() {
        return None;
    }
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(hierarchy), Some(controllers), Some(path)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !path.contains(id) {
            continue;
        }
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == which.controller) {
            for mount in [which.controller, controllers] {
                let file = root.join(mount).join(rel).join(which.file);
                if let Ok(text) = std::fs::read_to_string(file) {
                    return Some((text, false));
                }
            }
        } else if hierarchy == "0" && controllers.is_empty() {
            if let Ok(text) = std::fs::read_to_string(root.join(rel).join(which.v2_file)) {
                return Some((text, true));
            }
        }
    }
    None
}

/// Peak memory in bytes: v1 `memory.max_usage_in_bytes`, v2 `memory.peak`.
pub const MEMORY_PEAK: File = File {
    controller: "memory",
    file: "memory.max_usage_in_bytes",
    v2_file: "memory.peak",
};

/// CPU time: v1 `cpuacct.usage` (nanoseconds), v2 `cpu.stat` (`usage_usec`).
pub const CPU_USAGE: File = File {
    controller: "cpuacct",
    file: "cpuacct.usage",
    v2_file: "cpu.stat",
};

/// The container's CPU time in seconds.
pub fn cpu_seconds(pid: i64, id: &str) -> Option<f64> {
    let (text, v2) = read(pid, id, &CPU_USAGE)?;
    parse_cpu(&text, v2)
}

fn parse_cpu(text: &str, v2: bool) -> Option<f64> {
    if v2 {
        let usec: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))?
            .trim()
            .parse()
            .ok()?;
        Some(usec as f64 / 1e6)
    } else {
        let ns: u64 = text.trim().parse().ok()?;
        Some(ns as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "001ae5843bc1461dcb275a1fa1ef9c1d";

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn reads_the_v1_file_of_the_containers_cgroup() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &format!("memory/docker/{ID}/memory.max_usage_in_bytes"),
            "73400320\n",
        );
        // A joint mount, as systemd makes it.
        write(
            root.path(),
            &format!("cpu,cpuacct/docker/{ID}/cpuacct.usage"),
            "2500000000\n",
        );
        let cgroups = format!(
            "5:devices:/docker/{ID}\n4:memory:/docker/{ID}\n2:cpu,cpuacct:/docker/{ID}\n0::/docker/{ID}\n"
        );
        let (text, v2) = read_from(&cgroups, ID, root.path(), &MEMORY_PEAK).unwrap();
        assert_eq!((text.trim(), v2), ("73400320", false));
        let (text, v2) = read_from(&cgroups, ID, root.path(), &CPU_USAGE).unwrap();
        assert_eq!(parse_cpu(&text, v2), Some(2.5));
    }

    #[test]
    fn reads_the_v2_files() {
        let root = tempfile::tempdir().unwrap();
        let rel = format!("system.slice/docker-{ID}.scope");
        write(root.path(), &format!("{rel}/memory.peak"), "4096\n");
        write(
            root.path(),
            &format!("{rel}/cpu.stat"),
            "usage_usec 1500000\nuser_usec 1000000\n",
        );
        let cgroups = format!("0::/{rel}\n");
        let (text, v2) = read_from(&cgroups, ID, root.path(), &MEMORY_PEAK).unwrap();
        assert_eq!((text.trim(), v2), ("4096", true));
        let (text, v2) = read_from(&cgroups, ID, root.path(), &CPU_USAGE).unwrap();
        assert_eq!(parse_cpu(&text, v2), Some(1.5));
    }

    #[test]
    fn a_process_outside_the_container_gives_nothing() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "memory/user.slice/memory.max_usage_in_bytes",
            "99",
        );
        let cgroups = "4:memory:/user.slice\n0::/user.slice\n";
        assert!(read_from(cgroups, ID, root.path(), &MEMORY_PEAK).is_none());
        assert!(read_from(cgroups, "", root.path(), &MEMORY_PEAK).is_none());
        // The container's cgroup without a readable file: nothing either.
        let cgroups = format!("4:memory:/docker/{ID}\n");
        assert!(read_from(&cgroups, ID, root.path(), &MEMORY_PEAK).is_none());
    }
}
