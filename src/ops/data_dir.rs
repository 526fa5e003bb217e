//! The folders Chorus writes to (the data directory, a SQLite database's
//! folder, the email outbox): checked at start-up, so that a read-only or
//! full file system is reported with its path and its cause instead of as a
//! vague error later. What Chorus creates there is its own: folders 0700,
//! files 0600, whatever the umask (the database and the outbox hold reset
//! links and personal data).

use std::io::Write;
use std::path::Path;

/// Creates a folder and its missing parents, each 0700 on Unix. A folder
/// that exists already is left as its owner set it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Sets a file's or folder's mode (Unix; the umask does not apply).
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Writes a new file readable by its owner only (0600), failing if it
/// exists.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    restrict(path, 0o600)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A SQLite database file and its -wal and -shm companions: created 0600
/// before SQLite opens it (SQLite gives its companions the database's
/// mode), and tightened to 0600 where they exist already.
pub fn private_sqlite_files(db: &Path) -> std::io::Result<()> {
    if !db.exists() {
        match write_private(db, &[]) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = std::path::PathBuf::from(name);
        if path.exists() {
            restrict(&path, 0o600)?;
        }
    }
    Ok(())
}

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

    #[cfg(unix)]
    #[test]
    fn private_folders_and_files_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir.path().join("a")), mode(&nested)), (0o700, 0o700));
        let file = nested.join("x.eml");
        write_private(&file, b"hello").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(write_private(&file, b"again").is_err(), "never overwritten");
    }

    #[test]
    fn a_missing_folder_is_reported_with_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let error = check_writable(&dir.path().join("missing")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }
}
