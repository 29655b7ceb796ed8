//! Files that hold key material: created atomically with mode 0600, refused when group or
//! others can access them.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::random::fill_random;
use crate::CryptoError;

/// Key files are tiny; anything larger is not one of ours and is not read into memory.
pub(crate) const MAX_KEY_FILE_LEN: u64 = 4096;

/// Reads a key file, or returns `None` if it does not exist.
///
/// The file must be a regular file that neither group nor others can access, and at most
/// [`MAX_KEY_FILE_LEN`] bytes. The returned buffer is zeroized on drop.
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, CryptoError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CryptoError::io("open", path, e)),
    };
    // Checked on the open file, so a swap between check and read is impossible.
    let meta = file
        .metadata()
        .map_err(|e| CryptoError::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(CryptoError::InvalidKeyFile {
            path: path.to_owned(),
            reason: "not a regular file",
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::InsecureKeyFile {
            path: path.to_owned(),
            mode,
        });
    }
    let mut contents = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut contents)
        .map_err(|e| CryptoError::io("read", path, e))?;
    if contents.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(CryptoError::InvalidKeyFile {
            path: path.to_owned(),
            reason: "larger than any key file",
        });
    }
    Ok(Some(contents))
}

/// Creates `path` holding `contents` with mode 0600, unless it already exists.
///
/// Writes a temporary file in the same directory, fsyncs it, links it into place (a link, unlike a
/// rename, never replaces a file another process created meanwhile), removes the temporary name and
/// fsyncs the directory. Returns whether this call created the file; `false` means it already
/// existed and the caller should read it. Missing parent directories are created with mode 0700.
pub(crate) fn create_new(path: &Path, contents: &[u8]) -> Result<bool, CryptoError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name() else {
        return Err(CryptoError::InvalidKeyFile {
            path: path.to_owned(),
            reason: "path has no file name",
        });
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| CryptoError::io("create directory", &dir, e))?;

    let mut suffix = [0; 8];
    fill_random(&mut suffix)?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{:016x}", u64::from_be_bytes(suffix)));
    let tmp = dir.join(tmp_name);

    let written = write_synced(&tmp, contents).and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CryptoError::io("link into place", path, e)),
    });
    // The temporary name goes whether or not linking worked; a failure here only leaves litter.
    let _ = fs::remove_file(&tmp);
    let created = written?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CryptoError::io("fsync directory", &dir, e))?;
    Ok(created)
}

fn write_synced(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CryptoError::io("create", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CryptoError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_writes_0600_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/key");
        assert!(create_new(&path, b"first").unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!create_new(&path, b"second").unwrap());
        assert_eq!(read(&path).unwrap().unwrap().as_slice(), b"first");
        let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "temporary file left behind");
    }

    #[test]
    fn read_reports_missing_files_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn read_refuses_directories_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(CryptoError::InvalidKeyFile { .. })
        ));
        let big = dir.path().join("big");
        assert!(create_new(&big, &vec![b'a'; 5000]).unwrap());
        assert!(matches!(
            read(&big),
            Err(CryptoError::InvalidKeyFile { .. })
        ));
    }
}
