//! Buffers that start on a cache line (64 bytes), for the operands of AMX tile loads and 512-bit loads.
//!
//! A `Vec<u16>` starts wherever the allocator puts it (glibc: 16 bytes past a page for large blocks),
//! so every 64-byte row a tile load reads then straddles two cache lines. Measured on a Sapphire
//! Rapids core: 2×2 AMX tile products with their four tile loads per step ran at 1.07 TFLOP/s from
//! rows 16 bytes off a line and 2.88 TFLOP/s from aligned rows (3.4 with no loads at all).

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use bytemuck::{Pod, Zeroable};

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct CacheLine([u8; 64]);

// SAFETY: 64 bytes and no padding (the size equals the alignment); every bit pattern is valid.
unsafe impl Zeroable for CacheLine {}
// SAFETY: as above; `Copy` and `'static`.
unsafe impl Pod for CacheLine {}

/// A resizable run of `T` that starts on a cache line; new elements are zero.
#[derive(Clone)]
pub(crate) struct AlignedVec<T> {
    lines: Vec<CacheLine>,
    len: usize,
    element: PhantomData<T>,
}

impl<T: Pod> AlignedVec<T> {
    /// An empty buffer (no allocation).
    pub(crate) const fn new() -> Self {
        Self {
            lines: Vec::new(),
            len: 0,
            element: PhantomData,
        }
    }

    /// `len` zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self::filled(len, T::zeroed())
    }

    /// `len` copies of `value`, written once (the cache lines are built from it).
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let mut line = CacheLine([0; 64]);
        bytemuck::cast_slice_mut::<u8, T>(&mut line.0).fill(value);
        Self {
            lines: vec![line; Self::lines_for(len)],
            len,
            element: PhantomData,
        }
    }

    /// Sets the length to `len`: elements below the old length keep their values, the others are zero.
    pub(crate) fn resize(&mut self, len: usize) {
        // Elements the lines already held past the old length may be stale; new lines are zero.
        let held = self.lines.len() * size_of::<CacheLine>() / size_of::<T>();
        let lines = Self::lines_for(len);
        if lines > self.lines.len() {
            self.lines.resize(lines, CacheLine([0; 64]));
        }
        let (old, stale_end) = (self.len.min(len), held.min(len));
        self.len = len;
        if old < stale_end {
            self[old..stale_end].fill(T::zeroed());
        }
    }

    fn lines_for(len: usize) -> usize {
        (len * size_of::<T>()).div_ceil(size_of::<CacheLine>())
    }

    /// Sets the length to `len` with every element zero.
    pub(crate) fn zero(&mut self, len: usize) {
        self.len = 0;
        self.resize(len);
    }
}

impl<T: Pod> Default for AlignedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Pod> Deref for AlignedVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }
}

impl<T: Pod> DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut bytemuck::cast_slice_mut(&mut self.lines)[..self.len]
    }
}

impl<T> fmt::Debug for AlignedVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AlignedVec({} elements)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_zeroes_what_it_adds() {
        let mut v = AlignedVec::<u16>::zeroed(3);
        assert_eq!(v.as_ptr() as usize % 64, 0);
        assert_eq!(&v[..], &[0, 0, 0]);
        v.copy_from_slice(&[1, 2, 3]);
        v.resize(2);
        v.resize(100);
        assert_eq!(v.len(), 100);
        assert_eq!(
            &v[..3],
            &[1, 2, 0],
            "shrinking then growing zeroes the dropped elements"
        );
        assert!(v[2..].iter().all(|&x| x == 0));
        assert_eq!(v.as_ptr() as usize % 64, 0);
        v.zero(5);
        assert_eq!(&v[..], &[0; 5]);
        let f = AlignedVec::<u8>::filled(70, 0x80);
        assert_eq!(f.as_ptr() as usize % 64, 0);
        assert!(f.len() == 70 && f.iter().all(|&b| b == 0x80));
    }
}
