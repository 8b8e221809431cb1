//! A byte buffer whose start is 64-byte aligned, so that section views can be
//! cast to `&[f32]`, `&[u32]`, ... without copying. Plain `Vec<u8>` only
//! guarantees alignment 1.

use std::mem::MaybeUninit;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// Owned, 64-byte aligned bytes of a fixed length.
pub struct AlignedBuf {
    blocks: Vec<Block>,
    len: usize,
}

impl AlignedBuf {
    /// Zero-filled buffer of `len` bytes. Fails (instead of aborting) when the
    /// allocation is impossible, so a bogus Content-Length cannot crash a page.
    pub fn zeroed(len: usize) -> Option<Self> {
        let n = len.div_ceil(64);
        let mut blocks = Vec::new();
        blocks.try_reserve_exact(n).ok()?;
        blocks.resize(n, Block([0; 64]));
        Some(AlignedBuf { blocks, len })
    }

    /// A buffer of `len` bytes written by `fill`, without zeroing them first
    /// (zeroing a 12 MB bundle cost 1.5–2 ms of a load). `fill` gets the
    /// uninitialized bytes and returns them initialized, as
    /// `Uint8Array::copy_to_uninit` does; if what it returns is not that
    /// whole slice, the bytes are zeroed, so nothing uninitialized is ever read.
    pub fn filled_by(
        len: usize,
        fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> &mut [u8],
    ) -> Option<Self> {
        let n = len.div_ceil(64);
        let mut blocks: Vec<Block> = Vec::new();
        blocks.try_reserve_exact(n).ok()?;
        let spare = blocks.spare_capacity_mut().get_mut(..n)?;
        // SAFETY: `MaybeUninit<Block>` is 64 bytes with no padding, so the `n`
        // spare blocks are `n * 64` possibly uninitialized bytes, borrowed
        // mutably from `blocks` for as long as `bytes` lives.
        let bytes: &mut [MaybeUninit<u8>] =
            unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast(), n * 64) };
        let (head, pad) = bytes.split_at_mut(len);
        pad.fill(MaybeUninit::new(0));
        let start = head.as_ptr() as *const u8;
        let written = fill(head);
        if !(std::ptr::eq(written.as_ptr(), start) && written.len() == len) {
            bytes.fill(MaybeUninit::new(0));
        }
        // SAFETY: all `n * 64` bytes are initialized: the padding above, the
        // first `len` by `fill` (it returned them as `&mut [u8]`) or by the
        // zeroing.
        unsafe { blocks.set_len(n) };
        Some(AlignedBuf { blocks, len })
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut b = Self::zeroed(bytes.len())?;
        b.as_mut_slice().copy_from_slice(bytes);
        Some(b)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        let all: &[u8] = bytemuck::cast_slice(&self.blocks);
        all.get(..self.len).unwrap_or(&[])
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        let all: &mut [u8] = bytemuck::cast_slice_mut(&mut self.blocks);
        match all.get_mut(..len) {
            Some(s) => s,
            None => &mut [],
        }
    }
}

// SAFETY: Block is plain bytes with no padding (size 64 = align 64).
unsafe impl bytemuck::Zeroable for Block {}
unsafe impl bytemuck::Pod for Block {}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_by_keeps_what_fill_wrote() {
        for len in [0usize, 1, 63, 64, 65, 1000] {
            let b = AlignedBuf::filled_by(len, |dst| {
                for (i, d) in dst.iter_mut().enumerate() {
                    d.write(i as u8 ^ 0x5a);
                }
                // SAFETY: every byte of `dst` was written just above.
                unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), dst.len()) }
            })
            .unwrap();
            assert_eq!(b.len(), len);
            assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
            assert!(b
                .as_slice()
                .iter()
                .enumerate()
                .all(|(i, &x)| x == i as u8 ^ 0x5a));
            // The padding after `len` is zero too (it is read as whole blocks).
            let all: &[u8] = bytemuck::cast_slice(&b.blocks);
            assert!(all[len..].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn filled_by_zeroes_when_fill_returns_another_slice() {
        let other: &'static mut [u8] = Box::leak(Box::new([1u8; 100]));
        let b = AlignedBuf::filled_by(100, |_| other).unwrap();
        assert!(b.as_slice().iter().all(|&x| x == 0));
        let b = AlignedBuf::filled_by(100, |dst| {
            dst.fill(MaybeUninit::new(3));
            // SAFETY: all of `dst` was just written; only half is returned.
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), 50) }
        })
        .unwrap();
        assert!(b.as_slice().iter().all(|&x| x == 0));
    }
}
