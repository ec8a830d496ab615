//! Local TCP ports: whether one is taken, and by which program, so a
//! forward that cannot start names what holds its port.

use std::net::{Ipv4Addr, TcpListener};

/// Whether another program listens on 127.0.0.1:`port`.
pub fn port_taken(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err()
}

/// A port nothing listens on now, chosen by the system.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// `NAME (pid N)` of the process listening on `port`, when this user may
/// see it (Linux: the socket in /proc/net/tcp*, then the process whose
/// descriptors hold it); `None` otherwise.
pub fn holder(port: u16) -> Option<String> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        });
        if holds {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let line = cmdline.join(" ");
            let line: String = line.chars().take(120).collect();
            return Some(format!("{} (pid {pid}: {line})", name.trim()));
        }
    }
    None
}

/// The inodes of the sockets listening on `port` in a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let want = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?;
            let (_, p) = local.rsplit_once(':')?;
            (p == want && *state == "0A").then(|| inode.to_string())
        })
        .collect()
}

/// "127.0.0.1:PORT is taken by NAME (pid N: ...)", or by "another program".
pub fn taken_message(port: u16) -> String {
    match holder(port) {
        Some(who) => format!("127.0.0.1:{port} is already in use by {who}"),
        None => format!("127.0.0.1:{port} is already in use by another program"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_process_that_holds_a_port() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(port_taken(port));
        let who = holder(port).expect("this test's own process holds it");
        assert!(
            who.contains(&format!("pid {}", std::process::id())),
            "{who}"
        );
        drop(listener);
        assert!(!port_taken(port));
        assert!(taken_message(port).contains("another program"));
    }
}
