//! The demo folder: everything `serve --demo` makes lives in one directory,
//! so a restart finds the same data, pepper and key, and `--fresh` or
//! deleting the folder starts over.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use custodian_core::{Store, seal::Kek};
use custodian_ledger::audit::Actor;
use custodian_privacy::{access::Role, keys, pseudonym::Pseudonymizer};

use crate::command::write_private;

/// Marks a folder as the demo's own: `--fresh` deletes only a folder
/// holding it, never one a user made.
const MARKER: &str = ".custodian-demo";
/// The pepper, hex; demo-only.
const PEPPER: &str = "pepper";
const KEK: &str = "kek";
/// The admin key, on one line, so `KEY=$(cat custodian-demo/admin.key)` works.
const ADMIN_KEY: &str = "admin.key";

/// The folder `serve --demo` keeps its database, recordings, pepper and
/// admin key in.
pub struct DemoDir {
    root: PathBuf,
}

impl DemoDir {
    /// Opens (making it if missing) the demo folder; with `fresh`, first
    /// deletes everything an earlier demo left there.
    pub fn open(root: &Path, fresh: bool) -> Result<Self> {
        let marker = root.join(MARKER);
        if root.exists() && !marker.exists() && !is_empty_dir(root)? {
            bail!(
                "{} exists but was not made by `serve --demo` (no {MARKER} file in it); \
                 pick another folder with --demo-dir",
                root.display()
            );
        }
        if fresh && root.exists() {
            std::fs::remove_dir_all(root)
                .with_context(|| format!("removing the old demo in {}", root.display()))?;
        }
        // The demo's database holds (synthetic) personal data: owner only.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(root)
            .with_context(|| format!("creating {}", root.display()))?;
        if !marker.exists() {
            std::fs::write(
                &marker,
                "Made by `custodian serve --demo`: the demo's database, recordings, pepper and \
                 admin key. Demo only: never put real data here. Delete the folder, or run \
                 `custodian serve --demo --fresh`, to start over.\n",
            )
            .with_context(|| format!("writing {}", marker.display()))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The demo's SQLite database.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.root.join("custodian.db").display())
    }

    /// Where the demo's recordings are written and served from.
    pub fn media_dir(&self) -> PathBuf {
        self.root.join("media")
    }

    /// Where the demo's registered research files are written.
    pub fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    /// The demo pepper: read from the folder, or made once and kept there
    /// (mode 0600), so a restart gives every person the same pseudonym.
    pub fn pseudonymizer(&self) -> Result<(Pseudonymizer, bool)> {
        let path = self.root.join(PEPPER);
        if path.exists() {
            regular_file(&path)?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let secret = hex::decode(text.trim()).with_context(|| {
                format!("{} is not a demo pepper (hex); delete it", path.display())
            })?;
            return Ok((Pseudonymizer::demo_with(secret)?, false));
        }
        if self.root.join("custodian.db").exists() {
            bail!(
                "{} is missing but the demo database is there: its pseudonymous ids were made \
                 with the lost pepper and would no longer match; start over with \
                 `serve --demo --fresh`",
                path.display()
            );
        }
        let secret = Pseudonymizer::demo_secret()?;
        write_private(&path, &hex::encode(&secret))?;
        Ok((Pseudonymizer::demo_with(secret)?, true))
    }

    /// The demo KEK: read from the folder, or made once and kept there
    /// (mode 0600), so a restart still opens what the demo sealed.
    pub fn kek(&self) -> Result<(Kek, bool)> {
        let path = self.root.join(KEK);
        if path.exists() {
            regular_file(&path)?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let secret: [u8; custodian_core::seal::KEY_LEN] = hex::decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| {
                    format!("{} is not a demo KEK (hex); delete it", path.display())
                })?;
            return Ok((Kek::demo_with(secret), false));
        }
        let secret = Kek::demo_secret();
        write_private(&path, &hex::encode(secret))?;
        Ok((Kek::demo_with(secret), true))
    }

    /// The demo's admin key: the kept one while it still works on this
    /// database, else a new one (kept, mode 0600). True when it is new.
    pub async fn admin_key(&self, store: &Store) -> Result<(String, String, bool)> {
        let path = self.root.join(ADMIN_KEY);
        if path.exists() {
            regular_file(&path)?;
        }
        if let Ok(text) = std::fs::read_to_string(&path) {
            let key = text.trim();
            if let Some(p) = keys::authenticate(store.conn(), key).await?
                && p.role == Role::Admin
            {
                return Ok((p.name, key.to_owned(), false));
            }
        }
        let name = match keys::list(store.conn())
            .await?
            .iter()
            .any(|k| k.name == "demo-admin")
        {
            // The file was lost or the key revoked: a new name, the old key stays as it is.
            true => format!("demo-admin-{}", super::uuid_suffix()),
            false => "demo-admin".to_owned(),
        };
        let (_, key) = keys::create(store, &name, Role::Admin, &Actor::system()).await?;
        // A stale key's file goes; the new one is written in its place.
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        write_private(&path, &key)?;
        Ok((name, key, true))
    }
}

/// A kept secret must be a plain file, not a link planted to another one.
fn regular_file(path: &Path) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.file_type().is_file() {
        bail!("{} is not a regular file; delete it", path.display());
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> Result<bool> {
    Ok(path.is_dir()
        && std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .next()
            .is_none())
}
