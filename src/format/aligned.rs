//! A byte buffer whose start is 64-byte aligned, so that section views can be
//! cast to `&[f32]`, `&[u32]`, ... without copying. Plain `Vec<u8>` only
//! guarantees alignment 1.

use crate::error::{At, Error};
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

    /// An empty buffer with room for `cap` bytes reserved but not touched
    /// (no page is written, so nothing is committed until bytes arrive).
    pub fn with_capacity(cap: usize) -> Option<Self> {
        let mut blocks = Vec::new();
        blocks.try_reserve_exact(cap.div_ceil(64)).ok()?;
        Some(AlignedBuf { blocks, len: 0 })
    }

    /// Bytes that fit without reallocating.
    pub fn capacity(&self) -> usize {
        self.blocks.capacity().saturating_mul(64)
    }

    /// Grows the reservation to at least `cap` bytes; `None` when the
    /// allocation fails (the buffer is unchanged then).
    pub fn reserve_total(&mut self, cap: usize) -> Option<()> {
        let want = cap.div_ceil(64);
        let extra = want.saturating_sub(self.blocks.len());
        self.blocks.try_reserve_exact(extra).ok()
    }

    /// Appends `n` bytes written by `fill`, with [`AlignedBuf::filled_by`]'s
    /// contract (if `fill` does not return the whole slice, the bytes are
    /// zeroed). Grows the allocation when needed; `None` if that fails.
    pub fn append_with(
        &mut self,
        n: usize,
        fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> &mut [u8],
    ) -> Option<()> {
        let new_len = self.len.checked_add(n)?;
        let new_blocks = new_len.div_ceil(64);
        self.reserve_total(new_len)?;
        let old_blocks = self.blocks.len();
        let start = self.len;
        let base = self.blocks.as_mut_ptr().cast::<MaybeUninit<u8>>();
        // SAFETY: the allocation holds `capacity ≥ new_blocks` blocks (just
        // reserved), i.e. `new_blocks * 64` bytes from `base`; the first
        // `old_blocks * 64` are initialized, the rest may not be, which
        // `MaybeUninit<u8>` allows. The slice borrows `self.blocks` mutably
        // for as long as `bytes` lives, and nothing else touches it.
        let bytes: &mut [MaybeUninit<u8>] =
            unsafe { std::slice::from_raw_parts_mut(base, new_blocks * 64) };
        let (_, tail) = bytes.split_at_mut(start);
        let (head, pad) = tail.split_at_mut(n);
        pad.fill(MaybeUninit::new(0));
        let head_ptr = head.as_ptr() as *const u8;
        let written = fill(head);
        if !(std::ptr::eq(written.as_ptr(), head_ptr) && written.len() == n) {
            tail.fill(MaybeUninit::new(0));
        }
        // SAFETY: blocks ..old_blocks were initialized before; of the new
        // ones, bytes start..start+n were written by `fill` (or zeroed) and
        // the rest up to new_blocks * 64 is the zeroed padding.
        unsafe { self.blocks.set_len(new_blocks.max(old_blocks)) };
        self.len = new_len;
        Some(())
    }

    /// Appends a copy of `bytes` (native callers and tests).
    pub fn append(&mut self, bytes: &[u8]) -> Option<()> {
        self.append_with(bytes.len(), |dst| {
            for (d, &b) in dst.iter_mut().zip(bytes) {
                d.write(b);
            }
            // SAFETY: every byte of `dst` was written just above
            // (`dst.len() == bytes.len()`).
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), dst.len()) }
        })
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

/// Bytes reserved up front from a declared length (an HTTP Content-Length,
/// which the server controls): a lying header costs at most this much before
/// the bytes prove it. Typical bundles fit, so they still land in one
/// allocation with no copy.
pub const EAGER_BYTES: usize = 32 << 20;

/// A bundle arriving in chunks, written into aligned memory as it comes.
/// Memory follows the bytes received (doubling, at most to the declared or
/// maximum length), never the declared length alone, and never past `max`
/// (`TOO_LARGE`). Dropping it frees everything, so a failed load leaves
/// nothing behind.
#[derive(Debug)]
pub struct Intake {
    buf: AlignedBuf,
    expected: Option<usize>,
    max: usize,
    /// Section CRCs computed as each section's last byte arrives, so the
    /// checksum work overlaps the download instead of following it.
    crcs: SectionCrcs,
}

/// (offset, length, CRC-32) of one section, computed over its bytes.
pub type SectionCrc = (u64, u64, u32);

/// The CRC-32 of every section whose bytes have all arrived, in table order.
/// Only the table's offsets and lengths are read from the (untrusted) bytes,
/// to know where sections end; the CRCs are computed here over the bytes
/// themselves and handed to [`super::read::parse_with`], which still compares
/// them with the table and checks the layout as before.
#[derive(Debug, Default)]
struct SectionCrcs {
    /// (offset, length) of each table entry, once the table has arrived.
    table: Option<Vec<(u64, u64)>>,
    done: Vec<SectionCrc>,
}

/// Above this many entries the table is not read ahead (no bundle has more
/// than a few dozen sections); `parse` then checks every CRC itself.
const MAX_AHEAD_ENTRIES: u64 = 4096;

impl SectionCrcs {
    fn advance(&mut self, bytes: &[u8]) {
        if self.table.is_none() {
            let word = |at: usize, n: usize| -> Option<u64> {
                let b = bytes.get(at..at + n)?;
                let mut a = [0u8; 8];
                a.get_mut(..n)?.copy_from_slice(b);
                Some(u64::from_le_bytes(a))
            };
            let Some(count) = word(16, 4) else { return };
            if count > MAX_AHEAD_ENTRIES {
                self.table = Some(Vec::new());
                return;
            }
            let entries = usize::try_from(count).unwrap_or(0);
            let table_end = super::HEADER_LEN + entries * super::ENTRY_LEN;
            if bytes.len() < table_end {
                return;
            }
            let mut t = Vec::with_capacity(entries);
            for i in 0..entries {
                let e = super::HEADER_LEN + i * super::ENTRY_LEN;
                match (word(e + 8, 8), word(e + 16, 8)) {
                    (Some(o), Some(l)) => t.push((o, l)),
                    _ => break,
                }
            }
            self.table = Some(t);
        }
        let Some(table) = &self.table else { return };
        while let Some(&(offset, length)) = table.get(self.done.len()) {
            let range = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(length).ok())
                .and_then(|(o, l)| Some(o..o.checked_add(l)?));
            let Some(body) = range.and_then(|r| bytes.get(r)) else {
                return; // not all here yet (or out of bounds: parse reports it)
            };
            self.done.push((offset, length, super::crc32::hash(body)));
        }
    }
}

impl Intake {
    /// `expected`: the declared length, if any (checked against `max` here
    /// and against the bytes at [`Intake::finish`]); `max`: the caller's
    /// maximum bundle size ([`super::DEFAULT_MAX_BUNDLE_BYTES`] by default).
    pub fn new(expected: Option<u64>, max: u64) -> Result<Intake, Error> {
        if let Some(e) = expected.filter(|&e| e > max) {
            return Err(Error::TooLarge { size: e, max });
        }
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        // ≤ max, so it fits usize.
        let expected = expected.map(|e| usize::try_from(e).unwrap_or(max));
        let eager = expected.unwrap_or(0).min(EAGER_BYTES);
        let buf = AlignedBuf::with_capacity(eager).ok_or(Error::SizeOverflow {
            what: "bundle buffer",
        })?;
        Ok(Intake {
            buf,
            expected,
            max,
            crcs: SectionCrcs::default(),
        })
    }

    pub fn received(&self) -> usize {
        self.buf.len()
    }

    pub fn expected(&self) -> Option<usize> {
        self.expected
    }

    /// Bytes reserved so far (what a lying Content-Length can cost).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn make_room(&mut self, n: usize) -> Result<(), Error> {
        let need = self.buf.len().checked_add(n).ok_or(Error::SizeOverflow {
            what: "bundle length",
        })?;
        if need > self.max {
            return Err(Error::TooLarge {
                size: need as u64,
                max: self.max as u64,
            });
        }
        if let Some(e) = self.expected.filter(|&e| need > e) {
            return Err(Error::InvalidArgument {
                what: format!(
                    "{n} more bytes after {} overrun the declared length of {e} bytes",
                    self.buf.len()
                ),
            });
        }
        if need <= self.buf.capacity() {
            return Ok(());
        }
        let cap = need
            .max(self.buf.capacity().saturating_mul(2))
            .min(self.expected.unwrap_or(self.max))
            .min(self.max)
            .max(need);
        self.buf.reserve_total(cap).ok_or(Error::SizeOverflow {
            what: "bundle buffer",
        })
    }

    /// Appends `n` bytes written by `fill` (see [`AlignedBuf::append_with`]).
    pub fn push_with(
        &mut self,
        n: usize,
        fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> &mut [u8],
    ) -> Result<(), Error> {
        self.make_room(n)?;
        self.buf.append_with(n, fill).ok_or(Error::SizeOverflow {
            what: "bundle buffer",
        })?;
        self.crcs.advance(self.buf.as_slice());
        Ok(())
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.make_room(bytes.len())?;
        self.buf.append(bytes).ok_or(Error::SizeOverflow {
            what: "bundle buffer",
        })?;
        self.crcs.advance(self.buf.as_slice());
        Ok(())
    }

    /// Appends `n` zero bytes (a write that skips ahead).
    pub fn push_zeros(&mut self, n: usize) -> Result<(), Error> {
        self.push_with(n, |dst| {
            dst.fill(MaybeUninit::new(0));
            // SAFETY: every byte of `dst` was just written.
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), dst.len()) }
        })
    }

    /// The bytes received so far, for overwriting in place. The CRCs
    /// computed so far are dropped: the bytes they covered may change.
    pub fn received_mut(&mut self) -> &mut [u8] {
        self.crcs = SectionCrcs::default();
        self.buf.as_mut_slice()
    }

    /// How many sections have been checksummed while arriving.
    pub fn sections_checksummed(&self) -> usize {
        self.crcs.done.len()
    }

    /// [`Intake::finish`], with the section CRCs computed on the way, for
    /// [`super::read::parse_with`].
    pub fn finish_known(self) -> Result<(AlignedBuf, Vec<SectionCrc>), Error> {
        let Intake {
            buf,
            expected,
            max,
            crcs,
        } = self;
        let whole = Intake {
            buf,
            expected,
            max,
            crcs: SectionCrcs::default(),
        }
        .finish()?;
        Ok((whole, crcs.done))
    }

    /// The whole bundle: `TRUNCATED` if fewer bytes came than declared.
    pub fn finish(self) -> Result<AlignedBuf, Error> {
        match self.expected {
            Some(e) if e != self.buf.len() => Err(Error::Truncated {
                at: At {
                    section: "BUNDLE",
                    offset: self.buf.len() as u64,
                },
                need: e as u64,
                have: self.buf.len() as u64,
            }),
            _ => Ok(self.buf),
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
                    d.write(i.to_le_bytes()[0] ^ 0x5a);
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
                .all(|(i, &x)| x == i.to_le_bytes()[0] ^ 0x5a));
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

    #[test]
    fn append_grows_and_keeps_alignment_and_zero_padding() {
        let mut b = AlignedBuf::with_capacity(0).unwrap();
        let mut want = Vec::new();
        for (k, n) in [1usize, 63, 64, 65, 0, 1000, 7].into_iter().enumerate() {
            let chunk: Vec<u8> = (0..n).map(|i| (i * 7 + k).to_le_bytes()[0]).collect();
            b.append(&chunk).unwrap();
            want.extend_from_slice(&chunk);
            assert_eq!(b.as_slice(), &want[..]);
            assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
            let all: &[u8] = bytemuck::cast_slice(&b.blocks);
            assert!(all[want.len()..].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn intake_commits_memory_as_bytes_arrive() {
        let max = crate::format::DEFAULT_MAX_BUNDLE_BYTES;
        // A Content-Length of 2 GB: refused at once, nothing reserved.
        assert_eq!(
            Intake::new(Some(2_000_000_000), max).unwrap_err().code(),
            "TOO_LARGE"
        );
        // 400 MB declared, 1 MB sent: at most EAGER_BYTES reserved, then
        // TRUNCATED, and dropping it frees the lot.
        let mut i = Intake::new(Some(400 << 20), max).unwrap();
        assert!(i.capacity() <= EAGER_BYTES);
        i.push(&vec![1u8; 1 << 20]).unwrap();
        assert!(i.capacity() <= EAGER_BYTES);
        assert_eq!(i.finish().unwrap_err().code(), "TRUNCATED");
        // No declared length: grows with the bytes, at most 2× them.
        let mut i = Intake::new(None, 10 << 20).unwrap();
        for _ in 0..40 {
            i.push(&[7u8; 100_000]).unwrap();
            assert!(i.capacity() <= 2 * i.received() + 64, "{}", i.capacity());
        }
        // Past the maximum: TOO_LARGE.
        assert_eq!(i.push(&vec![0u8; 7 << 20]).unwrap_err().code(), "TOO_LARGE");
        let b = i.finish().unwrap();
        assert_eq!(b.len(), 4_000_000);
        // Past the declared length: refused.
        let mut i = Intake::new(Some(10), max).unwrap();
        i.push(&[1; 6]).unwrap();
        assert_eq!(i.push(&[1; 6]).unwrap_err().code(), "INVALID_ARGUMENT");
        i.push_zeros(2).unwrap();
        i.push(&[9; 2]).unwrap();
        assert_eq!(
            i.finish().unwrap().as_slice(),
            &[1, 1, 1, 1, 1, 1, 0, 0, 9, 9]
        );
    }
}
