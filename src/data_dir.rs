//! The folders Chorus writes to (the data directory, a SQLite database's
//! folder, the email outbox): checked at start-up, so that a read-only or
//! full file system is reported with its path and its cause instead of as a
//! vague error later.

use std::io::Write;
use std::path::Path;

/// Creates, writes, flushes and removes a small file in `folder`. Fails with
/// the file system's own error: "Read-only file system", "No space left on
/// device", "Permission denied".
pub fn check_writable(folder: &Path) -> std::io::Result<()> {
    let probe = folder.join(format!(".chorus-write-check-{}", std::process::id()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|mut file| {
            // One page: on a full file system even this much fails.
            file.write_all(&[0_u8; 4096])?;
            file.sync_all()
        });
    let _ = std::fs::remove_file(&probe);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_passes_and_keeps_no_probe_file() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_folder_is_reported_with_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let error = check_writable(&dir.path().join("missing")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }
}
