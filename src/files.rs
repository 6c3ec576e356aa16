//! Output files: atomic writes, what an output path may be, and the probes that refuse a bad path (or two
//! outputs that are one file) before any AWS call; and the size of an output without writing it
//! ([`ByteCounter`]).
//!
//! What an output path accepts (README "Failure behaviour"):
//! - a regular file, or a path that does not exist yet in an existing directory: written atomically (a
//!   temporary file in the same directory, then renamed over it);
//! - a symlink: written through, never replaced: the file it points to is written as above (a dangling
//!   symlink is refused); `--json /dev/stdout` writes to the process's stdout;
//! - a character device or a FIFO (`/dev/null`, a named pipe): written in place, never replaced (a stream
//!   cannot be written atomically, so the whole output is rendered before the first byte);
//! - `-`: stdout, for `--json` only; any other kind of file (a directory, a socket, a block device) is refused.
//!
//! Inside an output directory (`--sarif-dir`, `--ocsf-dir`, `--asff-dir`) orgscan names the files itself, so
//! a symlink or special file there is refused and nothing is written or deleted through it.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes an output file as the module says: atomically over a regular file (through a symlink), in place
/// into a character device or FIFO. A reader never sees a half-written report and an earlier report survives
/// a failed write.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let target = resolve(path)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        match kind(&meta) {
            Kind::File => {}
            Kind::Stream => {
                let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
                let mut w = std::io::BufWriter::new(&mut f);
                write(&mut w)?;
                return w.flush();
            }
            Kind::Other(what) => {
                return Err(std::io::Error::other(format!("'{}' is {what}, not a file orgscan writes", target.display())));
            }
        }
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".orgscan-").suffix(".tmp").tempfile_in(dir)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// Writes `name` inside an output directory `dir` that orgscan fills itself: every existing component from
/// `dir` down must be a real directory (and the file, if there, a regular file), never a symlink out of the
/// tree; then atomically.
pub fn write_in_tree(dir: &Path, name: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    if let Some(parent) = name.parent() {
        create_dir_in_tree(dir, parent)?;
    }
    let path = dir.join(name);
    check_in_tree(dir, &path, false)?;
    write_atomic(&path, write)
}

/// Creates the directory `rel` inside `dir` (with its parents), refusing a symlink or anything but a
/// directory on the way; returns its path.
pub fn create_dir_in_tree(dir: &Path, rel: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(rel);
    check_in_tree(dir, &path, true)?;
    std::fs::create_dir_all(&path)?;
    // Checked again once created, so a symlink planted meanwhile is not followed either.
    check_in_tree(dir, &path, true)?;
    Ok(path)
}

/// Whether the directory `rel` inside `dir` exists as a real directory of the tree (no symlink on the way).
pub fn is_dir_in_tree(dir: &Path, rel: &Path) -> bool {
    let path = dir.join(rel);
    check_in_tree(dir, &path, true).is_ok() && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
}

/// Removes `path` (inside `dir`) only if it is a regular file of the tree: never through a symlink.
pub fn remove_in_tree(dir: &Path, path: &Path) -> std::io::Result<()> {
    check_in_tree(dir, path, false)?;
    std::fs::remove_file(path)
}

/// Refuses a symlink, or anything but a directory (for the last component: a directory if `last_dir`, else
/// a regular file), on the way from `dir` (excluded: the user named it) down to `path`.
fn check_in_tree(dir: &Path, path: &Path, last_dir: bool) -> std::io::Result<()> {
    let rel = path.strip_prefix(dir).map_err(|_| std::io::Error::other(format!("'{}' is outside '{}'", path.display(), dir.display())))?;
    let mut at = dir.to_path_buf();
    let n = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        if !matches!(c, std::path::Component::Normal(_)) {
            return Err(std::io::Error::other(format!("'{}' leaves the output directory '{}'", path.display(), dir.display())));
        }
        at.push(c);
        let last = i + 1 == n;
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "'{}' is a symlink inside the output directory '{}': orgscan never writes or deletes through one",
                    at.display(),
                    dir.display()
                )));
            }
            Ok(m) if (!last || last_dir) && !m.is_dir() => {
                return Err(std::io::Error::other(format!("'{}' is in the way: not a directory", at.display())));
            }
            Ok(m) if last && !last_dir && !m.is_file() => {
                return Err(std::io::Error::other(format!("'{}' is not a regular file", at.display())));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

enum Kind {
    File,
    /// A character device or a FIFO: written in place.
    Stream,
    Other(&'static str),
}

fn kind(meta: &std::fs::Metadata) -> Kind {
    let t = meta.file_type();
    if t.is_file() {
        return Kind::File;
    }
    if t.is_dir() {
        return Kind::Other("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_fifo() {
            return Kind::Stream;
        }
        if t.is_block_device() {
            return Kind::Other("a block device");
        }
        if t.is_socket() {
            return Kind::Other("a socket");
        }
    }
    Kind::Other("a special file")
}

/// The file a path names: itself, or what its symlink(s) point to (a dangling symlink is an error).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("'{}' is a symlink to nothing that exists ({e})", path.display()))),
        _ => Ok(path.to_path_buf()),
    }
}

/// `-` as an output path: the output goes to stdout (`--json -`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Checks before the scan that `path` can be written as the module says (its directory exists and accepts a
/// new file; or it is a character device or FIFO to write in place), so a bad path is refused before any AWS
/// call rather than after an hour of scanning.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let target = resolve(path).map_err(|e| format!("output path '{}': {e}", path.display()))?;
    if let Ok(meta) = std::fs::metadata(&target) {
        match kind(&meta) {
            Kind::File => {}
            // A FIFO is not opened: its reader would see the probe's close as the end of the report.
            Kind::Stream if is_fifo(&meta) => return Ok(()),
            Kind::Stream => {
                return std::fs::OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map(drop)
                    .map_err(|e| format!("output path '{}' is not writable: {e}", path.display()));
            }
            Kind::Other("a directory") => return Err(format!("output path '{}' is a directory; give a file path", path.display())),
            Kind::Other(what) => {
                return Err(format!(
                    "output path '{}' is {what}: give a regular file (or a symlink to one), a character device or a FIFO",
                    path.display()
                ));
            }
        }
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!("output path '{}': directory '{}' does not exist", path.display(), dir.display()));
    }
    tempfile::Builder::new()
        .prefix(".orgscan-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("output path '{}' is not writable: {e}", path.display()))
}

fn is_fifo(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        meta.file_type().is_fifo()
    }
    #[cfg(not(unix))]
    false
}

/// What an output or input path is as a file, for telling two paths that name one file apart from two that
/// do not: the device and inode of an existing file (through symlinks), else its canonical directory and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

pub fn identity(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(Identity::Inode(m.dev(), m.ino()));
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(Identity::Path(std::fs::canonicalize(dir).ok()?.join(name)))
}

/// Whether `path` is a stream (character device or FIFO, through symlinks): many outputs may share one
/// (`/dev/null`), so they never collide.
pub fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| matches!(kind(&m), Kind::Stream))
}

/// Whether `path` (a file that may not exist yet) lies inside directory `dir`, compared as files.
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else { return false };
    let parent = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::canonicalize(parent).is_ok_and(|p| p.starts_with(&dir))
}

/// An `io::Write` that only counts the bytes written to it: the size of an output without holding it.
pub struct ByteCounter(pub usize);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, |w: &mut dyn Write| w.write_all(b"first")).unwrap();
        write_atomic(&p, |w: &mut dyn Write| w.write_all(b"second")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        // A failing writer leaves the earlier file untouched.
        let err = write_atomic(&p, |w: &mut dyn Write| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["r.json"]);
    }

    #[test]
    fn unwritable_paths_are_named() {
        let err = check_writable(Path::new("/no/such/dir/out.json")).unwrap_err();
        assert!(err.contains("'/no/such/dir/out.json'") && err.contains("does not exist"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(dir.path()).unwrap_err().contains("is a directory"));
        assert!(check_writable(&dir.path().join("ok.json")).is_ok());
    }
}
