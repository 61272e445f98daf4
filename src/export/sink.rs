//! The bytes of one exported file on their way to disk.
//!
//! An export of 100,000 interviews writes about 2 GB, and through the page
//! cache the kernel's copy of it into freshly allocated pages cost as much
//! CPU as decrypting the store (on the 2-core machines it was measured on,
//! buffered writes ran at a quarter of the disk's speed). The data is not
//! read again by vicor, so on Linux a [`Sink`] writes whole aligned blocks
//! with `O_DIRECT`, straight from its own buffer to the disk, and only the
//! last partial block through the page cache. Where the file system refuses
//! direct I/O (tmpfs, some network mounts) it writes through the page cache
//! as any file; the bytes on disk are the same either way.

use std::fs::File;
use std::io;
use std::path::Path;

/// Alignment of buffer, length and offset for direct writes: the page size,
/// which covers the logical block size of every common device.
const ALIGN: usize = 4096;

/// Bytes gathered before a write: big enough that the wait for the disk is
/// a small part of it.
const BLOCK: usize = 4 << 20;

pub(crate) struct Sink {
    /// Opened without `O_DIRECT`: the tail, the fallback and `sync_all`.
    file: File,
    /// The same file opened with `O_DIRECT`, while direct writes work.
    direct: Option<File>,
    /// `BLOCK` bytes starting at an `ALIGN` boundary of this vector; safe
    /// code has no aligned allocation, so the vector is `ALIGN` longer.
    storage: Vec<u8>,
    start: usize,
    filled: usize,
    /// Bytes already written to the file.
    offset: u64,
}

impl Sink {
    pub fn create(path: &Path) -> io::Result<Sink> {
        let file = File::create(path)?;
        let direct = open_direct(path);
        let storage = if direct.is_some() {
            vec![0; BLOCK + ALIGN]
        } else {
            Vec::new()
        };
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Ok(Sink {
            file,
            direct,
            storage,
            start,
            filled: 0,
            offset: 0,
        })
    }

    pub fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.direct.is_none() {
                return self.buffered(bytes);
            }
            let take = (BLOCK - self.filled).min(bytes.len());
            let at = self.start + self.filled;
            self.storage[at..at + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == BLOCK {
                self.write_block(BLOCK)?;
            }
        }
        Ok(())
    }

    /// Writes the first `len` bytes of the buffer (a multiple of `ALIGN`)
    /// and moves what follows them to the front.
    fn write_block(&mut self, len: usize) -> io::Result<()> {
        debug_assert_eq!(len % ALIGN, 0);
        let block = &self.storage[self.start..self.start + len];
        let refused = match &self.direct {
            Some(direct) => match write_all_at(direct, block, self.offset) {
                Ok(()) => false,
                // The file system or device takes no direct writes after
                // all (or not of this alignment).
                Err(e) if e.raw_os_error() == Some(EINVAL) => true,
                Err(e) => return Err(e),
            },
            None => true,
        };
        if refused {
            // Positional, so a block written in part is simply written again.
            self.direct = None;
            write_all_at(&self.file, block, self.offset)?;
        }
        self.offset += len as u64;
        let rest = self.start + len..self.start + self.filled;
        self.storage.copy_within(rest, self.start);
        self.filled -= len;
        Ok(())
    }

    fn buffered(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.filled > 0 {
            // Direct writes stopped with bytes still gathered.
            let gathered = self.start..self.start + self.filled;
            write_all_at(&self.file, &self.storage[gathered], self.offset)?;
            self.offset += self.filled as u64;
            self.filled = 0;
        }
        write_all_at(&self.file, bytes, self.offset)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes what is left and waits until the file is on disk.
    pub fn finish(mut self) -> io::Result<()> {
        let whole = self.filled / ALIGN * ALIGN;
        if whole > 0 && self.direct.is_some() {
            self.write_block(whole)?;
        }
        self.buffered(&[])?;
        self.file.sync_all()
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> Option<File> {
    None
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        let n = file.seek_write(bytes, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes `chunks`; with `refuse_at`, direct writes stop working
    /// before that chunk, as when a file system refuses them.
    fn written(chunks: &[Vec<u8>], dir: &Path, refuse_at: Option<usize>) -> Vec<u8> {
        let path = dir.join("out.csv");
        let mut sink = Sink::create(&path).expect("create");
        for (i, c) in chunks.iter().enumerate() {
            if refuse_at == Some(i) {
                sink.direct = None;
            }
            sink.write_all(c).expect("write");
        }
        sink.finish().expect("finish");
        std::fs::read(&path).expect("read back")
    }

    #[test]
    fn a_file_of_several_blocks_and_a_tail_reads_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Crosses two block boundaries and ends mid-page.
        let chunk: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let chunks = vec![chunk.clone(); 9];
        assert_eq!(written(&chunks, dir.path(), None), chunks.concat());
    }

    #[test]
    fn an_empty_file_stays_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(written(&[], dir.path(), None).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_chunks_read_back_as_written(
            sizes in proptest::collection::vec(0usize..(3 * ALIGN), 0..12),
            big in proptest::option::of(BLOCK - 2 * ALIGN..BLOCK + 2 * ALIGN),
            refuse_at in proptest::option::of(0usize..14),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut chunks: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| vec![b'a' + (i % 26) as u8; *n])
                .collect();
            if let Some(n) = big {
                chunks.insert(chunks.len() / 2, vec![b'!'; n]);
            }
            prop_assert_eq!(written(&chunks, dir.path(), refuse_at), chunks.concat());
        }
    }
}
