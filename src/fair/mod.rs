//! Fairness between namespaces at the physical limit: who goes next when reconcile passes wait
//! for a seat ([`seats`]) and IAM calls for a token of their account's budget
//! (`crate::iam::limiter`). Both serve in one order ([`queue`]): the most urgent class first
//! (cleanup, revocation and repair; creates; rotations; routine checks), namespaces in turn
//! within a class, and anyone past a bound first, so nothing starves. Work-conserving: a
//! namespace alone gets every seat and every token.

pub(crate) mod queue;
pub(crate) mod seats;

pub(crate) use queue::{Class, FairQueue, Flow};
pub(crate) use seats::{Admission, FlowNames, Seats, runner_window};
