//! The file registry: large files stay on disk under one data root, and a
//! record holds the file's path relative to it, its SHA-256, size and
//! modification time, taken when the record is saved.
//!
//! A path is refused unless it stays under the root: it must be relative,
//! made of plain names only (no `..`, no root, no drive prefix), and, when
//! the file exists, its real location (symlinks followed) must lie under
//! the root's real location.

use std::{
    fs::File,
    io::{self, Read},
    path::{Component, Path, PathBuf},
};

use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};

/// The longest path a record may hold, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// Why a path or file could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path is not a plain relative path under the data root.
    #[error("{0}")]
    Outside(String),
    /// The file exists but could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file, relative to the data root.
        path: String,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// What a file looked like when it was registered or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Modification time, to the microsecond.
    pub modified_at: DateTime<Utc>,
}

/// The directory registered files live under.
#[derive(Debug, Clone)]
pub struct DataRoot {
    root: PathBuf,
}

impl DataRoot {
    /// The data root at `root` (it need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where `rel` lives, after checking that it stays under the root.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, FileError> {
        if rel.is_empty() || rel.len() > MAX_PATH_LEN {
            return Err(FileError::Outside(format!(
                "must be 1 to {MAX_PATH_LEN} bytes"
            )));
        }
        if rel.trim().is_empty() || rel.chars().any(|c| c.is_control() || is_invisible(c)) {
            return Err(FileError::Outside(
                "must be a path of printable characters, not blank".to_owned(),
            ));
        }
        let p = Path::new(rel);
        if rel.contains('\\')
            || !p
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(FileError::Outside(
                "must be a relative path under the data root, without `..` or a leading `/`"
                    .to_owned(),
            ));
        }
        let full = self.root.join(p);
        if full.exists() {
            let real_root = self.root.canonicalize().map_err(|source| FileError::Io {
                path: self.root.display().to_string(),
                source,
            })?;
            let real = full.canonicalize().map_err(|source| FileError::Io {
                path: rel.to_owned(),
                source,
            })?;
            if !real.starts_with(&real_root) {
                return Err(FileError::Outside(
                    "leads outside the data root (through a symbolic link)".to_owned(),
                ));
            }
        }
        Ok(full)
    }

    /// The facts of `rel` now, or `None` when no such file exists. Reads
    /// the whole file: call it off the async executor for large files.
    pub fn facts(&self, rel: &str) -> Result<Option<FileFacts>, FileError> {
        let full = self.resolve(rel)?;
        let io = |source| FileError::Io {
            path: rel.to_owned(),
            source,
        };
        // Ask what it is before opening it: opening a FIFO would block.
        match std::fs::metadata(&full) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(FileError::Outside("is not a regular file".to_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        let mut f = match File::open(&full) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let meta = f.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(FileError::Outside("is not a regular file".to_owned()));
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size: u64 = 0;
        loop {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let modified: DateTime<Utc> = meta.modified().map_err(io)?.into();
        Ok(Some(FileFacts {
            sha256: hex::encode(hasher.finalize()),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            modified_at: modified.trunc_subsecs(6),
        }))
    }

    /// [`facts`](Self::facts) on a blocking thread.
    pub async fn facts_async(&self, rel: &str) -> Result<Option<FileFacts>, FileError> {
        let me = self.clone();
        let rel = rel.to_owned();
        match tokio::task::spawn_blocking(move || me.facts(&rel)).await {
            Ok(r) => r,
            Err(e) => Err(FileError::Io {
                path: String::new(),
                source: io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Characters that change how a path reads without showing (bidirectional
/// overrides, zero-width characters, the byte-order mark): a path holding
/// one could pass for another in a report or a log.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// One spelling per file for a path [`DataRoot::resolve`] accepted: its
/// normal parts joined by `/` (`./a//b/./x.wav` is `a/b/x.wav`), so two
/// records naming one file store the same text, and erasure, which keeps
/// a file another record names, compares like with like.
pub fn normal(rel: &str) -> String {
    Path::new(rel)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_file_has_one_spelling() {
        for same in [
            "a/b/x.wav",
            "./a/b/x.wav",
            "a//b/x.wav",
            "a/./b/x.wav",
            "a/b/x.wav/",
        ] {
            assert_eq!(normal(same), "a/b/x.wav", "{same}");
        }
        assert_eq!(normal("x.wav"), "x.wav");
    }

    fn root() -> (PathBuf, DataRoot) {
        let dir = std::env::temp_dir().join(format!("acoustics-root-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("p1011")).unwrap();
        (dir.clone(), DataRoot::new(dir))
    }

    #[test]
    fn paths_that_leave_the_root_are_refused() {
        let (_, r) = root();
        for bad in ["", "../x.pkl", "p1011/../../x", "/etc/passwd", "a\\..\\b"] {
            assert!(
                matches!(r.resolve(bad), Err(FileError::Outside(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(r.resolve("p1011/walk.pkl").is_ok());
        assert!(r.resolve("./p1011/walk.pkl").is_ok());
    }

    #[test]
    fn blank_paths_and_control_characters_are_refused() {
        let (_, r) = root();
        for bad in [
            "\u{c}",
            " ",
            "p1011/walk\n.pkl",
            "p1011/\u{1b}[2J.pkl",
            "p1011/walk\u{202e}lkp.exe",
            "p1011/\u{200b}walk.pkl",
        ] {
            assert!(
                matches!(r.resolve(bad), Err(FileError::Outside(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(r.resolve("p1011/walk 1.pkl").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_the_root_is_refused() {
        let (dir, r) = root();
        std::os::unix::fs::symlink("/etc", dir.join("out")).unwrap();
        assert!(matches!(
            r.resolve("out/hostname"),
            Err(FileError::Outside(_))
        ));
    }

    #[test]
    fn facts_hash_the_file_and_a_missing_file_has_none() {
        let (dir, r) = root();
        std::fs::write(dir.join("p1011/a.pkl"), b"abc").unwrap();
        let f = r.facts("p1011/a.pkl").unwrap().unwrap();
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(f.size, 3);
        assert!(r.facts("p1011/none.pkl").unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (dir, r) = root();
        let fifo = dir.join("p1011/pipe.pkl");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(
            r.facts("p1011/pipe.pkl"),
            Err(FileError::Outside(_))
        ));
    }
}
