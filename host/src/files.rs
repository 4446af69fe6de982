//! Opening the files a config names (the config itself, components, `file`
//! channels) without ever blocking: a FIFO or a device at such a path would
//! block `open` or `read` until some other process acts, stalling whoever
//! asked. Each is opened non-blocking through a capability on its directory
//! and refused unless it is a regular file.

use std::ffi::OsString;
use std::io::{Error, ErrorKind, Read};
use std::path::Path;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

/// Opens the directory holding `path` as a capability and names the file in it.
pub fn open_parent(path: &Path) -> std::io::Result<(Dir, OsString)> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "not a file path"))?;
    Ok((open_dir_of(path)?, name.to_owned()))
}

/// Opens the directory holding `path` as a capability: for a bare file
/// name, the current directory.
pub fn open_dir_of(path: &Path) -> std::io::Result<Dir> {
    let parent = match path.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => Path::new("/"),
    };
    Dir::open_ambient_dir(parent, cap_std::ambient_authority())
}

/// Opens `name` in `dir` with `options`, refusing anything but a regular
/// file. The file is left in blocking mode for its reader.
pub fn open_regular(
    dir: &Dir,
    name: &std::ffi::OsStr,
    options: &mut OpenOptions,
) -> std::io::Result<std::fs::File> {
    let nonblocking = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let file = dir.open_with(name, options.custom_flags(nonblocking))?;
    if !file.metadata()?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let file = file.into_std();
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(file)
}

/// Reads the regular file at `path`, refusing one larger than `max` bytes.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let (dir, name) = open_parent(path)?;
    let file = open_regular(&dir, &name, OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}
