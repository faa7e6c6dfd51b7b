//! Files imagegate writes: where its cache lives in the user's home, and
//! writes that readers never see half done.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// imagegate's directory in the user's cache: `$IMAGEGATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/imagegate`, else `$HOME/.cache/imagegate`; `None` when
/// none is set. Pulled policies and compiled modules live below it.
pub fn cache_root() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("IMAGEGATE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("imagegate")))
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache").join("imagegate")))
}

/// Writes `bytes` to `path` through a temporary file renamed into place
/// (removed again when the write fails), creating the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create \"{}\"", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write \"{}\"", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write \"{}\"", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
