//! The allocator of agentrace's components: recycled small blocks in front of a general
//! allocator.
//!
//! Every string that crosses a component's boundary is allocated in the component and freed
//! again within the same call or the next: the host lowers each string of a batch through
//! `cabi_realloc`, the component builds its output strings, and the post-return frees them all.
//! Nearly all of these are small (attribute keys, ids, model names). Talc's allocate and
//! deallocate were 15 % of the mapping stage's samples (BENCHMARKS.md). [`QuickLists`] keeps
//! one free list per 16-byte size class up to [`LARGEST_QUICK`] bytes: freeing pushes a block
//! on its list, allocating pops one, and only a list that is empty asks the general allocator.
//! Small blocks are never given back to it, so a component's memory stays at its peak per size
//! class, which is bounded by the largest batch it has seen.
#![no_std]
#![allow(unsafe_code, reason = "a global allocator hands out raw memory")]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Blocks of this size and alignment or less are recycled through the free lists.
pub const LARGEST_QUICK: usize = 128;
/// The size classes' step, and the alignment every recycled block has.
const GRANULE: usize = 16;
/// How many size classes (16, 32, ..., 128 bytes).
const CLASSES: usize = LARGEST_QUICK / GRANULE;

/// Free lists for small blocks in front of the allocator `A` (see the crate documentation).
///
/// Not thread-safe: it is `Sync` only on single-threaded WebAssembly, where it serves as the
/// global allocator. Elsewhere (tests) it is used through a plain reference.
pub struct QuickLists<A> {
    general: A,
    /// For each size class, the most recently freed block; each free block starts with a
    /// pointer to the next.
    heads: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: single-threaded WebAssembly has one thread, so the free lists are never shared.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for QuickLists<A> {}

impl<A> QuickLists<A> {
    /// Free lists in front of `general`, all empty.
    pub const fn new(general: A) -> Self {
        Self {
            general,
            heads: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The size class of a layout, if it is small enough to be recycled.
fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= LARGEST_QUICK && layout.align() <= GRANULE)
        .then(|| layout.size().saturating_sub(1) / GRANULE)
}

/// The layout every block of size class `class` is allocated with.
fn class_layout(class: usize) -> Layout {
    // SAFETY: (class + 1) * GRANULE is at most LARGEST_QUICK, a multiple of the power-of-two
    // alignment GRANULE, far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked((class + 1) * GRANULE, GRANULE) }
}

// SAFETY: a recycled block was allocated with its class's layout, which is at least as large
// and as aligned as any layout of that class, and it is handed out to one owner at a time;
// every other layout goes to `general` unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for QuickLists<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's layout, as the caller promised.
            return unsafe { self.general.alloc(layout) };
        };
        // SAFETY: not shared between threads (see the `Sync` impl); a non-null head is a free
        // block of this class, whose first word is the next free block.
        unsafe {
            let heads = &mut *self.heads.get();
            let head = heads[class];
            if head.is_null() {
                return self.general.alloc(class_layout(class));
            }
            heads[class] = head.cast::<*mut u8>().read();
            head
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: allocated by `general` with this layout, as the caller promised.
            return unsafe { self.general.dealloc(block, layout) };
        };
        // SAFETY: the block is at least GRANULE bytes and GRANULE-aligned (its class's layout),
        // so it holds the next pointer; the caller gives it up.
        unsafe {
            let heads = &mut *self.heads.get();
            block.cast::<*mut u8>().write(heads[class]);
            heads[class] = block;
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller promises a valid block, layout and size; a new layout keeps the
        // alignment, which the caller promises fits.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            match (class_of(layout), class_of(new_layout)) {
                (None, None) => self.general.realloc(block, layout, new_size),
                (Some(old), Some(new)) if old == new => block,
                _ => {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::alloc::System;
    use std::vec::Vec;

    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_freed_small_block_is_handed_out_again_for_its_class_only() {
        let lists = QuickLists::new(System);
        unsafe {
            let first = lists.alloc(layout(20, 1));
            lists.dealloc(first, layout(20, 1));
            // Another size in the same class (17..=32 bytes) gets the same block back...
            let again = lists.alloc(layout(32, 8));
            assert_eq!(again, first);
            // ...while the class is empty now, and other classes never see it.
            let other = lists.alloc(layout(20, 1));
            assert_ne!(other, first);
            lists.dealloc(again, layout(32, 8));
            let small = lists.alloc(layout(8, 1));
            assert_ne!(small, first);
            for (block, l) in [(other, layout(20, 1)), (small, layout(8, 1))] {
                lists.dealloc(block, l);
            }
        }
    }

    #[test]
    fn blocks_are_aligned_and_keep_their_contents_when_they_grow_or_shrink() {
        let lists = QuickLists::new(System);
        unsafe {
            let mut blocks = Vec::new();
            for size in [1usize, 15, 16, 17, 64, 127, 128, 129, 4096] {
                let l = layout(size, 8);
                let block = lists.alloc(l);
                assert!(!block.is_null());
                assert_eq!(block as usize % 8, 0, "size {size}");
                for i in 0..size {
                    block.add(i).write(i as u8);
                }
                blocks.push((block, l));
            }
            for (block, l) in blocks {
                // Across classes, into and out of the general allocator, and back.
                let grown = lists.realloc(block, l, l.size() + 100);
                for i in 0..l.size() {
                    assert_eq!(grown.add(i).read(), i as u8, "grown from {}", l.size());
                }
                let kept = l.size().min(3);
                let shrunk = lists.realloc(grown, layout(l.size() + 100, 8), 3);
                for i in 0..kept {
                    assert_eq!(shrunk.add(i).read(), i as u8, "shrunk from {}", l.size());
                }
                lists.dealloc(shrunk, layout(3, 8));
            }
        }
    }

    #[test]
    fn large_or_over_aligned_layouts_go_to_the_general_allocator() {
        assert_eq!(class_of(layout(128, 16)), Some(7));
        assert_eq!(class_of(layout(129, 1)), None);
        assert_eq!(class_of(layout(16, 32)), None);
        assert_eq!(class_of(layout(0, 1)), Some(0));
    }
}
