//! The key behind CSRF tokens: from CHORUS_SECRET_KEY, or generated once and
//! kept in the data dir so that restarts keep forms valid.

use std::io::Write;
use std::path::Path;

use crate::credentials;

pub const FILE_NAME: &str = "secret.key";
const MIN_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("CHORUS_SECRET_KEY must be at least {MIN_LEN} characters long")]
    TooShort,
    #[error("cannot read or write the secret key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub fn load_or_create(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<Vec<u8>, SecretKeyError> {
    if let Some(key) = configured.map(str::trim).filter(|k| !k.is_empty()) {
        if key.len() < MIN_LEN {
            return Err(SecretKeyError::TooShort);
        }
        return Ok(key.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE_NAME);
    let io = |source| SecretKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= MIN_LEN => {
            // Kept from an older version, perhaps readable by others.
            crate::ops::data_dir::restrict(&path, 0o600).map_err(io)?;
            return Ok(existing.trim().as_bytes().to_vec());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let key = credentials::random_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            crate::ops::data_dir::restrict(&path, 0o600).map_err(io)?;
            file.write_all(key.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(key.into_bytes())
        }
        // Another process wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = std::fs::read_to_string(&path).map_err(io)?;
            Ok(existing.trim().as_bytes().to_vec())
        }
        Err(e) => Err(io(e)),
    }
}
