//! A byte buffer whose start is 64-byte aligned, so that section views can be
//! cast to `&[f32]`, `&[u32]`, ... without copying. Plain `Vec<u8>` only
//! guarantees alignment 1.

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
