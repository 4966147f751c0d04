//! An owned, 8-byte-aligned byte buffer for graph files held in memory.
//!
//! A graph file is read in place as `&[u32]` and `&[u16]` sections, which needs the buffer
//! to be at least 4-byte aligned; a `Vec<u8>` promises only 1. Backing the bytes with `u64`
//! words gives the alignment that a memory map (page-aligned) has for free.

/// Bytes backed by `u64` words: aligned for in-place reads of a graph file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBytes")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl AlignedBytes {
    /// `len` zero bytes; large buffers are advised onto transparent huge pages (Linux), as a
    /// search reads them at random.
    pub fn zeroed(len: usize) -> AlignedBytes {
        AlignedBytes {
            words: huge_page_buffer(len.div_ceil(8)),
            len,
        }
    }

    /// A copy of `bytes`.
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let mut out = AlignedBytes::zeroed(bytes.len());
        out.as_mut().copy_from_slice(bytes);
        out
    }

    /// Heap bytes held.
    pub fn capacity(&self) -> usize {
        self.words.capacity() * 8
    }
}

impl AsRef<[u8]> for AlignedBytes {
    fn as_ref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }
}

impl AsMut<[u8]> for AlignedBytes {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

/// A zeroed buffer, backed by transparent huge pages where Linux offers them: random reads
/// over hundreds of megabytes miss the TLB on nearly every node with 4 kB pages.
pub(crate) fn huge_page_buffer<T: Copy + Default>(len: usize) -> Vec<T> {
    // A zero-filled `vec!` of this size comes from a fresh, untouched mmap (calloc), so the
    // advice below applies before any page is faulted in.
    let buffer = vec![T::default(); len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&buffer);
    buffer
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(buffer: &[T]) {
    const HUGE: usize = 2 << 20;
    let start = buffer.as_ptr() as usize;
    let end = start + std::mem::size_of_val(buffer);
    let aligned = start.next_multiple_of(HUGE);
    if end > aligned + HUGE {
        let len = (end - aligned) / HUGE * HUGE;
        // SAFETY: the range lies inside `buffer`'s allocation; MADV_HUGEPAGE is only advice
        // and changes no contents. Failure (e.g. THP disabled) leaves ordinary pages.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_exactly_as_long_as_asked() {
        for len in [0, 1, 7, 8, 9, 3 << 20] {
            let b = AlignedBytes::zeroed(len);
            assert_eq!(b.as_ref().len(), len);
            assert_eq!(b.as_ref().as_ptr() as usize % 8, 0);
            assert!(b.as_ref().iter().all(|&x| x == 0));
        }
        assert_eq!(AlignedBytes::copy_from(b"abc").as_ref(), b"abc");
    }
}
