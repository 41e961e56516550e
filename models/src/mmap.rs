//! Memory-mapped model files: the file's pages are mapped read-only and read in place, so
//! parsing a model touches only its header and tensor directory, and tensor data is paged in by
//! the OS when (and if) it is used.

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::Mmap;

use crate::gguf::{Gguf, Result};

/// A file mapped read-only into memory.
#[derive(Debug)]
pub struct MappedFile {
    map: Mmap,
}

impl MappedFile {
    /// Map the file at `path`.
    ///
    /// The file must not be modified (by this or another process) while it is mapped: that is
    /// the contract under which a mapping can be read as a `&[u8]`, the same one llama.cpp relies
    /// on. Model files are written once and then only read.
    #[allow(unsafe_code)]
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the mapping is read-only and private to this `MappedFile`, which owns it for as
        // long as any `&[u8]` borrowed from it lives. Soundness additionally requires that the
        // underlying file is not truncated or modified while mapped; as documented above, that is
        // the caller's contract for model files (memmap2 cannot enforce it).
        let map = unsafe { Mmap::map(&file)? };
        // Ask for 2 MiB pages: where the file system keeps the file in large page-cache folios
        // (ext4 and xfs on recent kernels read a `MADV_HUGEPAGE` range into them), the weights are
        // then mapped with one TLB entry per 2 MiB instead of 512. A hint: refused or ignored, the
        // mapping works the same.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        Ok(Self { map })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Parse the file as GGUF, borrowing from the mapping.
    pub fn gguf(&self) -> Result<Gguf<'_>> {
        Gguf::parse(self.bytes())
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GgufWriter;
    use std::format;

    #[test]
    fn maps_and_parses_a_written_file() {
        let data = [0u8; 64];
        let bytes = GgufWriter::new()
            .add_string("general.architecture", "llama")
            .add_tensor("t", &[16], crate::QuantType::F32, &data)
            .to_bytes()
            .unwrap();
        let path = std::env::temp_dir().join(format!("emberlm-mmap-test-{}.gguf", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let mapped = MappedFile::open(&path).unwrap();
        assert_eq!(mapped.bytes(), &bytes[..]);
        let gguf = mapped.gguf().unwrap();
        assert_eq!(gguf.architecture().unwrap(), "llama");
        let t = gguf.tensor("t").unwrap();
        // the data section is aligned in the file and mappings are page-aligned
        assert_eq!(t.bytes().as_ptr() as usize % 32, 0);
        assert_eq!(t.bytes().len(), 64);
        drop(gguf);
        drop(mapped);
        std::fs::remove_file(&path).unwrap();
        assert!(MappedFile::open(&path).is_err());
    }
}
