//! A `bin/` folder whose CLIs record their arguments and then run the real
//! ones: the end-to-end tests read what a tool asked kubectl for (and that
//! no secret was in it) while the real kubectl does the work.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct Recorder {
    bin: PathBuf,
    log: PathBuf,
}

impl Recorder {
    /// Puts a `program` into `dir/bin` that appends its arguments, one call
    /// a line, to `dir/PROGRAM-argv.log` and then runs the `program` found
    /// on PATH now.
    pub fn wrap(dir: &Path, program: &str) -> Recorder {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join(format!("{program}-argv.log"));
        let real = which::which(program).unwrap_or_else(|e| panic!("{program}: {e}"));
        let wrapper = bin.join(program);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Recorder { bin, log }
    }

    /// `PATH` with the wrappers first.
    pub fn path(&self) -> String {
        format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Every call so far, one line each (arguments joined by spaces).
    pub fn argv(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
