//! Boxes for span fields, handed back from the worker to the runtime's threads.
//!
//! Every start, update and end carries its [`SpanFields`] boxed through the queue. Allocated on
//! a runtime thread and freed on the worker, each box cost a trip through the allocator's shared
//! lock, contended by both threads (measured when the struct was 1.7 KB, too big for the
//! allocator's per-thread caches; its records are boxed apart since, and it is 344 bytes; the
//! pool was not measured again at that size). The worker returns emptied boxes here instead, and reports reuse them.

use crossbeam_channel::{Receiver, Sender};

use crate::record::SpanFields;

/// Most empty boxes kept (344 KB at most).
const KEPT: usize = 1024;

/// A bounded pool of empty boxes, shared by the tracer and the worker.
#[derive(Debug, Clone)]
pub(crate) struct FieldBoxes {
    put: Sender<Box<SpanFields>>,
    take: Receiver<Box<SpanFields>>,
}

impl Default for FieldBoxes {
    fn default() -> Self {
        let (put, take) = crossbeam_channel::bounded(KEPT);
        Self { put, take }
    }
}

impl FieldBoxes {
    /// `fields` in a box, reusing an empty one when there is one.
    pub(crate) fn boxed(&self, fields: SpanFields) -> Box<SpanFields> {
        match self.take.try_recv() {
            Ok(mut empty) => {
                *empty = fields;
                empty
            }
            Err(_) => Box::new(fields),
        }
    }

    /// The fields out of their box; the box goes back to the pool (or is freed when full).
    pub(crate) fn unbox(&self, mut boxed: Box<SpanFields>) -> SpanFields {
        let fields = std::mem::take(&mut *boxed);
        let _ = self.put.try_send(boxed);
        fields
    }

    /// A box whose fields are no longer needed back to the pool, emptied (or freed when the
    /// pool is full). The worker keeps a start's box as its open span's fields until the span
    /// is mapped, then hands it back here.
    pub(crate) fn recycle(&self, mut boxed: Box<SpanFields>) {
        *boxed = SpanFields::default();
        let _ = self.put.try_send(boxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unboxed_boxes_are_reused_and_hold_only_the_new_fields() {
        let boxes = FieldBoxes::default();
        let first = boxes.boxed(SpanFields {
            provider: Some("openai".into()),
            ..SpanFields::default()
        });
        let address = &*first as *const SpanFields;
        assert_eq!(boxes.unbox(first).provider.as_deref(), Some("openai"));
        let later = SpanFields {
            conversation_id: Some("c-2".into()),
            ..SpanFields::default()
        };
        let second = boxes.boxed(later.clone());
        assert_eq!(&*second as *const SpanFields, address);
        assert_eq!(*second, later);
    }

    #[test]
    fn recycled_boxes_come_back_empty() {
        let boxes = FieldBoxes::default();
        let full = Box::new(SpanFields {
            conversation_id: Some("c-1".into()),
            ..SpanFields::default()
        });
        let address = &*full as *const SpanFields;
        boxes.recycle(full);
        // Read the pooled box itself: `boxed` would overwrite whatever it still held.
        let pooled = boxes.take.try_recv().expect("the box is back in the pool");
        assert_eq!(&*pooled as *const SpanFields, address);
        assert_eq!(*pooled, SpanFields::default());
    }
}
