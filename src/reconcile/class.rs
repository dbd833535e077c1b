//! Which class a pass is, told from the cached resource before anything is read: the order
//! passes get their seat in (see `crate::fair`). What the pass then decides sets the class of
//! its IAM calls (`plan::Decision::class`).

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{ROTATE_ANNOTATION, ServiceSpecificCredential};
use crate::fair::Class;

/// What a pass's class is told from: read off the resource when it enters the watch cache, so
/// that a pass waiting for its seat need not read the resource back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClassFacts {
    deleting: bool,
    /// Ready for its current generation (`None`: no status yet).
    settled: Option<bool>,
    /// The rotate annotation asks for a rotation the status does not record as handled.
    rotation_asked: bool,
    /// `status.nextRotationTime`.
    next_rotation: Option<Timestamp>,
}

impl ClassFacts {
    /// A resource whose spec and status could not be read: classed as new (or being deleted).
    pub(crate) fn unread(deleting: bool) -> ClassFacts {
        ClassFacts {
            deleting,
            settled: None,
            rotation_asked: false,
            next_rotation: None,
        }
    }

    /// `status.nextRotationTime`.
    pub(crate) fn next_rotation(&self) -> Option<Timestamp> {
        self.next_rotation
    }

    pub(crate) fn of(resource: &ServiceSpecificCredential) -> ClassFacts {
        let status = resource.status.as_ref();
        ClassFacts {
            deleting: resource.metadata.deletion_timestamp.is_some(),
            settled: status.map(|status| {
                status.ready().is_some_and(|c| c.status == "True")
                    && status.observed_generation == resource.metadata.generation
            }),
            rotation_asked: resource
                .annotations()
                .get(ROTATE_ANNOTATION)
                .is_some_and(|asked| {
                    status.and_then(|s| s.handled_rotate_request.as_ref()) != Some(asked)
                }),
            next_rotation: status
                .and_then(|s| s.next_rotation_time.as_ref())
                .map(|t| t.0),
        }
    }
}

pub(crate) fn pass_class(facts: &ClassFacts, now: Timestamp) -> Class {
    if facts.deleting {
        return Class::Urgent;
    }
    match facts.settled {
        // New, changed or failing: someone waits for it.
        None | Some(false) => Class::Create,
        Some(true) if facts.rotation_asked || facts.next_rotation.is_some_and(|at| at <= now) => {
            Class::Rotate
        }
        Some(true) => Class::Routine,
    }
}

#[cfg(test)]
mod tests;
