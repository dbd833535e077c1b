//! WATCH streams as the watch cache serves them: replay after a resourceVersion, synthetic ADDED
//! events for "0"/unset, selector transitions (ADDED/DELETED), bookmarks, timeouts, 410 ERROR events.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::gotypes::{self, Ty};
use super::handlers::{Query, encode_object, matches, res_key, selectors, wait_for_rv};
use super::resources::ResourceDef;
use super::selector::{FieldSelector, LabelSelector};
use super::server::{self, Shared};
use super::status::{ApiError, BadValue, FieldError};
use super::store::{EvType, HistEvent, set_rv};

struct Filter {
    def: Arc<ResourceDef>,
    ns: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
    meta_only: bool,
}

impl Filter {
    fn passes(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.ns {
            let ons = obj
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if ons != ns {
                return false;
            }
        }
        matches(obj, &self.ls, &self.fs)
    }

    fn line(&self, typ: &str, obj: &Value) -> Bytes {
        let mut out = String::from("{\"type\":");
        gotypes::write_str(&mut out, typ);
        out.push_str(",\"object\":");
        out.push_str(&encode_object(&self.def, obj, self.meta_only));
        out.push_str("}\n");
        Bytes::from(out)
    }

    /// The event a watcher with this filter sees for a stored change (cacheWatcher.convertToWatchEvent).
    fn convert(&self, ev: &HistEvent) -> Option<Bytes> {
        if ev.res != res_key(&self.def) {
            return None;
        }
        let cur_passes =
            ev.typ != EvType::Deleted && ev.obj.as_deref().is_some_and(|o| self.passes(o));
        let old_passes = ev.prev.as_deref().is_some_and(|o| self.passes(o));
        match (old_passes, cur_passes) {
            (false, true) => Some(self.line("ADDED", ev.obj.as_deref()?)),
            (true, true) => Some(self.line("MODIFIED", ev.obj.as_deref()?)),
            (true, false) => {
                let mut old = ev.prev.as_deref()?.clone();
                set_rv(&mut old, ev.rv);
                Some(self.line("DELETED", &old))
            }
            (false, false) => None,
        }
    }

    fn bookmark(&self, rv: u64) -> Bytes {
        let mut obj = if self.def.is_custom() {
            json!({})
        } else {
            self.def.zero_object()
        };
        obj["apiVersion"] = json!(self.def.api_version());
        obj["kind"] = json!(self.def.kind);
        obj["metadata"] = if self.def.is_custom() {
            json!({"resourceVersion": rv.to_string()})
        } else {
            json!({"resourceVersion": rv.to_string(), "creationTimestamp": null})
        };
        if self.meta_only {
            obj = json!({"metadata": obj["metadata"].clone()});
        }
        self.line("BOOKMARK", &obj)
    }
}

fn error_line(code: u16, reason: &str, message: &str) -> Bytes {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    let mut out = String::from("{\"type\":\"ERROR\",\"object\":");
    out.push_str(&gotypes::encode(&status, &Ty::Struct(&gotypes::STATUS)));
    out.push_str("}\n");
    Bytes::from(out)
}

fn validate_watch_options(q: &Query) -> Result<(), ApiError> {
    let mut errs = Vec::new();
    let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
    if q.contains_key("sendInitialEvents") {
        if rv_match != "NotOlderThan" {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        errs.push(FieldError::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        ));
    }
    if !rv_match.is_empty() {
        if !q.contains_key("sendInitialEvents") {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if rv_match != "NotOlderThan" {
            errs.push(FieldError::not_supported(
                "resourceVersionMatch",
                BadValue::Str(rv_match.clone()),
                &["NotOlderThan".into()],
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", &errs))
    }
}

/// Starts a watch; returns the receiving end of the line stream.
pub(crate) async fn watch(
    sh: Arc<Shared>,
    def: Arc<ResourceDef>,
    ns: Option<String>,
    q: Query,
    meta_only: bool,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    validate_watch_options(&q)?;
    let (ls, fs) = selectors(&def, &q)?;
    let timeout = timeout(&q)?;
    let bookmarks = q
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true" || b == "1");
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let filter = Filter {
        ns: if def.namespaced { ns } else { None },
        def,
        ls,
        fs,
        meta_only,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4096);
    let (initial, from) = match start(&sh, &filter, &rv_param).await? {
        Start::From { initial, rv } => (initial, rv),
        Start::Expired(line) => {
            let _ = tx.try_send(line);
            return Ok(rx);
        }
    };
    let reset = server::lock(&sh.watch_reset).clone();
    let watcher = Watcher {
        sh,
        filter,
        tx,
        reset,
        bookmarks,
        start_rv: from,
    };
    tokio::spawn(watcher.run(initial, timeout));
    Ok(rx)
}

/// `timeoutSeconds`: unset, empty and "0" mean the default 30 minutes.
fn timeout(q: &Query) -> Result<Duration, ApiError> {
    Ok(match q.get("timeoutSeconds") {
        Some(t) if !t.is_empty() && t != "0" => {
            let secs: u64 = t
                .parse()
                .map_err(|_| ApiError::bad_request(&format!("invalid timeoutSeconds: {t}")))?;
            Duration::from_secs(secs)
        }
        _ => Duration::from_secs(1800),
    })
}

/// Where a watch starts.
enum Start {
    /// After `rv`, having first sent `initial` (the synthetic ADDED events).
    From { initial: Vec<Bytes>, rv: u64 },
    /// The resourceVersion is older than the history: the stream is this one ERROR event.
    Expired(Bytes),
}

/// The start of a watch from `resourceVersion`: "0" or unset is the current state as ADDED
/// events, anything else replays the history after it (once the store has reached it).
async fn start(sh: &Shared, filter: &Filter, rv_param: &str) -> Result<Start, ApiError> {
    if rv_param.is_empty() || rv_param == "0" {
        let st = sh.store();
        let items = st.list(&res_key(&filter.def), filter.ns.as_deref());
        let initial = items
            .iter()
            .filter(|(_, o)| filter.passes(o))
            .map(|(_, o)| filter.line("ADDED", o))
            .collect();
        return Ok(Start::From {
            initial,
            rv: st.rev,
        });
    }
    let rv: u64 = rv_param
        .parse()
        .map_err(|_| ApiError::bad_request(&format!("invalid resource version: {rv_param}")))?;
    wait_for_rv(sh, rv).await?;
    let st = sh.store();
    if rv < st.history_start {
        return Ok(Start::Expired(error_line(
            410,
            "Expired",
            &format!("too old resource version: {rv} ({})", st.history_start),
        )));
    }
    Ok(Start::From {
        initial: Vec::new(),
        rv,
    })
}

/// The task behind one watch stream.
struct Watcher {
    sh: Arc<Shared>,
    filter: Filter,
    tx: mpsc::Sender<Bytes>,
    reset: CancellationToken,
    bookmarks: bool,
    /// The resourceVersion the watch started from: bookmarks only once something was written since.
    start_rv: u64,
}

/// When a watch sends its next bookmark and when it ends.
struct Schedule {
    deadline: Instant,
    /// Two seconds before the deadline (when that is after the start): a bookmark is due then.
    pre_timeout: Option<Instant>,
    next_bookmark: Instant,
}

impl Schedule {
    fn new(timeout: Duration, interval: Duration) -> Schedule {
        let started = Instant::now();
        let deadline = started + timeout;
        let pre_timeout = deadline
            .checked_sub(Duration::from_secs(2))
            .filter(|t| *t > started);
        let mut next_bookmark = started + interval;
        if let Some(p) = pre_timeout
            && p < next_bookmark
        {
            next_bookmark = p;
        }
        Schedule {
            deadline,
            pre_timeout,
            next_bookmark,
        }
    }

    /// After a bookmark: the next one an interval later, but no later than the pre-timeout one
    /// while that is still ahead.
    fn advance(&mut self, interval: Duration) {
        self.next_bookmark += interval;
        if let Some(p) = self.pre_timeout
            && self.next_bookmark > p
            && Instant::now() < p
        {
            self.next_bookmark = p;
        }
    }
}

/// What a delivery round leaves to do.
enum Delivered {
    /// Caught up with the store: wait for the next change.
    Idle,
    /// More was written while this batch lagged: deliver again at once.
    Behind,
    /// The stream is gone or expired.
    Done,
}

impl Watcher {
    /// Sends the initial events, then the stored changes, until the stream ends.
    async fn run(self, initial: Vec<Bytes>, timeout: Duration) {
        for l in initial {
            if self.tx.send(l).await.is_err() {
                return;
            }
        }
        let mut sched = Schedule::new(timeout, self.sh.bookmark_interval);
        let mut rev_rx = self.sh.rev_tx.subscribe();
        let mut last = self.start_rv;
        loop {
            match self.deliver(&mut last).await {
                Delivered::Idle => {}
                Delivered::Behind => continue,
                Delivered::Done => return,
            }
            if !self.wait(&mut sched, &mut rev_rx, &mut last).await {
                return;
            }
        }
    }

    /// Delivers everything stored after `last` (with a lag: what was stored `watch_lag` ago).
    async fn deliver(&self, last: &mut u64) -> Delivered {
        let target = self.sh.store().rev;
        if !self.sh.watch_lag.is_zero() && target > *last {
            tokio::time::sleep(self.sh.watch_lag).await;
        }
        let (evs, rev) = {
            let st = self.sh.store();
            (st.events_after(*last), st.rev)
        };
        match evs {
            Ok(evs) => {
                for ev in evs.iter().filter(|ev| ev.rv <= target) {
                    if let Some(line) = self.filter.convert(ev)
                        && self.tx.send(line).await.is_err()
                    {
                        return Delivered::Done;
                    }
                    *last = ev.rv;
                }
                *last = (*last).max(target);
                if rev > target {
                    // Written while this batch lagged: its own lag starts now.
                    Delivered::Behind
                } else {
                    Delivered::Idle
                }
            }
            Err(oldest) => {
                let _ = self
                    .tx
                    .send(error_line(
                        410,
                        "Expired",
                        &format!("too old resource version: {last} ({oldest})"),
                    ))
                    .await;
                Delivered::Done
            }
        }
    }

    /// Waits for a change, sending a due bookmark meanwhile; false when the stream ends (timeout,
    /// closed by the client, shutdown or a watch reset).
    async fn wait(
        &self,
        sched: &mut Schedule,
        rev_rx: &mut tokio::sync::watch::Receiver<u64>,
        last: &mut u64,
    ) -> bool {
        tokio::select! {
            changed = rev_rx.changed() => changed.is_ok(),
            _ = tokio::time::sleep_until(sched.next_bookmark), if self.bookmarks && sched.next_bookmark < sched.deadline => {
                if !self.bookmark(last).await {
                    return false;
                }
                sched.advance(self.sh.bookmark_interval);
                true
            }
            _ = tokio::time::sleep_until(sched.deadline) => {
                let rev = self.sh.store().rev;
                if self.bookmarks && rev > self.start_rv && flush(&self.sh, &self.filter, &self.tx, last).await {
                    let _ = self.tx.send(self.filter.bookmark((*last).max(rev))).await;
                }
                false
            }
            _ = self.tx.closed() => false,
            _ = self.sh.shutdown.cancelled() => false,
            _ = self.reset.cancelled() => false,
        }
    }

    /// A periodic bookmark, once something was written since the start (after the pending
    /// events); false if the stream is gone.
    async fn bookmark(&self, last: &mut u64) -> bool {
        let rev = self.sh.store().rev;
        if rev > self.start_rv && flush(&self.sh, &self.filter, &self.tx, last).await {
            return self
                .tx
                .send(self.filter.bookmark((*last).max(rev)))
                .await
                .is_ok();
        }
        true
    }
}

/// Delivers pending events before a bookmark; false if the stream is gone or expired.
async fn flush(sh: &Shared, filter: &Filter, tx: &mpsc::Sender<Bytes>, last: &mut u64) -> bool {
    let (evs, rev) = {
        let st = sh.store();
        (st.events_after(*last), st.rev)
    };
    match evs {
        Ok(evs) => {
            for ev in &evs {
                if let Some(line) = filter.convert(ev)
                    && tx.send(line).await.is_err()
                {
                    return false;
                }
                *last = ev.rv;
            }
            *last = (*last).max(rev);
            true
        }
        Err(_) => false,
    }
}
