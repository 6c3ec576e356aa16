//! Output files: atomic writes, and the probe that refuses an unwritable path before any AWS call.

use std::io::Write;
use std::path::Path;

/// Writes a file atomically: a temporary file in the same directory, flushed and synced, then renamed over
/// the target. A reader never sees a half-written report and an earlier report survives a failed write.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = match path.parent() {
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
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `-` as an output path: the output goes to stdout (`--json -`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Checks before the scan that `path` can be written (its directory exists and accepts a new file), so a bad
/// path is refused before any AWS call rather than after an hour of scanning.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(format!("output path '{}' is a directory; give a file path", path.display()));
    }
    if !dir.is_dir() {
        return Err(format!("output path '{}': directory '{}' does not exist", path.display(), dir.display()));
    }
    tempfile::Builder::new()
        .prefix(".orgscan-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("output path '{}' is not writable: {e}", path.display()))
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
