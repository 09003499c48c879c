//! Helpers shared by the binary's integration tests.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `cmd` (an `oidc` command with its database and options) as
/// `oidc serve` on a free port of 127.0.0.1: the process, its address and
/// what it printed until then.
pub(crate) fn serve(mut cmd: Command) -> (Child, String, Vec<String>) {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the oidc binary starts");
    let (addr, seen) = listening(&mut child);
    (child, addr, seen)
}

/// Reads a started `oidc serve`'s standard output until it says where it
/// listens: the address, and every line printed up to then.
fn listening(child: &mut Child) -> (String, Vec<String>) {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("the server printed where it listens").expect("readable output");
        seen.push(line.clone());
        if let Some(a) = line.strip_prefix("Listening on http://") {
            return (a.to_owned(), seen);
        }
    }
}
